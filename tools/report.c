/* alae command-line tool: the training report (report.h). */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

#define REPORT_LOG_MAX ((size_t)256 << 20)     /* log.csv bytes read (about 4 million rows) */
#define REPORT_TEXT_MAX ((size_t)64 << 10)     /* train-run.txt, one metrics file */
#define REPORT_IMAGE_MAX ((size_t)16 << 20)    /* one inlined image */
#define REPORT_IMAGE_BUDGET ((size_t)24 << 20) /* all inlined images, before base64 */
#define REPORT_POINTS 500                      /* points of a plotted curve at most */
#define REPORT_METRIC_FILES 8
#define REPORT_METRICS 64 /* per file */
#define REPORT_PROGRESS 64 /* progress grids listed at most (the newest) */
#define REPORT_LEVELS 9    /* samples-lod0.png .. samples-lod8.png */
#define REPORT_PATH_MAX 4096

/* ---- the document being built ---- */

typedef struct doc {
    char *p;
    size_t len, cap;
    int failed; /* out of memory */
    size_t image_bytes; /* inlined so far */
} doc;

static void put_n(doc *d, const char *s, size_t n) {
    if (d->failed) return;
    if (d->cap - d->len < n + 1) {
        size_t cap = d->cap ? d->cap : 65536;
        while (cap - d->len < n + 1 && cap < SIZE_MAX / 2) cap *= 2;
        char *grown = cap - d->len >= n + 1 ? realloc(d->p, cap) : NULL;
        if (!grown) {
            d->failed = 1;
            return;
        }
        d->p = grown;
        d->cap = cap;
    }
    memcpy(d->p + d->len, s, n);
    d->len += n;
    d->p[d->len] = '\0';
}

static void put(doc *d, const char *s) { put_n(d, s, strlen(s)); }

static void putf(doc *d, const char *fmt, ...) {
    char buf[512];
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof buf) {
        put_n(d, buf, (size_t)n);
    } else if (n > 0) { /* longer: formatted again into a buffer of its size */
        char *big = malloc((size_t)n + 1);
        if (big && vsnprintf(big, (size_t)n + 1, fmt, again) == n) put_n(d, big, (size_t)n);
        else d->failed = 1;
        free(big);
    }
    va_end(again);
}

/* Text from a file or a path: the HTML specials as entities, control characters as U+FFFD. */
static void put_text_n(doc *d, const char *s, size_t n) {
    size_t run = 0; /* bytes to copy as they are */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *entity = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '"' ? "&quot;"
                           : c == '\'' ? "&#39;" : (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? "\xef\xbf\xbd"
                           : NULL;
        if (!entity) continue;
        put_n(d, s + run, i - run);
        put(d, entity);
        run = i + 1;
    }
    put_n(d, s + run, n - run);
}

static void put_text(doc *d, const char *s) { put_text_n(d, s, strlen(s)); }

static void put_base64(doc *d, const unsigned char *data, size_t n) {
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char chunk[4096];
    size_t at = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < n ? (uint32_t)data[i + 1] << 8 : 0) |
                     (i + 2 < n ? data[i + 2] : 0);
        chunk[at++] = digits[v >> 18 & 63];
        chunk[at++] = digits[v >> 12 & 63];
        chunk[at++] = i + 1 < n ? digits[v >> 6 & 63] : '=';
        chunk[at++] = i + 2 < n ? digits[v & 63] : '=';
        if (at == sizeof chunk) {
            put_n(d, chunk, at);
            at = 0;
        }
    }
    put_n(d, chunk, at);
}

/* dir/name into buf; 0 if it does not fit. */
static int join(char *buf, size_t cap, const char *dir, const char *name) {
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    return n > 0 && (size_t)n < cap;
}

static char *read_in(const char *dir, const char *name, size_t max, size_t *len, int *cut) {
    char path[REPORT_PATH_MAX];
    return join(path, sizeof path, dir, name) ? cli_read_regular(path, max, len, cut) : NULL;
}

/* ---- log.csv ---- */

enum { C_STEP, C_IMAGES, C_LOD, C_BLEND, C_LOSS_D, C_LOSS_G, C_LOSS_AE, C_R1, C_SECONDS, N_COLS };
static const char *const column_names[N_COLS] = {"step",   "images",  "lod", "blend",  "loss_d",
                                                 "loss_g", "loss_ae", "r1",  "seconds"};

typedef struct run_log {
    int present, has[N_COLS], fields;
    int64_t rows, skipped; /* rows kept; malformed complete lines left out */
    int partial;           /* a last line without its newline (being written) */
    int cut;               /* larger than REPORT_LOG_MAX: the rest not read */
    double *col[N_COLS];   /* [rows] each (NULL where the header lacks the column) */
} run_log;

static void free_log(run_log *lg) {
    for (int c = 0; c < N_COLS; c++) free(lg->col[c]);
}

/* The header's column of each field (-1: a column the report does not know). */
static int parse_header(run_log *lg, const char *line, size_t len, int *map, int max_fields) {
    lg->fields = 0;
    for (size_t at = 0; at <= len && lg->fields < max_fields;) {
        size_t end = at;
        while (end < len && line[end] != ',') end++;
        int c = 0;
        while (c < N_COLS && !(strlen(column_names[c]) == end - at && !memcmp(column_names[c], line + at, end - at)))
            c++;
        map[lg->fields++] = c < N_COLS ? c : -1;
        if (c < N_COLS) lg->has[c] = 1;
        at = end + 1;
    }
    return lg->has[C_STEP];
}

/* A complete line of `fields` finite numbers into row; 0 if malformed. Values beyond 1e200 (no
 * float loss reaches them) are refused too, so that sums and ranges of a plot stay finite. */
static int parse_row(const char *line, size_t len, int fields, const int *map, double *row) {
    const char *at = line, *end = line + len;
    for (int f = 0; f < fields; f++) {
        char *stop;
        if (at >= end || *at == ',' || *at == ' ') return 0;
        double v = strtod(at, &stop);
        if (stop == at || stop > end || !(fabs(v) <= 1e200) || (f + 1 < fields ? *stop != ',' : stop != end)) return 0;
        if (map[f] >= 0) row[map[f]] = v;
        at = stop + 1;
    }
    return 1;
}

#define LOG_FIELDS_MAX 32

static int read_log(const char *dir, run_log *lg) {
    memset(lg, 0, sizeof *lg);
    size_t len;
    char *text = read_in(dir, "log.csv", REPORT_LOG_MAX, &len, &lg->cut);
    if (!text) return 1;
    lg->present = 1;
    int map[LOG_FIELDS_MAX];
    char *nl = memchr(text, '\n', len);
    int64_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    if (!nl || !parse_header(lg, text, (size_t)(nl - text), map, LOG_FIELDS_MAX)) {
        lg->partial = len > 0 && !nl;
        free(text);
        return 1;
    }
    for (int c = 0; c < N_COLS; c++)
        if (lg->has[c] && lines > 0 && !(lg->col[c] = cli_alloc(lines, sizeof(double)))) {
            free(text);
            return 0;
        }
    for (char *line = nl + 1; line < text + len;) {
        char *end = memchr(line, '\n', (size_t)(text + len - line));
        if (!end) {
            lg->partial = 1;
            break;
        }
        double row[N_COLS] = {0};
        if (parse_row(line, (size_t)(end - line), lg->fields, map, row)) {
            for (int c = 0; c < N_COLS; c++)
                if (lg->has[c]) lg->col[c][lg->rows] = row[c];
            lg->rows++;
        } else if (end > line) {
            lg->skipped++;
        }
        line = end + 1;
    }
    free(text);
    return 1;
}

/* ---- plots ---- */

typedef struct series {
    const char *name, *color;
    const double *x, *y;
    int64_t n;
} series;

#define PLOT_W 720
#define PLOT_H 250
#define PLOT_LEFT 70
#define PLOT_RIGHT 16
#define PLOT_TOP 30
#define PLOT_BOTTOM 34

/* Point k of at most REPORT_POINTS: the mean of its share of the series. */
static void bucket(const series *s, int64_t k, int64_t points, double *x, double *y) {
    int64_t from = k * s->n / points, to = (k + 1) * s->n / points;
    double sx = 0, sy = 0;
    for (int64_t i = from; i < to; i++) {
        sx += s->x[i];
        sy += s->y[i];
    }
    *x = sx / (double)(to - from);
    *y = sy / (double)(to - from);
}

static int64_t points_of(const series *s) { return s->n < REPORT_POINTS ? s->n : REPORT_POINTS; }

static void plot_range(const series *s, int ns, double *x0, double *x1, double *y0, double *y1) {
    *x0 = *y0 = INFINITY;
    *x1 = *y1 = -INFINITY;
    for (int i = 0; i < ns; i++)
        for (int64_t k = 0, p = points_of(&s[i]); k < p; k++) {
            double x, y;
            bucket(&s[i], k, p, &x, &y);
            *x0 = fmin(*x0, x);
            *x1 = fmax(*x1, x);
            *y0 = fmin(*y0, y);
            *y1 = fmax(*y1, y);
        }
    if (*x1 <= *x0) *x1 = *x0 + 1;
    if (*y1 <= *y0) {
        double pad = fabs(*y0) > 0 ? fabs(*y0) * 0.5 : 1;
        *y0 -= pad;
        *y1 += pad;
    }
}

static void plot_axes(doc *d, double x0, double x1, double y0, double y1, const char *x_label) {
    const double w = PLOT_W - PLOT_LEFT - PLOT_RIGHT, h = PLOT_H - PLOT_TOP - PLOT_BOTTOM;
    putf(d, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"#fff\" stroke=\"#999\"/>\n", PLOT_LEFT,
         PLOT_TOP, w, h);
    for (int t = 0; t <= 4; t++) {
        double py = PLOT_TOP + h - h * t / 4.0, px = PLOT_LEFT + w * t / 4.0;
        putf(d, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#eee\"/>", PLOT_LEFT, py,
             PLOT_LEFT + w, py);
        putf(d, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%.4g</text>", PLOT_LEFT - 4,
             py + 4, y0 + (y1 - y0) * t / 4.0);
        putf(d, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">%.6g</text>\n", px,
             PLOT_H - PLOT_BOTTOM + 14, x0 + (x1 - x0) * t / 4.0);
    }
    putf(d, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\" fill=\"#555\">%s</text>\n",
         PLOT_LEFT + w / 2, PLOT_H - 4, x_label);
}

static void plot_series(doc *d, const series *s, int index, double x0, double x1, double y0, double y1) {
    const double w = PLOT_W - PLOT_LEFT - PLOT_RIGHT, h = PLOT_H - PLOT_TOP - PLOT_BOTTOM;
    int64_t p = points_of(s);
    putf(d, "<polyline class=\"series\" data-series=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
         s->name, s->color);
    for (int64_t k = 0; k < p; k++) {
        double x, y;
        bucket(s, k, p, &x, &y);
        putf(d, "%s%.1f,%.1f", k ? " " : "", PLOT_LEFT + w * (x - x0) / (x1 - x0), PLOT_TOP + h - h * (y - y0) / (y1 - y0));
    }
    put(d, "\"/>\n");
    if (p == 1) { /* one point: a polyline of one vertex draws nothing */
        double x, y;
        bucket(s, 0, 1, &x, &y);
        putf(d, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", PLOT_LEFT + w * (x - x0) / (x1 - x0),
             PLOT_TOP + h - h * (y - y0) / (y1 - y0), s->color);
    }
    putf(d, "<rect x=\"%d\" y=\"10\" width=\"12\" height=\"4\" fill=\"%s\"/><text x=\"%d\" y=\"16\" font-size=\"12\">%s</text>\n",
         PLOT_LEFT + index * 120, s->color, PLOT_LEFT + index * 120 + 16, s->name);
}

/* One figure: an SVG plot of the non-empty series over a shared range (names are the report's
 * own, never taken from files). */
static void plot(doc *d, const char *id, const char *title, const series *s, int ns, const char *x_label) {
    int64_t total = 0;
    for (int i = 0; i < ns; i++) total += s[i].n;
    putf(d, "<figure class=\"plot\" id=\"%s\"><figcaption>%s</figcaption>\n", id, title);
    if (total == 0) {
        put(d, "<p class=\"empty\">No data yet.</p></figure>\n");
        return;
    }
    double x0, x1, y0, y1;
    plot_range(s, ns, &x0, &x1, &y0, &y1);
    putf(d, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\">\n",
         PLOT_W, PLOT_H, PLOT_W, PLOT_H);
    plot_axes(d, x0, x1, y0, y1, x_label);
    for (int i = 0, shown = 0; i < ns; i++)
        if (s[i].n > 0) plot_series(d, &s[i], shown++, x0, x1, y0, y1);
    put(d, "</svg></figure>\n");
}

static series column(const run_log *lg, int c, const char *name, const char *color) {
    series s = {name, color, lg->col[C_STEP], lg->col[c], lg->has[c] ? lg->rows : 0};
    return s;
}

/* Images per second between consecutive rows (the first row: since the start). */
static int64_t images_per_second(const run_log *lg, double *x, double *y) {
    int64_t n = 0;
    for (int64_t i = 0; i < lg->rows; i++) {
        double di = lg->col[C_IMAGES][i] - (i ? lg->col[C_IMAGES][i - 1] : 0);
        double dt = lg->col[C_SECONDS][i] - (i ? lg->col[C_SECONDS][i - 1] : 0);
        if (dt > 0 && di >= 0) {
            x[n] = lg->col[C_STEP][i];
            y[n++] = di / dt;
        }
    }
    return n;
}

static void put_plots(doc *d, const run_log *lg) {
    put(d, "<h2>Training curves</h2>\n");
    series adv[2] = {column(lg, C_LOSS_D, "D (loss_d)", "#d62728"), column(lg, C_LOSS_G, "G (loss_g)", "#1f77b4")};
    plot(d, "plot-adversarial", "Adversarial losses: discriminator D and generator G", adv, 2, "step");
    series ae = column(lg, C_LOSS_AE, "AE (loss_ae)", "#2ca02c");
    plot(d, "plot-latent", "Latent reconstruction loss (AE): |E(G(w)) - w|", &ae, 1, "step");
    series r1 = column(lg, C_R1, "R1", "#9467bd");
    plot(d, "plot-r1", "R1 gradient penalty of D on real images", &r1, 1, "step");
    double *x = lg->rows ? cli_alloc(lg->rows, sizeof(double)) : NULL, *y = lg->rows ? cli_alloc(lg->rows, sizeof(double)) : NULL;
    series speed = {"images/s", "#ff7f0e", x, y, 0};
    if (x && y && lg->has[C_IMAGES] && lg->has[C_SECONDS]) speed.n = images_per_second(lg, x, y);
    if (lg->rows && (!x || !y)) d->failed = 1;
    plot(d, "plot-speed", "Training speed (images per second)", &speed, 1, "step");
    free(x);
    free(y);
    if (lg->has[C_LOD] || lg->has[C_BLEND]) {
        series level[2] = {column(lg, C_LOD, "lod", "#8c564b"), column(lg, C_BLEND, "blend", "#e377c2")};
        plot(d, "plot-lod", "Level of detail (lod: 4&#183;2<sup>lod</sup> px) and fade-in of the new level (blend 0 to 1)",
             level, 2, "step");
    }
}

/* ---- the summary ---- */

static void put_duration(doc *d, double seconds) {
    long s = seconds > 0 && seconds < 3.6e9 ? (long)(seconds + 0.5) : 0;
    putf(d, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
}

static void put_summary(doc *d, const run_log *lg) {
    put(d, "<h2>Summary</h2>\n");
    if (!lg->present) {
        put(d, "<p class=\"empty\">No log.csv yet.</p>\n");
        return;
    }
    if (!lg->has[C_STEP]) put(d, "<p class=\"note\">log.csv has no header with a step column yet.</p>\n");
    put(d, "<table class=\"summary\">\n");
    putf(d, "<tr><th>model</th><td>%s</td></tr>\n", lg->has[C_LOD] ? "StyleALAE (progressive)" : "MLP ALAE");
    putf(d, "<tr><th>rows in log.csv</th><td id=\"rows\">%lld</td></tr>\n", (long long)lg->rows);
    if (lg->rows > 0) {
        int64_t last = lg->rows - 1;
        putf(d, "<tr><th>step</th><td>%.0f</td></tr>\n", lg->col[C_STEP][last]);
        if (lg->has[C_IMAGES]) putf(d, "<tr><th>images trained on</th><td>%.0f</td></tr>\n", lg->col[C_IMAGES][last]);
        if (lg->has[C_SECONDS]) {
            put(d, "<tr><th>training time</th><td>");
            put_duration(d, lg->col[C_SECONDS][last]);
            put(d, "</td></tr>\n");
        }
        if (lg->has[C_LOD])
            putf(d, "<tr><th>level of detail</th><td>%.0f (%.0f px), blend %.3g</td></tr>\n", lg->col[C_LOD][last],
                 4 * pow(2, lg->col[C_LOD][last]), lg->has[C_BLEND] ? lg->col[C_BLEND][last] : 1.0);
        static const int losses[4] = {C_LOSS_D, C_LOSS_G, C_LOSS_AE, C_R1};
        for (int i = 0; i < 4; i++)
            if (lg->has[losses[i]])
                putf(d, "<tr><th>last %s</th><td>%.6g</td></tr>\n", column_names[losses[i]], lg->col[losses[i]][last]);
    }
    put(d, "</table>\n");
    if (lg->partial) put(d, "<p class=\"note\">The last line of log.csv is incomplete (being written): left out.</p>\n");
    if (lg->skipped)
        putf(d, "<p class=\"note\">%lld malformed line(s) of log.csv left out.</p>\n", (long long)lg->skipped);
    if (lg->cut) putf(d, "<p class=\"note\">log.csv is larger than %zu MiB: only its beginning is shown.</p>\n",
                      REPORT_LOG_MAX >> 20);
    if (lg->rows > REPORT_POINTS)
        putf(d, "<p class=\"note\">The curves average the %lld rows down to %d points each.</p>\n", (long long)lg->rows,
             REPORT_POINTS);
}

/* ---- settings and metrics ---- */

static void put_settings(doc *d, const char *dir) {
    put(d, "<h2>Settings (train-run.txt)</h2>\n");
    size_t len;
    int cut;
    char *text = read_in(dir, "train-run.txt", REPORT_TEXT_MAX, &len, &cut);
    if (!text) {
        put(d, "<p class=\"empty\">No train-run.txt.</p>\n");
        return;
    }
    put(d, "<pre id=\"settings\">");
    put_text_n(d, text, len);
    put(d, cut ? "\n...</pre>\n" : "</pre>\n");
    free(text);
}

static const char *skip_space(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    return p;
}

/* A JSON string without escapes beyond \" and \\ (eval's names): its raw text into name. */
static const char *json_name(const char *p, char *name, size_t cap) {
    if (*p != '"') return NULL;
    size_t n = 0;
    for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1]) p++;
        if (n + 1 < cap) name[n++] = *p;
    }
    name[n] = '\0';
    return *p == '"' ? p + 1 : NULL;
}

/* A flat JSON object of numbers, as `alae eval --out` writes it, as a table; 0 if it is not one. */
static int put_metrics_table(doc *d, const char *text) {
    doc rows = {0};
    const char *p = skip_space(text);
    int count = 0, ok = *p == '{';
    p = skip_space(p + 1);
    while (ok && *p != '}') {
        char name[128];
        p = json_name(p, name, sizeof name);
        p = p ? skip_space(p) : NULL;
        if (!p || *p != ':') {
            ok = 0;
            break;
        }
        char *end;
        double v = strtod(skip_space(p + 1), &end);
        if (end == skip_space(p + 1) || count >= REPORT_METRICS) {
            ok = 0;
            break;
        }
        put(&rows, "<tr><th>");
        put_text(&rows, name);
        putf(&rows, "</th><td>%.6g</td></tr>\n", v);
        count++;
        p = skip_space(end);
        if (*p == ',') p = skip_space(p + 1);
        else if (*p != '}') ok = 0;
    }
    if (ok && !rows.failed) {
        put(d, "<table class=\"metrics\">\n");
        if (rows.p) put(d, rows.p);
        put(d, "</table>\n");
    }
    free(rows.p);
    return ok;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The names in dir that end in suffix (sorted), at most max; the count. */
static int list_names(const char *dir, const char *suffix, char **names, int max) {
    DIR *dp = opendir(dir);
    int n = 0;
    if (!dp) return 0;
    size_t sl = strlen(suffix);
    for (struct dirent *e; (e = readdir(dp)) != NULL;) {
        size_t l = strlen(e->d_name);
        if (l <= sl || e->d_name[0] == '.' || strcmp(e->d_name + l - sl, suffix) != 0) continue;
        if (n == max) { /* keep the last ones in order: replace the smallest */
            qsort(names, (size_t)n, sizeof *names, compare_names);
            if (strcmp(e->d_name, names[0]) < 0) continue;
            free(names[0]);
            memmove(names, names + 1, (size_t)(n - 1) * sizeof *names);
            n--;
        }
        if ((names[n] = strdup(e->d_name)) != NULL) n++;
    }
    closedir(dp);
    qsort(names, (size_t)n, sizeof *names, compare_names);
    return n;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
}

static void put_metrics(doc *d, const char *dir) {
    char *names[REPORT_METRIC_FILES];
    int n = list_names(dir, ".json", names, REPORT_METRIC_FILES);
    if (n == 0) return; /* no evaluation yet: no section */
    put(d, "<h2>Evaluation metrics</h2>\n");
    for (int i = 0; i < n; i++) {
        size_t len;
        int cut;
        char *text = read_in(dir, names[i], REPORT_TEXT_MAX, &len, &cut);
        put(d, "<h3>");
        put_text(d, names[i]);
        put(d, "</h3>\n");
        if (!text || cut || strlen(text) != len || !put_metrics_table(d, text))
            put(d, "<p class=\"note\">Not a metrics file of alae eval --out (a flat JSON object of numbers).</p>\n");
        free(text);
    }
    free_names(names, n);
}

/* ---- images ---- */

static int is_png(const char *data, size_t len) { return len >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8); }

/* An image of dir/name inlined as a data: URI, or linked when the budget is spent. */
static void put_image(doc *d, const char *dir, const char *name, const char *alt, const char *cls) {
    size_t len;
    int cut;
    char *data = read_in(dir, name, REPORT_IMAGE_MAX, &len, &cut);
    if (!data) {
        put(d, "<p class=\"empty\">");
        put_text(d, name);
        put(d, ": not written yet.</p>\n");
        return;
    }
    if (cut || !is_png(data, len) || d->image_bytes + len > REPORT_IMAGE_BUDGET) {
        put(d, "<p class=\"note\"><a href=\"");
        put_text(d, name);
        put(d, "\">");
        put_text(d, name);
        put(d, is_png(data, len) ? "</a> (too large to inline)</p>\n" : "</a> (not a PNG file)</p>\n");
    } else {
        d->image_bytes += len;
        putf(d, "<img class=\"%s\" alt=\"", cls);
        put_text(d, alt);
        put(d, "\" src=\"data:image/png;base64,");
        put_base64(d, (const unsigned char *)data, len);
        put(d, "\">\n");
    }
    free(data);
}

static void put_latest_images(doc *d, const char *dir) {
    put(d, "<h2>Latest grids</h2>\n<div class=\"grids\">\n<figure><figcaption>Samples of the smoothed model from "
           "fixed latents</figcaption>\n");
    put_image(d, dir, "samples.png", "samples", "grid");
    put(d, "</figure>\n<figure><figcaption>The first images (top) above their reconstructions (bottom)</figcaption>\n");
    put_image(d, dir, "reconstructions.png", "reconstructions", "grid");
    put(d, "</figure>\n</div>\n");
}

static void put_level_images(doc *d, const char *dir) {
    int shown = 0;
    for (int k = 0; k < REPORT_LEVELS; k++) {
        char name[32], path[REPORT_PATH_MAX];
        snprintf(name, sizeof name, "samples-lod%d.png", k);
        if (!join(path, sizeof path, dir, name) || !cli_exists(path)) continue;
        if (!shown++) put(d, "<h2>Samples at the end of each level of detail</h2>\n<div class=\"grids\">\n");
        putf(d, "<figure><figcaption>lod %d (%d px)</figcaption>\n", k, 4 << k);
        put_image(d, dir, name, name, "level");
        put(d, "</figure>\n");
    }
    if (shown) put(d, "</div>\n");
}

/* progress/step-<N>-samples.png with its -reconstructions.png, oldest first. */
static void put_progress_images(doc *d, const char *dir) {
    char sub[REPORT_PATH_MAX];
    char *names[REPORT_PROGRESS];
    if (!join(sub, sizeof sub, dir, "progress")) return;
    int n = list_names(sub, "-samples.png", names, REPORT_PROGRESS);
    if (n == 0) return;
    put(d, "<h2>Progress: the samples and reconstructions of each save</h2>\n<div class=\"grids\">\n");
    for (int i = 0; i < n; i++) {
        long long step;
        char rec[64], sam[64];
        if (sscanf(names[i], "step-%lld-samples.png", &step) != 1 || strlen(names[i]) >= 48) continue;
        snprintf(sam, sizeof sam, "progress/%s", names[i]);
        snprintf(rec, sizeof rec, "progress/step-%.*s-reconstructions.png",
                 (int)(strlen(names[i]) - strlen("step--samples.png")), names[i] + 5);
        putf(d, "<figure class=\"progress\"><figcaption>step %lld</figcaption><div class=\"pair\">\n", step);
        put_image(d, dir, sam, "samples", "thumb");
        put_image(d, dir, rec, "reconstructions", "thumb");
        put(d, "</div></figure>\n");
    }
    put(d, "</div>\n");
    free_names(names, n);
}

/* ---- the document ---- */

static const char style_sheet[] =
    "body{font-family:sans-serif;margin:1.5em;max-width:1600px;color:#222}"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}"
    "figure{display:inline-block;margin:0 1.5em 1em 0;vertical-align:top}figcaption{font-size:.9em;color:#444}"
    "svg{display:block;background:#fafafa;width:560px;max-width:100%;height:auto}table{border-collapse:collapse}th,td{padding:2px 10px;text-align:left;"
    "vertical-align:top}th{font-weight:normal;color:#555}.note,.empty{color:#777;font-size:.9em}"
    "img{image-rendering:pixelated;display:block}img.grid{width:min(100%,480px)}img.level{width:256px}"
    "img.thumb{width:176px}.pair{display:flex;gap:6px}pre{background:#f4f4f4;padding:.6em}.grids{display:flex;flex-wrap:wrap}";

static void put_head(doc *d, const char *run_dir, int refresh_seconds) {
    const char *base = strrchr(run_dir, '/');
    base = base && base[1] ? base + 1 : run_dir;
    put(d, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    if (refresh_seconds > 0) putf(d, "<meta http-equiv=\"refresh\" content=\"%d\">\n", refresh_seconds);
    put(d, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>alae training report: ");
    put_text(d, base);
    putf(d, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>Training report: ", style_sheet);
    put_text(d, base);
    put(d, "</h1>\n<p class=\"note\">Run folder <code>");
    put_text(d, run_dir);
    char when[64] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    putf(d, "</code>; written by alae %s at %s", alae_version_string(), when);
    if (refresh_seconds > 0) putf(d, "; refreshes every %d s", refresh_seconds);
    put(d, ".</p>\n");
}

/* "<message>: <path>" style errors: the path with control characters as '?' (reentrant: a
 * server renders reports on worker threads, so no cli_shown and its static buffers). */
static int fail(char *err, size_t errlen, const char *fmt, const char *path, const char *why) {
    char shown[512];
    size_t n = 0;
    for (const char *p = path; *p && n + 4 < sizeof shown; p++) shown[n++] = (unsigned char)*p < 0x20 ? '?' : *p;
    if (n + 4 >= sizeof shown) memcpy(shown + n, "...", 3), n += 3;
    shown[n] = '\0';
    if (err && errlen) snprintf(err, errlen, fmt, shown, why);
    return 1;
}

int report_render_html(const char *run_dir, int refresh_seconds, char **html, size_t *len, char *err, size_t errlen) {
    *html = NULL;
    *len = 0;
    struct stat st;
    if (stat(run_dir, &st) != 0) return fail(err, errlen, "cannot open the run folder '%s': %s", run_dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return fail(err, errlen, "'%s' is %s", run_dir, "not a directory");
    if (strlen(run_dir) > REPORT_PATH_MAX - 64) return fail(err, errlen, "'%s': %s", run_dir, "the path is too long");
    run_log lg;
    doc d = {0};
    if (!read_log(run_dir, &lg)) d.failed = 1;
    put_head(&d, run_dir, refresh_seconds);
    put_summary(&d, &lg);
    put_plots(&d, &lg);
    free_log(&lg);
    put_latest_images(&d, run_dir);
    put_level_images(&d, run_dir);
    put_progress_images(&d, run_dir);
    put_metrics(&d, run_dir);
    put_settings(&d, run_dir);
    put(&d, "</body>\n</html>\n");
    if (d.failed) {
        free(d.p);
        return fail(err, errlen, "'%s': %s", run_dir, "no memory for the report");
    }
    *html = d.p;
    *len = d.len;
    return 0;
}

int report_write(const char *run_dir, char *err, size_t errlen) {
    char *html;
    size_t len;
    char path[REPORT_PATH_MAX];
    if (!join(path, sizeof path, run_dir, "report.html")) return fail(err, errlen, "'%s': %s", run_dir, "the path is too long");
    if (report_render_html(run_dir, 0, &html, &len, err, errlen) != 0) return 1;
    int e = cli_write_atomically(path, html, len);
    free(html);
    return e ? fail(err, errlen, "cannot write %s: %s", path, strerror(e)) : 0;
}
