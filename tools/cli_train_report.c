/* alae command-line tool: train's log.csv, progress bar (on a terminal) and progress lines, and
 * at each save the progress grids and report.html. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_train.h"
#include "report.h"

#define LOG_HEADER "step,images,loss_d,loss_g,loss_ae,r1,seconds\n"
#define LOG_HEADER_STYLE "step,images,lod,blend,loss_d,loss_g,loss_ae,r1,seconds\n"
#define BAR_WIDTH 24

/* ---- log.csv ---- */

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (size_t got = 1; buf && got > 0;) {
        if (cap - len < 2) {
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
        got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
    }
    fclose(f);
    if (buf) buf[len] = '\0';
    return buf;
}

/* A complete row "step,images,loss_d,loss_g,loss_ae,r1,seconds" (7 fields, newline-ended; 9 with
 * StyleALAE's lod and blend), seconds last. */
static int parse_row(const char *line, size_t len, int want_commas, int64_t *step, double *seconds) {
    int commas = 0;
    for (size_t i = 0; i < len; i++) commas += line[i] == ',';
    if (commas != want_commas || line[len] != '\n') return 0;
    char *end;
    *step = strtoll(line, &end, 10);
    if (end == line || *end != ',') return 0;
    const char *last = line + len;
    while (last > line && last[-1] != ',') last--;
    *seconds = strtod(last, &end);
    return end != last;
}

/* Rewrites the log keeping the rows up to step `upto`; seconds_before gets the last one's time. */
static int trim_log(train_run *r, const char *old, int64_t upto) {
    if (fputs(r->style ? LOG_HEADER_STYLE : LOG_HEADER, r->log) < 0) return 0;
    const char *line = strchr(old, '\n'); /* skip the old header */
    while (line && *++line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        int64_t step;
        double seconds;
        if (parse_row(line, len, r->style ? 8 : 6, &step, &seconds) && step <= upto) {
            if (fwrite(line, 1, len + 1, r->log) != len + 1) return 0;
            r->seconds_before = seconds;
        }
        line = nl;
    }
    return 1;
}

/* The new log (the old one trimmed, or a header) is written beside it and renamed over it, so a
 * crash or a full disk never leaves log.csv half rewritten; the rows of the run are appended to
 * the renamed file. */
int report_open(train_run *r) {
    char *old = r->a.resume ? read_text(r->path_log) : NULL;
    cli_replace rp;
    int rc = cli_replace_begin("train", r->path_log, &rp);
    if (rc != CLI_GO) {
        free(old);
        return rc;
    }
    r->log = rp.fp;
    int ok = old ? trim_log(r, old, (int64_t)alae_trainer_step_count(r->tr))
                 : fputs(r->style ? LOG_HEADER_STYLE : LOG_HEADER, r->log) >= 0;
    free(old);
    if (!ok) {
        cli_replace_abort(&rp);
        r->log = NULL;
        return cli_error("train", "cannot write %s", cli_shown(r->path_log));
    }
    rc = cli_replace_commit("train", &rp, 1);
    r->log = rp.fp; /* NULL if the commit failed */
    r->tty = isatty(fileno(stderr));
    return rc;
}

void train_level(const train_run *r, int32_t *lod, double *blend) {
    double l = 0, b = 1;
    if (r->style) {
        alae_trainer_get(r->tr, ALAE_TRAIN_LOD, &l);
        alae_trainer_get(r->tr, ALAE_TRAIN_BLEND, &b);
    }
    *lod = (int32_t)l;
    *blend = b;
}

void report_close(train_run *r) {
    if (r->log) fclose(r->log);
    r->log = NULL;
}

/* ---- progress ---- */

static void format_duration(double seconds, char *buf, size_t cap) {
    long s = seconds > 0 && seconds < 3.6e8 ? (long)(seconds + 0.5) : 0;
    if (s >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", s / 60, s % 60);
}

static void draw_bar(train_run *r, int64_t step) {
    int64_t done = step - r->first_step, todo = r->total - r->first_step;
    double frac = todo > 0 ? (double)done / (double)todo : 1.0;
    char bar[BAR_WIDTH + 1], eta[32];
    int fill = (int)(frac * BAR_WIDTH);
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '#' : '-';
    bar[BAR_WIDTH] = '\0';
    format_duration(r->rate > 0 ? (double)(r->total - step) * (double)r->cur_batch / r->rate : 0, eta, sizeof eta);
    double n = r->iv.steps > 0 ? (double)r->iv.steps : 1.0;
    char level[48] = "";
    if (r->style) {
        int32_t lod;
        double blend;
        train_level(r, &lod, &blend);
        snprintf(level, sizeof level, "  lod %d (%dpx) blend %.2f", (int)lod, 4 << lod, blend);
    }
    fprintf(stderr, "\rstep %lld/%lld [%s] %3d%%%s  D %.3f  G %.3f  AE %.4f  %.0f img/s  ETA %s\x1b[K",
            (long long)step, (long long)r->total, bar, (int)(frac * 100), level, r->iv.loss_d / n, r->iv.loss_g / n,
            r->iv.loss_ae / n, r->rate, eta);
    fflush(stderr);
    r->last_draw = cli_now();
}

/* Images per second over the current interval; partial: only once it has a few steps. */
static void update_rate(train_run *r, double now, int partial) {
    double dt = now - r->iv.start;
    if (r->iv.steps > 0 && dt > 0 && (!partial || r->iv.steps >= 4 || r->rate == 0))
        r->rate = (double)r->iv.images / dt;
}

/* ---- rows ---- */

static int write_row(train_run *r, int64_t step) {
    double now = cli_now(), n = (double)r->iv.steps;
    double seconds = r->seconds_before + (now - r->run_start);
    update_rate(r, now, 0);
    int32_t lod;
    double blend;
    train_level(r, &lod, &blend);
    char level[64] = "", level_csv[64] = "";
    if (r->style) {
        snprintf(level, sizeof level, "  lod %d blend %.3f", (int)lod, blend);
        snprintf(level_csv, sizeof level_csv, "%d,%.6g,", (int)lod, blend);
    }
    fprintf(r->log, "%lld,%lld,%s%.6g,%.6g,%.6g,%.6g,%.3f\n", (long long)step, (long long)r->images, level_csv,
            r->iv.loss_d / n, r->iv.loss_g / n, r->iv.loss_ae / n, r->iv.r1 / n, seconds);
    if (fflush(r->log) != 0 || ferror(r->log)) return cli_error("train", "cannot write %s", r->path_log);
    if (!r->tty)
        fprintf(stderr, "step %lld/%lld  images %lld%s  loss_d %.4f  loss_g %.4f  loss_ae %.4g  r1 %.4g  %.0f img/s  %.1f s\n",
                (long long)step, (long long)r->total, (long long)r->images, level, r->iv.loss_d / n,
                r->iv.loss_g / n, r->iv.loss_ae / n, r->iv.r1 / n, r->rate, seconds);
    else
        draw_bar(r, step);
    memset(&r->iv, 0, sizeof r->iv);
    r->iv.start = now;
    return CLI_GO;
}

void report_start(train_run *r) {
    uint64_t params = 0;
    int64_t threads = 0;
    alae_model_param_count(r->model, ALAE_PART_ALL, &params);
    alae_context_get_param(r->ctx, ALAE_CTX_THREADS, &threads);
    char ranks[96] = ""; /* data parallelism: the global batch, and what each rank takes */
    if (r->ranks > 1)
        snprintf(ranks, sizeof ranks, " (%d ranks x %lld)", (int)r->ranks, (long long)r->cur_batch);
    r->first_step = (int64_t)alae_trainer_step_count(r->tr);
    r->images_at_start = r->images;
    fprintf(stderr,
            "alae train: %s, %.2fM parameters; %lld images, %lld steps per epoch, batch %lld%s; %s step %lld to %lld; "
            "threads: %lld; step memory: %.0f MiB\n",
            r->a.preset, (double)params / 1e6, (long long)r->count,
            (long long)(r->count / (r->cur_batch * r->ranks)), (long long)(r->cur_batch * r->ranks), ranks,
            r->a.resume ? "resuming at" : "from", (long long)r->first_step, (long long)r->total, (long long)threads,
            (double)r->step_bytes / 1048576.0);
    r->run_start = r->iv.start = cli_now();
}

int report_step(train_run *r, const alae_step_stats *st) {
    r->iv.loss_d += st->loss_d;
    r->iv.loss_g += st->loss_g;
    r->iv.loss_ae += st->loss_ae;
    r->iv.r1 += st->r1;
    r->iv.steps++;
    r->iv.images += r->cur_batch * r->ranks;
    int64_t step = (int64_t)st->step;
    if (step % r->a.report_every == 0) return write_row(r, step);
    double now = cli_now();
    if (r->tty && now - r->last_draw >= 0.1) {
        update_rate(r, now, 1);
        draw_bar(r, step);
    }
    return CLI_GO;
}

int report_flush(train_run *r) {
    return r->iv.steps > 0 ? write_row(r, (int64_t)alae_trainer_step_count(r->tr)) : CLI_GO;
}

void report_end(train_run *r, int signal) {
    int64_t step = (int64_t)alae_trainer_step_count(r->tr), done = step - r->first_step;
    double dt = cli_now() - r->run_start;
    if (r->tty) fputc('\n', stderr);
    if (signal)
        fprintf(stderr, "alae train: stopped by signal %d at step %lld; saved %s (continue with --resume)\n", signal,
                (long long)step, cli_shown(r->path_state));
    else if (done == 0)
        fprintf(stderr, "alae train: the state is already at step %lld of %lld; wrote the outputs again\n",
                (long long)step, (long long)r->total);
    else
        fprintf(stderr, "alae train: %lld steps in %.1f s (%.0f img/s); wrote %s/{model.safetensors,"
                        "train-state.safetensors,log.csv,samples.png,reconstructions.png,report.html}\n",
                (long long)done, dt, dt > 0 ? (double)(r->images - r->images_at_start) / dt : 0.0,
                cli_shown(r->a.out));
}

/* ---- progress grids and report.html (at every save) ---- */

#define PROGRESS_LISTED 256 /* pairs looked at when thinning (the tool keeps CLI_TRAIN_PROGRESS) */

/* The steps of the pairs in DIR/progress, ascending; their count. */
static int progress_steps(const char *dir, int64_t *steps, int max) {
    DIR *dp = opendir(dir);
    int n = 0;
    if (!dp) return 0;
    for (struct dirent *e; (e = readdir(dp)) != NULL && n < max;) {
        long long step;
        char tail[32];
        if (sscanf(e->d_name, "step-%lld-%31s", &step, tail) == 2 && !strcmp(tail, "samples.png") && step >= 0)
            steps[n++] = step;
    }
    closedir(dp);
    for (int i = 1; i < n; i++) /* insertion sort: a few dozen */
        for (int j = i; j > 0 && steps[j - 1] > steps[j]; j--) {
            int64_t t = steps[j];
            steps[j] = steps[j - 1];
            steps[j - 1] = t;
        }
    return n;
}

/* dir/step-<step>-<what>.png (empty if it does not fit: nothing is written or removed). */
static void progress_path(char *buf, size_t cap, const char *dir, int64_t step, const char *what) {
    int n = snprintf(buf, cap, "%s/step-%09lld-%s.png", dir, (long long)step, what);
    if (n < 0 || (size_t)n >= cap) buf[0] = '\0';
}

static void remove_progress(const char *dir, int64_t step) {
    char path[CLI_PATH_MAX];
    progress_path(path, sizeof path, dir, step, "samples");
    unlink(path);
    progress_path(path, sizeof path, dir, step, "reconstructions");
    unlink(path);
}

/* Removes pairs past `step` and, beyond `keep`, the inner pair whose neighbours are closest. */
static void thin_progress(const char *dir, int64_t step, int keep) {
    int64_t steps[PROGRESS_LISTED];
    int n = progress_steps(dir, steps, PROGRESS_LISTED);
    while (n > 0 && steps[n - 1] > step) remove_progress(dir, steps[--n]);
    while (n > keep && n > 2) {
        int best = 1;
        for (int i = 2; i < n - 1; i++)
            if (steps[i + 1] - steps[i - 1] < steps[best + 1] - steps[best - 1]) best = i;
        remove_progress(dir, steps[best]);
        memmove(steps + best, steps + best + 1, (size_t)(n - best - 1) * sizeof *steps);
        n--;
    }
}

/* Copies the grid `from` to dir/step-<step>-<what>.png; 0, or an errno value after a warning. */
static int copy_grid(const char *from, const char *dir, int64_t step, const char *what) {
    char to[CLI_PATH_MAX];
    size_t len;
    progress_path(to, sizeof to, dir, step, what);
    errno = 0;
    char *data = to[0] ? cli_read_regular(from, (size_t)1 << 30, &len, NULL) : NULL;
    int e = !to[0] ? ENAMETOOLONG : !data ? (errno ? errno : EIO) : cli_write_atomically(to, data, len);
    free(data);
    if (e) fprintf(stderr, "alae train: warning: cannot copy %s to %s: %s\n", cli_shown(from), cli_shown(to),
                   strerror(e));
    return e;
}

static void save_progress(train_run *r, int64_t step) {
    char dir[CLI_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/progress", r->a.out); /* fits: make_paths checked longer names */
    int e = cli_mkdirs(dir);
    if (e) fprintf(stderr, "alae train: warning: cannot create %s: %s\n", cli_shown(dir), strerror(e));
    if (!e) e = copy_grid(r->path_samples, dir, step, "samples");
    if (!e) copy_grid(r->path_recon, dir, step, "reconstructions");
    thin_progress(dir, step, CLI_TRAIN_PROGRESS);
}

/* ALAE_REPORT_SECONDS, else CLI_REPORT_SECONDS. */
static double report_seconds(void) {
    const char *text = getenv("ALAE_REPORT_SECONDS");
    char *end;
    double v = text ? strtod(text, &end) : -1;
    return text && *text && !*end && v >= 0 && v <= 1e9 ? v : CLI_REPORT_SECONDS;
}

void report_save(train_run *r, int64_t step) {
    double now = cli_now();
    if (!r->final_save && r->last_report > 0 && now - r->last_report < report_seconds()) return;
    r->last_report = now;
    save_progress(r, step);
    char err[512];
    if (report_write(r->a.out, err, sizeof err) != 0) fprintf(stderr, "alae train: warning: %s\n", err);
}
