/* alae serve: the /api/ routes. Each handler reads its request, runs the model of the worker it
 * was given through the public API, and fills the reply (serve.h, docs/serve.md). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

/* ---- replies ---- */

int serve_reply_error(serve_reply *rp, int status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    serve_buf b = {0};
    serve_buf_str(&b, "{\"error\": ");
    serve_buf_json_string(&b, msg);
    serve_buf_str(&b, "}\n");
    free(rp->body);
    rp->body = NULL;
    rp->len = 0;
    rp->filename = NULL;
    if (b.failed) {
        serve_buf_free(&b);
        rp->status = 500;
        rp->content_type = "text/plain";
        return status;
    }
    rp->status = status;
    rp->content_type = "application/json";
    rp->body = (uint8_t *)b.data;
    rp->len = b.len;
    return status;
}

void serve_reply_buf(serve_reply *rp, int status, const char *content_type, serve_buf *b) {
    if (b->failed) {
        serve_buf_free(b);
        serve_reply_error(rp, 500, "out of memory");
        return;
    }
    free(rp->body);
    rp->status = status;
    rp->content_type = content_type;
    rp->body = (uint8_t *)b->data;
    rp->len = b->len;
    memset(b, 0, sizeof *b);
}

/* A failed library call: 503 when shutdown aborted it, else 500 with the library's message. */
static void library_error(serve_reply *rp, alae_status s, const char *what) {
    if (s == ALAE_E_ABORTED)
        serve_reply_error(rp, 503, "the server is shutting down");
    else if (s == CLI_E_NONFINITE)
        serve_reply_error(rp, 500, "%s: the model's output is not finite", what);
    else
        serve_reply_error(rp, 500, "%s: %s", what, alae_last_error()[0] ? alae_last_error() : alae_status_string(s));
}

/* ---- reading requests ---- */

typedef enum reply_format { FORMAT_PNG, FORMAT_JSON, FORMAT_NPY } reply_format;

/* ?format=: one of the allowed ones (a bit mask of 1 << FORMAT_*), dflt when absent; -1 after a
 * 400. */
static int read_format(const serve_request *rq, unsigned allowed, reply_format dflt, serve_reply *rp) {
    static const char *const names[] = {"png", "json", "npy"};
    if (!rq->format) return (int)dflt;
    for (int f = 0; f < 3; f++)
        if ((allowed & (1u << f)) && strcmp(rq->format, names[f]) == 0) return f;
    serve_buf b = {0};
    for (int f = 0; f < 3; f++)
        if (allowed & (1u << f)) serve_buf_printf(&b, "%s'%s'", b.len ? ", " : "", names[f]);
    serve_reply_error(rp, 400, "unknown format '%.40s': this route answers %s", rq->format, b.data ? b.data : "");
    serve_buf_free(&b);
    return -1;
}

/* The JSON object of the body ({} when the body is empty and empty_ok). 0, or -1 after a 400. */
static int read_json_body(const serve_request *rq, int empty_ok, json_value *v, serve_reply *rp) {
    if (rq->body_len == 0) {
        if (!empty_ok) return serve_reply_error(rp, 400, "the request needs a JSON object as its body"), -1;
        memset(v, 0, sizeof *v);
        v->type = JSON_OBJECT;
        return 0;
    }
    char err[160];
    if (json_parse((const char *)rq->body, rq->body_len, v, err, sizeof err) != 0)
        return serve_reply_error(rp, 400, "%s", err), -1;
    if (v->type != JSON_OBJECT) {
        json_free(v);
        return serve_reply_error(rp, 400, "the body must be a JSON object"), -1;
    }
    return 0;
}

/* A code: an array of exactly `latent` finite numbers. 0, or -1 after a 400. */
static int read_code(const json_value *v, const char *name, int32_t latent, float *out, serve_reply *rp) {
    if (!v) return serve_reply_error(rp, 400, "'%s' is missing: a code of %d numbers", name, latent), -1;
    if (v->type != JSON_ARRAY || v->count != latent)
        return serve_reply_error(rp, 400, "'%s' must be an array of %d numbers (the model's latent size)", name,
                                 latent),
               -1;
    for (int64_t i = 0; i < latent; i++) {
        if (v->items[i].type != JSON_NUMBER || fabs(v->items[i].number) > 1e6)
            return serve_reply_error(rp, 400, "'%s'[%lld] must be a number of magnitude at most 1e6", name,
                                     (long long)i),
                   -1;
        out[i] = (float)v->items[i].number;
    }
    return 0;
}

/* One code or an array of 1..SERVE_MAX_BATCH codes; *codes is malloc'd. 0, or -1 after a reply. */
static int read_codes(const json_value *v, const char *name, int32_t latent, float **codes, int64_t *n,
                      serve_reply *rp) {
    int batch = v && v->type == JSON_ARRAY && v->count > 0 && v->items[0].type == JSON_ARRAY;
    *n = batch ? v->count : 1;
    if (batch && *n > SERVE_MAX_BATCH)
        return serve_reply_error(rp, 413, "'%s' holds %lld codes; at most %d per request", name, (long long)*n,
                                 SERVE_MAX_BATCH),
               -1;
    *codes = cli_alloc(*n, (size_t)latent * sizeof(float));
    if (!*codes) return serve_reply_error(rp, 500, "out of memory"), -1;
    for (int64_t i = 0; i < *n; i++)
        if (read_code(batch ? &v->items[i] : v, name, latent, *codes + i * latent, rp) != 0) {
            free(*codes);
            *codes = NULL;
            return -1;
        }
    return 0;
}

/* An optional integer member in [lo, hi] (dflt when absent). 0, or -1 after a 400. */
static int read_int(const json_value *obj, const char *name, int64_t lo, int64_t hi, int64_t dflt, int64_t *out,
                    serve_reply *rp) {
    const json_value *v = json_get(obj, name);
    *out = dflt;
    if (!v) return 0;
    if (v->type != JSON_NUMBER || v->number != floor(v->number) || v->number < (double)lo || v->number > (double)hi)
        return serve_reply_error(rp, 400, "'%s' must be an integer from %lld to %lld", name, (long long)lo,
                                 (long long)hi),
               -1;
    *out = (int64_t)v->number;
    return 0;
}

/* "truncation": psi in [-2, 2] (1, off, when absent). 0, or -1 after a 400. */
static int read_truncation(const json_value *obj, double *psi, serve_reply *rp) {
    const json_value *v = json_get(obj, "truncation");
    *psi = 1.0;
    if (!v) return 0;
    if (v->type != JSON_NUMBER || v->number < -2.0 || v->number > 2.0)
        return serve_reply_error(rp, 400, "'truncation' must be a number from -2 to 2 (1: off)"), -1;
    *psi = v->number;
    return 0;
}

/* Decodes the body as one image [1, C, S, S] (malloc'd). 0, or -1 after a reply. */
static int read_image_body(serve_worker *w, const serve_request *rq, float **x, serve_reply *rp) {
    if (rq->body_len == 0) return serve_reply_error(rp, 400, "the request needs an image (PNG, JPEG or BMP) as its body"), -1;
    *x = cli_alloc(1, (size_t)cli_image_floats(&w->shared->g) * sizeof(float));
    if (!*x) return serve_reply_error(rp, 500, "out of memory"), -1;
    char err[512];
    int status = serve_decode_upload(w, rq->body, rq->body_len, *x, err, sizeof err);
    if (status != 0) {
        free(*x);
        *x = NULL;
        return serve_reply_error(rp, status, "%s", err), -1;
    }
    return 0;
}

/* ---- running the model ---- */

/* Every request starts from the same noise (the context's seed) and its own truncation, so that
 * equal requests give equal pictures. */
static alae_status prepare(serve_worker *w, double psi) {
    alae_status s = alae_context_set_param(w->ctx, ALAE_CTX_SEED, 0);
    if (s == ALAE_OK) s = alae_model_set(w->model, ALAE_MODEL_TRUNCATION_PSI, psi);
    return s;
}

static alae_status run_generate(serve_worker *w, const float *codes, int64_t n, float *images) {
    cli_shape in = cli_latent_shape(&w->shared->g), out = cli_image_shape(&w->shared->g);
    return cli_apply(w->ctx, w->model, alae_model_generate, n, codes, &in, images, &out);
}

static alae_status run_encode(serve_worker *w, const float *x, float *code) {
    cli_shape in = cli_image_shape(&w->shared->g), out = cli_latent_shape(&w->shared->g);
    return cli_apply(w->ctx, w->model, alae_model_encode, 1, x, &in, code, &out);
}

/* G(styles) for one [style_rows, latent] set of styles. */
static alae_status run_styles(serve_worker *w, const float *styles, float *image) {
    const serve_shared *sh = w->shared;
    int64_t sshape[3] = {1, sh->style_rows, sh->g.latent};
    int64_t xshape[4] = {1, sh->g.channels, sh->g.size, sh->g.size};
    alae_tensor *st = NULL, *x = NULL;
    alae_status s = alae_tensor_create(w->ctx, ALAE_DTYPE_F32, 3, sshape, &st);
    if (s == ALAE_OK) s = alae_tensor_create(w->ctx, ALAE_DTYPE_F32, 4, xshape, &x);
    if (s == ALAE_OK) s = alae_tensor_write(st, styles, (size_t)(sh->style_rows * sh->g.latent) * sizeof(float));
    if (s == ALAE_OK) s = alae_model_generate_styles(w->model, st, x);
    if (s == ALAE_OK) s = alae_tensor_read(x, image, (size_t)cli_image_floats(&sh->g) * sizeof(float));
    alae_tensor_destroy(st);
    alae_tensor_destroy(x);
    return s;
}

/* The PSNR of image y against x, y clamped to the data range as its PNG shows it (as
 * alae_model_invert measures it). */
static double image_psnr(const serve_shared *sh, const float *x, const float *y) {
    int64_t n = cli_image_floats(&sh->g);
    float *shown = malloc((size_t)n * sizeof(float));
    if (!shown) return NAN;
    for (int64_t i = 0; i < n; i++) shown[i] = y[i] < sh->g.lo ? sh->g.lo : y[i] > sh->g.hi ? sh->g.hi : y[i];
    alae_image_quality q = {.struct_size = sizeof q};
    alae_status s = alae_eval_image_quality(x, shown, 1, sh->g.channels, sh->g.size, sh->g.hi - sh->g.lo, &q);
    free(shown);
    return s == ALAE_OK ? q.psnr : NAN;
}

/* Replies n images as a PNG strip, or (FORMAT_JSON) as {"w": code, "image": data URL, extra}. */
static void image_reply(serve_reply *rp, const serve_shared *sh, reply_format format, const float *images, int64_t n,
                        const float *code, const char *extra_json) {
    uint8_t *png;
    size_t len;
    if (serve_png_encode(images, n, &sh->g, &png, &len) != 0) {
        serve_reply_error(rp, 500, "out of memory");
        return;
    }
    if (format == FORMAT_PNG) {
        free(rp->body);
        rp->status = 200;
        rp->content_type = "image/png";
        rp->body = png;
        rp->len = len;
        return;
    }
    serve_buf b = {0};
    serve_buf_str(&b, "{");
    if (code) {
        serve_buf_str(&b, "\"w\": ");
        serve_buf_json_floats(&b, code, sh->g.latent);
        serve_buf_str(&b, ", ");
    }
    serve_buf_str(&b, "\"image\": \"data:image/png;base64,");
    serve_buf_base64(&b, png, len);
    serve_buf_str(&b, "\"");
    if (extra_json) serve_buf_str(&b, extra_json);
    serve_buf_str(&b, "}\n");
    free(png);
    serve_reply_buf(rp, 200, "application/json", &b);
}

/* ---- routes ---- */

static const char *arch_name(int32_t arch) { return arch == ALAE_ARCH_STYLE ? "style" : "mlp"; }

/* The style rows of a layer group: coarse 0-3, middle 4-7, fine 8 to the last (clipped). */
static int group_rows(const serve_shared *sh, const char *group, int32_t *first, int32_t *last) {
    static const char *const names[] = {"coarse", "middle", "fine"};
    for (int i = 0; i < 3; i++)
        if (strcmp(group, names[i]) == 0) {
            *first = 4 * i;
            *last = i == 2 ? sh->style_rows - 1 : 4 * i + 3;
            if (*last > sh->style_rows - 1) *last = sh->style_rows - 1;
            return *first <= *last;
        }
    return 0;
}

static void api_info(serve_worker *w, const serve_shared *sh, const serve_request *rq, serve_reply *rp) {
    serve_buf b = {0};
    serve_buf_str(&b, "{\"model\": ");
    serve_buf_json_string(&b, sh->model_name);
    serve_buf_printf(&b,
                     ", \"arch\": \"%s\", \"latent_dim\": %d, \"channels\": %d, \"image_size\": %d, "
                     "\"data_range\": [%g, %g], \"style_count\": %d, \"levels\": %d, \"device\": ",
                     arch_name(sh->arch), sh->g.latent, sh->g.channels, sh->g.size, (double)sh->g.lo, (double)sh->g.hi,
                     sh->style_rows, sh->levels);
    serve_buf_json_string(&b, cli_device_name());
    serve_buf_printf(&b, ", \"sliders\": \"%s\", \"directions\": [",
                     sh->directions_are_components ? "principal components" : "directions");
    for (int i = 0; i < sh->n_dirs; i++) {
        serve_buf_str(&b, i ? ", {\"name\": " : "{\"name\": ");
        serve_buf_json_string(&b, sh->dirs[i].name);
        serve_buf_printf(&b, ", \"sigma\": %.6g", sh->dirs[i].sigma);
        if (isnan(sh->dirs[i].accuracy))
            serve_buf_str(&b, ", \"accuracy\": null}");
        else
            serve_buf_printf(&b, ", \"accuracy\": %.4f}", sh->dirs[i].accuracy);
    }
    serve_buf_str(&b, "], \"groups\": {");
    static const char *const groups[] = {"coarse", "middle", "fine"};
    int shown = 0;
    for (int i = 0; sh->arch == ALAE_ARCH_STYLE && i < 3; i++) {
        int32_t first, last;
        if (!group_rows(sh, groups[i], &first, &last)) continue;
        serve_buf_printf(&b, "%s\"%s\": [%d, %d]", shown++ ? ", " : "", groups[i], first, last);
    }
    serve_buf_printf(&b,
                     "}, \"limits\": {\"max_body_bytes\": %u, \"max_json_bytes\": %u, \"max_side\": %d, "
                     "\"max_batch\": %d, \"max_invert_steps\": %d}}\n",
                     SERVE_MAX_BODY, SERVE_MAX_JSON_BODY, SERVE_MAX_SIDE, SERVE_MAX_BATCH, SERVE_MAX_INVERT_STEPS);
    serve_reply_buf(rp, 200, "application/json", &b);
}

static void api_encode(serve_worker *w, const serve_shared *sh, const serve_request *rq, serve_reply *rp) {
    int format = read_format(rq, 1u << FORMAT_JSON | 1u << FORMAT_NPY, FORMAT_JSON, rp);
    float *x = NULL, *code = NULL;
    if (format < 0 || read_image_body(w, rq, &x, rp) != 0) return;
    alae_status s = (code = malloc((size_t)sh->g.latent * sizeof(float))) ? prepare(w, 1.0) : ALAE_E_NOMEM;
    if (s == ALAE_OK) s = run_encode(w, x, code);
    if (s != ALAE_OK) {
        library_error(rp, s, "encode");
    } else {
        serve_buf b = {0};
        int64_t shape[2] = {1, sh->g.latent};
        if (format == FORMAT_NPY) {
            serve_npy_bytes(&b, 2, shape, code);
            serve_reply_buf(rp, 200, "application/octet-stream", &b);
            rp->filename = "code.npy";
        } else {
            serve_buf_str(&b, "{\"w\": ");
            serve_buf_json_floats(&b, code, sh->g.latent);
            serve_buf_str(&b, "}\n");
            serve_reply_buf(rp, 200, "application/json", &b);
        }
    }
    free(x);
    free(code);
}

/* Codes of a decode request: a .npy body [latent] or [n, latent], or JSON {"w": ...}. */
static int read_decode_codes(serve_worker *w, const serve_request *rq, const json_value *obj, float **codes,
                             int64_t *n, serve_reply *rp) {
    int32_t latent = w->shared->g.latent;
    if (!serve_is_npy(rq->body, rq->body_len)) return read_codes(json_get(obj, "w"), "w", latent, codes, n, rp);
    int32_t ndim;
    int64_t shape[8];
    char err[512];
    int status = serve_read_npy_upload(w, rq->body, rq->body_len, &ndim, shape, codes, err, sizeof err);
    if (status != 0) return serve_reply_error(rp, status, "%s", err), -1;
    *n = ndim == 2 ? shape[0] : 1;
    int fits = (ndim == 1 && shape[0] == latent) || (ndim == 2 && shape[1] == latent && shape[0] >= 1);
    int finite = 1;
    for (int64_t i = 0; fits && i < *n * latent; i++) finite &= isfinite((*codes)[i]) && fabsf((*codes)[i]) <= 1e6f;
    if (fits && finite && *n <= SERVE_MAX_BATCH) return 0;
    alae_free(*codes);
    *codes = NULL;
    if (!fits) return serve_reply_error(rp, 400, "the .npy body must be [%d] or [n, %d]", latent, latent), -1;
    if (!finite) return serve_reply_error(rp, 400, "the .npy body holds values that are not finite or above 1e6"), -1;
    return serve_reply_error(rp, 413, "the .npy body holds %lld codes; at most %d per request", (long long)*n,
                             SERVE_MAX_BATCH),
           -1;
}

static void api_decode(serve_worker *w, const serve_shared *sh, const serve_request *rq, serve_reply *rp) {
    int format = read_format(rq, 1u << FORMAT_PNG, FORMAT_PNG, rp);
    json_value obj = {0};
    float *codes = NULL, *images = NULL;
    int64_t n = 0;
    double psi = 1.0;
    int npy = serve_is_npy(rq->body, rq->body_len);
    if (format < 0 || (!npy && read_json_body(rq, 0, &obj, rp) != 0)) return;
    if ((npy || read_truncation(&obj, &psi, rp) == 0) && read_decode_codes(w, rq, &obj, &codes, &n, rp) == 0) {
        alae_status s = (images = cli_alloc(n, (size_t)cli_image_floats(&sh->g) * sizeof(float))) ? prepare(w, psi)
                                                                                                 : ALAE_E_NOMEM;
        if (s == ALAE_OK) s = run_generate(w, codes, n, images);
        if (s == ALAE_OK)
            image_reply(rp, sh, FORMAT_PNG, images, n, NULL, NULL);
        else
            library_error(rp, s, "decode");
    }
    if (npy)
        alae_free(codes);
    else
        free(codes);
    free(images);
    json_free(&obj);
}

static void api_generate(serve_worker *w, const serve_shared *sh, const serve_request *rq, serve_reply *rp) {
    int format = read_format(rq, 1u << FORMAT_PNG | 1u << FORMAT_JSON, FORMAT_PNG, rp);
    json_value obj = {0};
    if (format < 0 || read_json_body(rq, 1, &obj, rp) != 0) return;
    int32_t latent = sh->g.latent;
    float *z = malloc((size_t)latent * sizeof(float)), *wv = malloc((size_t)latent * sizeof(float));
    float *image = malloc((size_t)cli_image_floats(&sh->g) * sizeof(float));
    int64_t seed;
    double psi;
    const json_value *zv = json_get(&obj, "z");
    if (!z || !wv || !image) {
        serve_reply_error(rp, 500, "out of memory");
    } else if (read_int(&obj, "seed", 0, (int64_t)CLI_SEED_MAX, 0, &seed, rp) == 0 &&
               read_truncation(&obj, &psi, rp) == 0 && (!zv || read_code(zv, "z", latent, z, rp) == 0)) {
        alae_status s = zv ? ALAE_OK : cli_normal_latents(w->ctx, (uint64_t)seed, 1, latent, z);
        cli_shape ls = cli_latent_shape(&sh->g);
        if (s == ALAE_OK) s = cli_apply(w->ctx, w->model, alae_model_map, 1, z, &ls, wv, &ls);
        if (s == ALAE_OK) s = prepare(w, psi);
        if (s == ALAE_OK) s = run_generate(w, wv, 1, image);
        if (s == ALAE_OK)
            image_reply(rp, sh, (reply_format)format, image, 1, wv, NULL);
        else
            library_error(rp, s, "generate");
    }
    free(z);
    free(wv);
    free(image);
    json_free(&obj);
}

static void api_reconstruct(serve_worker *w, const serve_shared *sh, const serve_request *rq, serve_reply *rp) {
    int format = read_format(rq, 1u << FORMAT_PNG | 1u << FORMAT_JSON, FORMAT_PNG, rp);
    float *x = NULL;
    if (format < 0 || read_image_body(w, rq, &x, rp) != 0) return;
    int64_t floats = cli_image_floats(&sh->g);
    float *code = malloc((size_t)sh->g.latent * sizeof(float)), *pair = malloc(2 * (size_t)floats * sizeof(float));
    alae_status s = code && pair ? prepare(w, 1.0) : ALAE_E_NOMEM;
    if (s == ALAE_OK) s = run_encode(w, x, code);
    if (s == ALAE_OK) s = run_generate(w, code, 1, pair + floats); /* G(E(x)), untruncated */
    if (s != ALAE_OK) {
        library_error(rp, s, "reconstruct");
    } else if (format == FORMAT_PNG) {
        image_reply(rp, sh, FORMAT_PNG, pair + floats, 1, NULL, NULL);
    } else {
        /* the input as the model sees it, then the reconstruction, and their PSNR */
        memcpy(pair, x, (size_t)floats * sizeof(float));
        uint8_t *png;
        size_t len;
        char extra[64];
        snprintf(extra, sizeof extra, ", \"psnr\": %.3f", image_psnr(sh, x, pair + floats));
        image_reply(rp, sh, FORMAT_JSON, pair + floats, 1, code, NULL);
        if (rp->status == 200 && serve_png_encode(pair, 1, &sh->g, &png, &len) == 0) {
            serve_buf b = {0};
            serve_buf_add(&b, rp->body, rp->len - 2); /* without "}\n" */
            serve_buf_str(&b, extra);
            serve_buf_str(&b, ", \"input\": \"data:image/png;base64,");
            serve_buf_base64(&b, png, len);
            serve_buf_str(&b, "\"}\n");
            free(png);
            serve_reply_buf(rp, 200, "application/json", &b);
        }
    }
    free(x);
    free(code);
    free(pair);
}

/* w + sum over "amounts" {name: a} of a * sigma(name) * direction(name). 0, or -1 after a 400. */
static int apply_amounts(const serve_shared *sh, const json_value *amounts, float *code, serve_reply *rp) {
    if (!amounts) return 0;
    if (amounts->type != JSON_OBJECT)
        return serve_reply_error(rp, 400, "'amounts' must be an object {\"direction name\": amount}"), -1;
    for (int64_t i = 0; i < amounts->count; i++) {
        const serve_direction *d = NULL;
        for (int k = 0; k < sh->n_dirs && !d; k++)
            if (strcmp(sh->dirs[k].name, amounts->keys[i]) == 0) d = &sh->dirs[k];
        if (!d) {
            serve_buf names = {0};
            for (int k = 0; k < sh->n_dirs; k++) serve_buf_printf(&names, "%s%s", k ? ", " : "", sh->dirs[k].name);
            serve_reply_error(rp, 400, "no direction called '%.64s' (there are: %s)", amounts->keys[i],
                              names.data ? names.data : "none");
            serve_buf_free(&names);
            return -1;
        }
        const json_value *a = &amounts->items[i];
        if (a->type != JSON_NUMBER || fabs(a->number) > 100)
            return serve_reply_error(rp, 400, "the amount of '%s' must be a number from -100 to 100", d->name), -1;
        for (int32_t j = 0; j < sh->g.latent; j++) code[j] += (float)(a->number * d->sigma) * d->vector[j];
    }
    return 0;
}

static void api_edit(serve_worker *w, const serve_shared *sh, const serve_request *rq, serve_reply *rp) {
    int format = read_format(rq, 1u << FORMAT_PNG | 1u << FORMAT_JSON, FORMAT_PNG, rp);
    json_value obj = {0};
    if (format < 0 || read_json_body(rq, 0, &obj, rp) != 0) return;
    float *code = malloc((size_t)sh->g.latent * sizeof(float));
    float *image = malloc((size_t)cli_image_floats(&sh->g) * sizeof(float));
    double psi;
    if (!code || !image) {
        serve_reply_error(rp, 500, "out of memory");
    } else if (read_code(json_get(&obj, "w"), "w", sh->g.latent, code, rp) == 0 &&
               read_truncation(&obj, &psi, rp) == 0 && apply_amounts(sh, json_get(&obj, "amounts"), code, rp) == 0) {
        alae_status s = prepare(w, psi);
        if (s == ALAE_OK) s = run_generate(w, code, 1, image);
        if (s == ALAE_OK)
            image_reply(rp, sh, (reply_format)format, image, 1, code, NULL);
        else
            library_error(rp, s, "edit");
    }
    free(code);
    free(image);
    json_free(&obj);
}

static void api_mix(serve_worker *w, const serve_shared *sh, const serve_request *rq, serve_reply *rp) {
    int format = read_format(rq, 1u << FORMAT_PNG, FORMAT_PNG, rp);
    json_value obj = {0};
    if (format < 0) return;
    if (sh->arch != ALAE_ARCH_STYLE) {
        serve_reply_error(rp, 400, "style mixing needs a StyleALAE model; this one is an MLP ALAE");
        return;
    }
    if (read_json_body(rq, 0, &obj, rp) != 0) return;
    int32_t latent = sh->g.latent, first = 0, last = -1;
    float *src = malloc((size_t)latent * sizeof(float)), *dst = malloc((size_t)latent * sizeof(float));
    float *styles = cli_alloc(sh->style_rows, (size_t)latent * sizeof(float));
    float *image = malloc((size_t)cli_image_floats(&sh->g) * sizeof(float));
    const json_value *layers = json_get(&obj, "layers");
    double psi;
    if (!src || !dst || !styles || !image) {
        serve_reply_error(rp, 500, "out of memory");
    } else if (layers && (layers->type != JSON_STRING || !group_rows(sh, layers->string, &first, &last))) {
        serve_reply_error(rp, 400, "'layers' must be \"coarse\", \"middle\" or \"fine\" (a group this model has)");
    } else if (read_code(json_get(&obj, "src"), "src", latent, src, rp) == 0 &&
               read_code(json_get(&obj, "dst"), "dst", latent, dst, rp) == 0 &&
               read_truncation(&obj, &psi, rp) == 0) {
        if (!layers) group_rows(sh, "coarse", &first, &last);
        for (int32_t r = 0; r < sh->style_rows; r++)
            memcpy(styles + (int64_t)r * latent, r >= first && r <= last ? src : dst, (size_t)latent * sizeof(float));
        alae_status s = prepare(w, psi);
        if (s == ALAE_OK) s = run_styles(w, styles, image);
        if (s == ALAE_OK)
            image_reply(rp, sh, FORMAT_PNG, image, 1, NULL, NULL);
        else
            library_error(rp, s, "mix");
    }
    free(src);
    free(dst);
    free(styles);
    free(image);
    json_free(&obj);
}

static void api_interpolate(serve_worker *w, const serve_shared *sh, const serve_request *rq, serve_reply *rp) {
    int format = read_format(rq, 1u << FORMAT_PNG, FORMAT_PNG, rp);
    json_value obj = {0};
    if (format < 0 || read_json_body(rq, 0, &obj, rp) != 0) return;
    int32_t latent = sh->g.latent;
    float *a = malloc((size_t)latent * sizeof(float)), *b = malloc((size_t)latent * sizeof(float));
    float *codes = cli_alloc(SERVE_MAX_BATCH, (size_t)latent * sizeof(float));
    float *images = cli_alloc(SERVE_MAX_BATCH, (size_t)cli_image_floats(&sh->g) * sizeof(float));
    int64_t steps;
    double psi;
    if (!a || !b || !codes || !images) {
        serve_reply_error(rp, 500, "out of memory");
    } else if (read_code(json_get(&obj, "a"), "a", latent, a, rp) == 0 &&
               read_code(json_get(&obj, "b"), "b", latent, b, rp) == 0 &&
               read_int(&obj, "steps", 2, SERVE_MAX_BATCH, 8, &steps, rp) == 0 &&
               read_truncation(&obj, &psi, rp) == 0) {
        for (int64_t i = 0; i < steps; i++) {
            float t = (float)i / (float)(steps - 1);
            for (int32_t j = 0; j < latent; j++) codes[i * latent + j] = (1.0f - t) * a[j] + t * b[j];
        }
        alae_status s = prepare(w, psi);
        if (s == ALAE_OK) s = run_generate(w, codes, steps, images);
        if (s == ALAE_OK)
            image_reply(rp, sh, FORMAT_PNG, images, steps, NULL, NULL);
        else
            library_error(rp, s, "interpolate");
    }
    free(a);
    free(b);
    free(codes);
    free(images);
    json_free(&obj);
}

/* ?steps=: 0..SERVE_MAX_INVERT_STEPS (50 when absent). 0, or -1 after a 400. */
static int read_steps_query(const serve_request *rq, int32_t *steps, serve_reply *rp) {
    *steps = 50;
    if (!rq->steps) return 0;
    char *end;
    long v = strtol(rq->steps, &end, 10);
    if (!rq->steps[0] || *end || v < 0 || v > SERVE_MAX_INVERT_STEPS)
        return serve_reply_error(rp, 400, "'steps' must be an integer from 0 to %d", SERVE_MAX_INVERT_STEPS), -1;
    *steps = (int32_t)v;
    return 0;
}

static void api_invert(serve_worker *w, const serve_shared *sh, const serve_request *rq, serve_reply *rp) {
    int format = read_format(rq, 1u << FORMAT_PNG | 1u << FORMAT_JSON, FORMAT_JSON, rp);
    int32_t steps;
    float *x = NULL;
    if (format < 0 || read_steps_query(rq, &steps, rp) != 0 || read_image_body(w, rq, &x, rp) != 0) return;
    int64_t cshape[2] = {1, sh->g.latent}, xshape[4] = {1, sh->g.channels, sh->g.size, sh->g.size};
    alae_tensor *xt = NULL, *codes = NULL;
    float *code = malloc((size_t)sh->g.latent * sizeof(float));
    float *image = malloc((size_t)cli_image_floats(&sh->g) * sizeof(float));
    alae_invert_report report = {.struct_size = sizeof report};
    alae_status s = code && image ? prepare(w, 1.0) : ALAE_E_NOMEM;
    if (s == ALAE_OK) s = alae_tensor_create(w->ctx, ALAE_DTYPE_F32, 4, xshape, &xt);
    if (s == ALAE_OK) s = alae_tensor_create(w->ctx, ALAE_DTYPE_F32, 2, cshape, &codes);
    if (s == ALAE_OK) s = alae_tensor_write(xt, x, (size_t)cli_image_floats(&sh->g) * sizeof(float));
    if (s == ALAE_OK) s = alae_model_invert(w->model, xt, steps, 0.1, codes, &report);
    if (s == ALAE_OK) s = alae_tensor_read(codes, code, (size_t)sh->g.latent * sizeof(float));
    if (s == ALAE_OK) s = prepare(w, 1.0);
    if (s == ALAE_OK) s = run_generate(w, code, 1, image);
    if (s == ALAE_OK) {
        char extra[160];
        snprintf(extra, sizeof extra, ", \"steps\": %d, \"psnr_before\": %.3f, \"psnr_after\": %.3f", report.steps,
                 report.psnr_before, report.psnr_after);
        image_reply(rp, sh, (reply_format)format, image, 1, code, extra);
    } else {
        library_error(rp, s, "invert");
    }
    alae_tensor_destroy(xt);
    alae_tensor_destroy(codes);
    free(x);
    free(code);
    free(image);
}

/* The fixed set of routes (serve_http.c answers "/" and refuses everything else). */
const serve_route serve_routes[] = {
    {"GET", "/api/info", api_info, 0, 0},
    {"POST", "/api/encode", api_encode, 1, 0},
    {"POST", "/api/decode", api_decode, 1, 0},
    {"POST", "/api/generate", api_generate, 1, 1},
    {"POST", "/api/reconstruct", api_reconstruct, 1, 0},
    {"POST", "/api/edit", api_edit, 1, 1},
    {"POST", "/api/mix", api_mix, 1, 1},
    {"POST", "/api/interpolate", api_interpolate, 1, 1},
    {"POST", "/api/invert", api_invert, 1, 0},
};
const int serve_route_count = (int)(sizeof serve_routes / sizeof serve_routes[0]);

const serve_route *serve_find_route(const char *path) {
    for (int i = 0; i < serve_route_count; i++)
        if (strcmp(serve_routes[i].path, path) == 0) return &serve_routes[i];
    return NULL;
}
