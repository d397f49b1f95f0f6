/* alae command-line tool: report, the training report of a run folder written on demand. */
#include <stdio.h>

#include "cli.h"
#include "report.h"

static const char report_usage[] =
    "usage: alae report --run DIR\n"
    "\n"
    "Writes DIR/report.html, the training report of a run folder of 'alae train' (which writes it\n"
    "itself at its saves and at the end): the loss curves, images/s, the level-of-detail schedule,\n"
    "the grids saved during training, the evaluation metrics of DIR/*.json and the settings, in one\n"
    "self-contained HTML file (inline SVG plots and images, no scripts, no network).\n"
    "\n"
    "  --run DIR   the output directory (--out) of an 'alae train' run\n";

int cli_cmd_report(int argc, char **argv) {
    const char *run = NULL;
    cli_opt opts[] = {{"--run", CLI_STR, &run, 0, 0, 0}};
    const char *required[] = {"--run"};
    int rc = cli_parse("report", report_usage, argc, argv, opts, 1);
    if (rc == CLI_GO) rc = cli_require("report", opts, 1, required, 1);
    if (rc != CLI_GO) return rc;
    char err[512];
    if (report_write(run, err, sizeof err) != 0) return cli_error("report", "%s", err);
    printf("wrote %s/report.html\n", cli_shown(run));
    return CLI_OK;
}
