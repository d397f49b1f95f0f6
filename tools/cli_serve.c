/* alae serve: a local web studio and HTTP API over one model (docs/serve.md). This file is the
 * command: options, start-up (one model per worker, the sliders' directions or the principal
 * components of W), signals and shutdown. serve.h lists the other parts. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "report.h"
#include "serve.h"

static const char serve_usage[] =
    "usage: alae serve --model M [--directions dirs.safetensors] [--port 8080] [--bind 127.0.0.1]\n"
    "                  [--threads T] [--workers N] [--queue Q]\n"
    "       alae serve --run DIR [--refresh 10] [--port 8080] [--bind 127.0.0.1]\n"
    "\n"
    "Serves a model to a browser (a page to encode, reconstruct, edit with sliders, invert, mix\n"
    "and interpolate images) and to other programs (an HTTP API under /api/, docs/serve.md) until\n"
    "SIGINT or SIGTERM. The page is part of the program: nothing else is read at run time.\n"
    "With --run, serves the training report of an 'alae train' run folder instead (the page of\n"
    "'alae report', made afresh for every request and reloading itself: a run in progress).\n"
    "\n"
    "  --model M          the model file\n"
    "  --run DIR          the output folder of an 'alae train' run (instead of --model)\n"
    "  --refresh S        with --run: the page reloads itself every S seconds, 1..3600 (10)\n"
    "  --directions D     attribute directions for the sliders ('alae directions'); without it the\n"
    "                     sliders move along the first principal components of W (from F(z) samples)\n"
    "  --port P           TCP port, 0..65535; 0 picks a free one (8080)\n"
    "  --bind A           the IPv4 or IPv6 address to listen on (127.0.0.1: this machine only; any\n"
    "                     other address is reachable by others and gets a warning: there is no\n"
    "                     authentication)\n"
    "  --threads T        compute threads per worker, 1..256 (the online CPUs / workers)\n"
    "  --workers N        requests run at once, each worker with its own copy of the model, 1..64 (2)\n"
    "  --queue Q          requests that may wait for a worker, 1..4096 (64); more get 503\n";

#ifndef ALAE_HAVE_MHD

int cli_cmd_serve(int argc, char **argv) {
    const char *model = NULL, *dirs = NULL, *bind = NULL, *run = NULL;
    int64_t port = 8080, threads = 0, workers = 2, queue = 64, refresh = 10;
    cli_opt opts[] = {
        {"--model", CLI_STR, &model, 0, 0, 0},       {"--directions", CLI_STR, &dirs, 0, 0, 0},
        {"--run", CLI_STR, &run, 0, 0, 0},           {"--refresh", CLI_INT, &refresh, 1, 3600, 0},
        {"--port", CLI_INT, &port, 0, 65535, 0},     {"--bind", CLI_STR, &bind, 0, 0, 0},
        {"--threads", CLI_INT, &threads, 1, 256, 0}, {"--workers", CLI_INT, &workers, 1, 64, 0},
        {"--queue", CLI_INT, &queue, 1, 4096, 0},
    };
    int rc = cli_parse("serve", serve_usage, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]));
    if (rc != CLI_GO) return rc;
    return cli_error("serve", "this alae was built without libmicrohttpd (install libmicrohttpd-dev, then "
                              "configure and build again)");
}

#else

typedef struct serve_options {
    const char *model, *directions, *bind, *run;
    int64_t port, threads, workers, queue, refresh;
} serve_options;

/* ---- the sliders ---- */

#define SAMPLES 512 /* F(z) samples for the principal components and the spreads */

/* w = F(z) for SAMPLES standard normal z (seed 1). */
static alae_status sample_w(serve_worker *w, float **codes) {
    int32_t latent = w->shared->g.latent;
    float *z = cli_alloc(SAMPLES, (size_t)latent * sizeof(float));
    *codes = cli_alloc(SAMPLES, (size_t)latent * sizeof(float));
    alae_status s = z && *codes ? cli_normal_latents(w->ctx, 1, SAMPLES, latent, z) : ALAE_E_NOMEM;
    cli_shape ls = cli_latent_shape(&w->shared->g);
    if (s == ALAE_OK) s = cli_apply(w->ctx, w->model, alae_model_map, SAMPLES, z, &ls, *codes, &ls);
    free(z);
    return s;
}

/* The standard deviation of the codes along unit vector v. */
static double spread_along(const float *codes, int32_t latent, const float *v) {
    double sum = 0, sum2 = 0;
    for (int64_t i = 0; i < SAMPLES; i++) {
        double p = 0;
        for (int32_t j = 0; j < latent; j++) p += (double)codes[i * latent + j] * v[j];
        sum += p;
        sum2 += p * p;
    }
    double mean = sum / SAMPLES, var = sum2 / SAMPLES - mean * mean;
    return var > 1e-12 ? sqrt(var) : 1.0;
}

/* The covariance [latent, latent] of the codes. */
static double *covariance(const float *codes, int32_t latent) {
    double *mean = calloc((size_t)latent, sizeof *mean), *cov = cli_alloc((int64_t)latent * latent, sizeof *cov);
    if (!mean || !cov) {
        free(mean);
        free(cov);
        return NULL;
    }
    memset(cov, 0, (size_t)latent * (size_t)latent * sizeof *cov);
    for (int64_t i = 0; i < SAMPLES; i++)
        for (int32_t j = 0; j < latent; j++) mean[j] += codes[i * latent + j] / (double)SAMPLES;
    for (int64_t i = 0; i < SAMPLES; i++)
        for (int32_t a = 0; a < latent; a++) {
            double da = codes[i * latent + a] - mean[a];
            for (int32_t b = 0; b <= a; b++) cov[a * latent + b] += da * (codes[i * latent + b] - mean[b]) / SAMPLES;
        }
    for (int32_t a = 0; a < latent; a++)
        for (int32_t b = 0; b < a; b++) cov[b * latent + a] = cov[a * latent + b];
    free(mean);
    return cov;
}

/* Component k of cov by power iteration, orthogonal to the k found before (in dirs). */
static void power_iteration(const double *cov, int32_t latent, serve_direction *dirs, int k, double *v, double *tmp) {
    for (int32_t j = 0; j < latent; j++) v[j] = 1.0 + 0.01 * ((j * 7 + k * 13) % 17);
    for (int iter = 0; iter < 300; iter++) {
        for (int prev = 0; prev < k; prev++) {
            double dot = 0;
            for (int32_t j = 0; j < latent; j++) dot += v[j] * dirs[prev].vector[j];
            for (int32_t j = 0; j < latent; j++) v[j] -= dot * dirs[prev].vector[j];
        }
        double norm = 0;
        for (int32_t a = 0; a < latent; a++) {
            double sum = 0;
            for (int32_t b = 0; b < latent; b++) sum += cov[a * latent + b] * v[b];
            tmp[a] = sum;
            norm += sum * sum;
        }
        norm = sqrt(norm);
        if (norm < 1e-30) break;
        for (int32_t j = 0; j < latent; j++) v[j] = tmp[j] / norm;
    }
}

/* The first principal components of W as the sliders. */
static int principal_components(serve_shared *sh, const float *codes) {
    int32_t latent = sh->g.latent;
    int k_max = latent < SERVE_PCA_COMPONENTS ? latent : SERVE_PCA_COMPONENTS;
    double *cov = covariance(codes, latent), *v = calloc((size_t)latent, sizeof *v), *tmp = calloc((size_t)latent, sizeof *tmp);
    int rc = cov && v && tmp ? 0 : -1;
    for (int k = 0; rc == 0 && k < k_max; k++) {
        serve_direction *d = &sh->dirs[k];
        if (!(d->vector = malloc((size_t)latent * sizeof(float)))) {
            rc = -1;
            break;
        }
        power_iteration(cov, latent, sh->dirs, k, v, tmp);
        for (int32_t j = 0; j < latent; j++) d->vector[j] = (float)v[j];
        snprintf(d->name, sizeof d->name, "pc%d", k + 1);
        d->accuracy = NAN;
        d->sigma = spread_along(codes, latent, d->vector);
        sh->n_dirs = k + 1;
    }
    sh->directions_are_components = 1;
    free(cov);
    free(v);
    free(tmp);
    return rc;
}

static int load_directions(serve_shared *sh, const char *path, const float *codes) {
    alae_directions *set = NULL;
    alae_status s = alae_directions_load(path, &set);
    if (s != ALAE_OK) return cli_fail_file("serve", s, path);
    int rc = CLI_GO;
    if (alae_directions_dim(set) != sh->g.latent) {
        rc = cli_error("serve", "%s: directions of %lld dimensions, the model's W has %d", cli_shown(path),
                       (long long)alae_directions_dim(set), sh->g.latent);
    }
    int64_t n = alae_directions_count(set);
    if (rc == CLI_GO && n > SERVE_MAX_DIRECTIONS)
        fprintf(stderr, "alae serve: %s holds %lld directions; the first %d get sliders\n", cli_shown(path),
                (long long)n, SERVE_MAX_DIRECTIONS);
    for (int64_t i = 0; rc == CLI_GO && i < n && i < SERVE_MAX_DIRECTIONS; i++) {
        serve_direction *d = &sh->dirs[i];
        const char *name;
        if (!(d->vector = malloc((size_t)sh->g.latent * sizeof(float)))) {
            rc = cli_error("serve", "out of memory");
            break;
        }
        s = alae_directions_get(set, i, &name, d->vector, &d->accuracy);
        if (s != ALAE_OK) {
            rc = cli_fail("serve", s);
            break;
        }
        snprintf(d->name, sizeof d->name, "%s", name);
        d->sigma = spread_along(codes, sh->g.latent, d->vector);
        sh->n_dirs = (int)i + 1;
    }
    alae_directions_destroy(set);
    return rc;
}

static void free_directions(serve_shared *sh) {
    for (int i = 0; i < SERVE_MAX_DIRECTIONS; i++) free(sh->dirs[i].vector);
}

/* ---- models ---- */

static int describe_model(serve_shared *sh, alae_model *model) {
    double arch = 0, rows = 0, levels = 0;
    alae_model_config *cfg = NULL;
    alae_status s = cli_model_geometry(model, &sh->g);
    if (s == ALAE_OK) s = alae_model_get(model, ALAE_MODEL_STYLE_COUNT, &rows);
    if (s == ALAE_OK) s = alae_model_get(model, ALAE_MODEL_LEVELS, &levels);
    if (s == ALAE_OK) s = alae_model_get_config(model, &cfg);
    if (s == ALAE_OK) s = alae_model_config_get(cfg, ALAE_CFG_ARCH, &arch);
    alae_model_config_destroy(cfg);
    if (s != ALAE_OK) return cli_fail("serve", s);
    sh->arch = (int32_t)arch;
    sh->style_rows = (int32_t)rows;
    sh->levels = (int32_t)levels;
    return CLI_GO;
}

/* Loads worker i's copy of the model: noise maps shared by a batch, drawn from the seed each
 * request sets. */
static int load_worker(const serve_options *o, serve_shared *sh, int i, serve_worker *w) {
    w->index = i;
    w->shared = sh;
    int rc = cli_load_model("serve", o->model, o->threads, &w->ctx, &w->model);
    if (rc == CLI_GO && i == 0) rc = describe_model(sh, w->model);
    if (rc == CLI_GO && sh->arch == ALAE_ARCH_STYLE) rc = cli_set_noise("serve", w->model, ALAE_NOISE_BATCH_CONSTANT);
    return rc;
}

static void free_workers(serve_worker *workers, int n) {
    for (int i = 0; i < n; i++) {
        alae_model_destroy(workers[i].model);
        alae_context_destroy(workers[i].ctx);
    }
}

static int make_upload_dir(serve_shared *sh) {
    const char *tmp = getenv("TMPDIR");
    snprintf(sh->upload_dir, sizeof sh->upload_dir, "%s/alae-serve-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(sh->upload_dir)) return cli_error("serve", "cannot create a folder for uploads under %s", cli_shown(tmp && *tmp ? tmp : "/tmp"));
    return CLI_GO;
}

static int is_loopback(const char *bind) {
    return strncmp(bind, "127.", 4) == 0 || strcmp(bind, "::1") == 0;
}

/* ---- running ---- */

static sigset_t block_stop_signals(void) {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* before any thread starts: they inherit the mask */
    return stop;
}

static void print_listening(const serve_options *o, const char *name, const char *details, int port) {
    int v6 = strchr(o->bind, ':') != NULL;
    printf("alae serve: %s on http://%s%s%s:%d/ (%s)\n", name, v6 ? "[" : "", o->bind, v6 ? "]" : "", port, details);
    if (!is_loopback(o->bind))
        fprintf(stderr, "alae serve: warning: listening on %s, which other machines may reach; the server has no "
                        "authentication\n", cli_shown(o->bind));
    fflush(stdout);
}

static void wait_for_stop(sigset_t *stop) {
    int sig = 0;
    sigwait(stop, &sig);
    printf("alae serve: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(stdout);
}

/* --run: "/" is the run's report, rendered on every request (log.csv may be growing). */
typedef struct run_view {
    const char *dir;
    int refresh;
} run_view;

static int render_run(void *arg, char **html, size_t *len, char *err, size_t errlen) {
    const run_view *v = arg;
    return report_render_html(v->dir, v->refresh, html, len, err, errlen);
}

static int serve_run(const serve_options *o) {
    struct stat st;
    if (stat(o->run, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_error("serve", "--run %s is not a folder (give the --out folder of 'alae train')", cli_shown(o->run));
    sigset_t stop = block_stop_signals();
    run_view view = {o->run, (int)o->refresh};
    serve_http_config cfg = {o->bind, (int)o->port, 64, render_run, &view};
    static const serve_shared no_model; /* the API answers 404: there is no model */
    char err[512];
    int port = 0;
    serve_http *http = serve_http_start(&cfg, NULL, &no_model, &port, err, sizeof err);
    if (!http) return cli_error("serve", "%s", err);
    char details[64];
    snprintf(details, sizeof details, "a training run's report, reloading every %d s", (int)o->refresh);
    print_listening(o, cli_shown(o->run), details, port);
    wait_for_stop(&stop);
    serve_http_stop(http);
    return CLI_OK;
}

/* Serves until SIGINT or SIGTERM (blocked in every thread, taken here). */
static int serve_until_signal(const serve_options *o, serve_shared *sh, serve_worker *workers) {
    sigset_t stop = block_stop_signals();
    serve_pool *pool = serve_pool_create(workers, (int)o->workers, (int)o->queue);
    if (!pool) return cli_error("serve", "cannot start %lld worker threads", (long long)o->workers);
    serve_http_config cfg = {o->bind, (int)o->port, (int)(o->workers + o->queue + 16), NULL, NULL};
    char err[512];
    int port = 0;
    serve_http *http = serve_http_start(&cfg, pool, sh, &port, err, sizeof err);
    if (!http) {
        serve_pool_destroy(pool);
        return cli_error("serve", "%s", err);
    }
    char details[256];
    snprintf(details, sizeof details, "%lld worker%s, %lld thread%s each, %s sliders", (long long)o->workers, o->workers == 1 ? "" : "s", (long long)o->threads, o->threads == 1 ? "" : "s",
             sh->directions_are_components ? "principal-component" : "direction");
    print_listening(o, sh->model_name, details, port);
    wait_for_stop(&stop);
    serve_pool_abort(pool);  /* running model work ends at its next op */
    serve_http_stop(http);   /* waits for the connections, whose jobs the pool still finishes */
    serve_pool_destroy(pool); /* and the models and contexts */
    return CLI_OK;
}

static int64_t default_threads(int64_t workers) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t t = cpus > 0 ? cpus / workers : 1;
    return t < 1 ? 1 : t > 256 ? 256 : t;
}

static int start(serve_options *o) {
    static serve_shared sh; /* read by every thread until they stop */
    memset(&sh, 0, sizeof sh);
    const char *slash = strrchr(o->model, '/');
    sh.model_name = slash ? slash + 1 : o->model;
    if (o->threads == 0) o->threads = default_threads(o->workers);
    serve_worker *workers = calloc((size_t)o->workers, sizeof *workers);
    if (!workers) return cli_error("serve", "out of memory");
    int loaded = 0, rc = CLI_GO;
    float *codes = NULL;
    rc = load_worker(o, &sh, 0, &workers[0]);
    if (rc == CLI_GO) loaded = 1;
    if (rc == CLI_GO) {
        alae_status s = sample_w(&workers[0], &codes);
        if (s != ALAE_OK) rc = cli_fail("serve", s);
    }
    if (rc == CLI_GO && o->directions) rc = load_directions(&sh, o->directions, codes);
    if (rc == CLI_GO && !o->directions && principal_components(&sh, codes) != 0) rc = cli_error("serve", "out of memory");
    free(codes);
    for (int i = 1; rc == CLI_GO && i < o->workers; i++, loaded++) rc = load_worker(o, &sh, i, &workers[i]);
    if (rc == CLI_GO) rc = make_upload_dir(&sh);
    if (rc == CLI_GO) {
        rc = serve_until_signal(o, &sh, workers); /* the pool owns (and zeroes) the workers it takes */
        rmdir(sh.upload_dir);
    }
    free_workers(workers, loaded);
    free(workers);
    free_directions(&sh);
    return rc;
}

int cli_cmd_serve(int argc, char **argv) {
    serve_options o = {NULL, NULL, "127.0.0.1", NULL, 8080, 0, 2, 64, 10};
    cli_opt opts[] = {
        {"--model", CLI_STR, &o.model, 0, 0, 0},       {"--directions", CLI_STR, &o.directions, 0, 0, 0},
        {"--run", CLI_STR, &o.run, 0, 0, 0},           {"--refresh", CLI_INT, &o.refresh, 1, 3600, 0},
        {"--port", CLI_INT, &o.port, 0, 65535, 0},     {"--bind", CLI_STR, &o.bind, 0, 0, 0},
        {"--threads", CLI_INT, &o.threads, 1, 256, 0}, {"--workers", CLI_INT, &o.workers, 1, 64, 0},
        {"--queue", CLI_INT, &o.queue, 1, 4096, 0},
    };
    const int n = (int)(sizeof opts / sizeof opts[0]);
    int rc = cli_parse("serve", serve_usage, argc, argv, opts, n);
    if (rc != CLI_GO) return rc;
    if (o.run && (o.model || o.directions))
        return cli_error("serve", "--run serves a training run's report; give it without --model and --directions");
    if (o.run) return serve_run(&o);
    static const char *const required[] = {"--model"};
    rc = cli_require("serve", opts, n, required, 1);
    if (rc != CLI_GO) return rc;
    return start(&o);
}

#endif
