/* alae command-line tool: the training report, one self-contained HTML file about a run folder
 * of `alae train` (docs/training-guide.md, "The training report").
 *
 * It reads DIR/log.csv (a partial last line, as while the run writes it, is left out), the grids
 * DIR/samples.png, DIR/reconstructions.png, DIR/samples-lod<k>.png and DIR/progress/, the settings
 * in DIR/train-run.txt and the metrics of DIR/<name>.json (as `alae eval --out` writes them), and
 * shows them with inline SVG plots and images inlined as data: URIs: no scripts, no network.
 * Everything taken from the files is escaped; long logs are averaged down to a bounded number of
 * points per curve, and images past a total budget (24 MiB) are linked by their path relative to
 * DIR instead of inlined (a server showing the document must serve those or leave them broken).
 * Both functions are reentrant (no static buffers): a server may render on several threads. */
#ifndef ALAE_REPORT_H
#define ALAE_REPORT_H

#include <stddef.h>

/* The report of run_dir as a malloc'd NUL-terminated document (*len bytes, without the NUL).
 * refresh_seconds > 0 adds <meta http-equiv="refresh"> (a live view of a run in progress).
 * 0 on success; nonzero with a message in err otherwise (run_dir is not a directory, no
 * memory), *html then NULL. Missing or unreadable files are not errors: the report says so. */
int report_render_html(const char *run_dir, int refresh_seconds, char **html, size_t *len, char *err, size_t errlen);

/* Renders the report of run_dir and writes it to run_dir/report.html atomically (a temporary
 * file renamed into place). 0 on success; nonzero with a message in err otherwise. */
int report_write(const char *run_dir, char *err, size_t errlen);

#endif /* ALAE_REPORT_H */
