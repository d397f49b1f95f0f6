/* alae serve: a local web studio and HTTP API over one model (docs/serve.md).
 *
 * Layers, each in its own file:
 *   serve_json.c   a small JSON reader (request bodies) and writer (replies), base64
 *   serve_media.c  image headers, PNG and .npy bytes in memory, uploads through a private folder
 *   serve_pool.c   the bounded queue of requests and the workers (one context and model each)
 *   serve_api.c    the routes: what each /api/ request does with a worker's model
 *   serve_http.c   libmicrohttpd: connections, bodies, limits, the route table
 *   cli_serve.c    the command: options, start-up (models, directions or principal components),
 *                  signals and shutdown
 * Everything uses the public API of libalae through the helpers of cli.h. */
#ifndef ALAE_SERVE_H
#define ALAE_SERVE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

/* ---- limits (docs/serve.md lists them) ---- */
#define SERVE_MAX_BODY (16u << 20)     /* bytes of a request body (images) */
#define SERVE_MAX_JSON_BODY (1u << 20) /* bytes of a JSON request body */
#define SERVE_MAX_BUFFERED (256u << 20) /* bytes of request bodies held at once, all connections */
#define SERVE_MAX_SIDE 4096            /* pixels per side of an uploaded image */
#define SERVE_MAX_BATCH 16             /* codes per decode request, images per interpolation */
#define SERVE_MAX_INVERT_STEPS 500     /* gradient steps per inversion */
#define SERVE_MAX_DIRECTIONS 64        /* sliders */
#define SERVE_PCA_COMPONENTS 8         /* principal components of W when no directions are given */

/* ---- growing byte buffers ---- */

typedef struct serve_buf {
    char *data;
    size_t len, cap;
    int failed; /* an allocation failed: the content is incomplete */
} serve_buf;

void serve_buf_add(serve_buf *b, const void *data, size_t n);
void serve_buf_str(serve_buf *b, const char *s);
void serve_buf_printf(serve_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal (quotes and escapes). */
void serve_buf_json_string(serve_buf *b, const char *s);
/* A JSON array of n floats (non-finite values as null). */
void serve_buf_json_floats(serve_buf *b, const float *v, int64_t n);
void serve_buf_base64(serve_buf *b, const uint8_t *data, size_t n);
void serve_buf_free(serve_buf *b);

/* ---- JSON values ---- */

typedef enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
    json_type type;
    double number;      /* JSON_NUMBER, JSON_BOOL (0 / 1) */
    char *string;       /* JSON_STRING */
    char **keys;        /* JSON_OBJECT: the names of items[i] */
    struct json_value *items;
    int64_t count;      /* items of an array or object */
} json_value;

/* Parses text[0..len) (one value, at most 4 levels deep). Returns 0 and fills *out (release it
 * with json_free), or -1 with what is wrong in err. */
int json_parse(const char *text, size_t len, json_value *out, char *err, size_t errlen);
void json_free(json_value *v);
/* The member called key of an object, or NULL. */
const json_value *json_get(const json_value *obj, const char *key);

/* ---- media ---- */

typedef enum serve_image_kind { SERVE_IMAGE_NONE, SERVE_IMAGE_PNG, SERVE_IMAGE_JPEG, SERVE_IMAGE_BMP } serve_image_kind;

/* The kind and the sides of an image file from its header (0 sides when they cannot be read). */
serve_image_kind serve_image_sniff(const uint8_t *data, size_t len, int64_t *width, int64_t *height);
/* Encodes n images [n, C, S, S] (values lo..hi) as one PNG row of n tiles with 2-pixel gaps
 * into *png (malloc'd, *len bytes). Returns 0, or -1 when memory runs out. */
int serve_png_encode(const float *images, int64_t n, const cli_geom *g, uint8_t **png, size_t *len);
/* The bytes of a float32 .npy file of the given shape. */
void serve_npy_bytes(serve_buf *b, int32_t ndim, const int64_t *shape, const float *data);
/* Whether data starts like a .npy file. */
int serve_is_npy(const uint8_t *data, size_t len);

/* ---- shared, read-only after start-up ---- */

typedef struct serve_direction {
    char name[64];
    float *vector; /* [latent], unit length */
    double sigma;  /* spread of F(z) along it: slider amounts are in these units */
    double accuracy; /* NaN: unknown or a principal component */
} serve_direction;

typedef struct serve_shared {
    cli_geom g;
    int32_t arch;       /* ALAE_ARCH_* */
    int32_t style_rows; /* ALAE_MODEL_STYLE_COUNT */
    int32_t levels;
    const char *model_name; /* the file name, for /api/info */
    int directions_are_components;
    serve_direction dirs[SERVE_MAX_DIRECTIONS];
    int n_dirs;
    char upload_dir[512]; /* private folder of uploaded images while they are decoded */
} serve_shared;

/* A worker's own context and model (the library's unit of concurrency). */
typedef struct serve_worker {
    int index;
    alae_context *ctx;
    alae_model *model;
    const serve_shared *shared;
    uint64_t uploads; /* counter for upload file names */
} serve_worker;

/* Writes an uploaded image into the upload folder, decodes it through the library
 * (alae_dataset_open_folder, as 'alae encode' reads image files) and removes the file. x receives
 * [1, C, S, S]. Returns 0, or an HTTP status with the message in err. */
int serve_decode_upload(serve_worker *w, const uint8_t *data, size_t len, float *x, char *err, size_t errlen);
/* Same for an uploaded .npy file (alae_npy_read_f32): *data (alae_free) and its shape. */
int serve_read_npy_upload(serve_worker *w, const uint8_t *bytes, size_t len, int32_t *ndim, int64_t shape[8],
                          float **data, char *err, size_t errlen);

/* ---- requests and replies ---- */

typedef struct serve_request {
    const char *method, *path;
    const char *format; /* ?format= (NULL: not given) */
    const char *steps;  /* ?steps= */
    const uint8_t *body;
    size_t body_len;
} serve_request;

typedef struct serve_reply {
    int status;
    const char *content_type;
    const char *filename; /* Content-Disposition when set */
    uint8_t *body;        /* malloc'd */
    size_t len;
} serve_reply;

/* A JSON error {"error": "..."} with the HTTP status. Returns status. */
int serve_reply_error(serve_reply *rp, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Moves b into the reply (or a 500 when b failed). */
void serve_reply_buf(serve_reply *rp, int status, const char *content_type, serve_buf *b);

/* A route's work: runs on a worker (w is NULL for routes that need no model). */
typedef void (*serve_handler)(serve_worker *w, const serve_shared *sh, const serve_request *rq, serve_reply *rp);

typedef struct serve_route {
    const char *method, *path;
    serve_handler run;
    int needs_worker; /* queued on the pool (else answered at once) */
    int json_body;    /* the body is JSON (SERVE_MAX_JSON_BODY) */
} serve_route;

extern const serve_route serve_routes[];
extern const int serve_route_count;
const serve_route *serve_find_route(const char *path);

/* ---- the pool ---- */

typedef struct serve_pool serve_pool;

/* Starts n workers (taking ownership of workers[0..n-1]'s contexts and models) with room for
 * `queue` waiting requests. Returns NULL when memory or threads run out. */
serve_pool *serve_pool_create(serve_worker *workers, int n, int queue);
/* Runs the route on a free worker and waits for it. Returns 0, or -1 when the queue is full
 * (the caller answers 503) or the pool is stopping. */
int serve_pool_run(serve_pool *p, const serve_route *route, const serve_shared *sh, const serve_request *rq,
                   serve_reply *rp);
/* Asks running work to stop early (alae_context_request_abort on every worker). */
void serve_pool_abort(serve_pool *p);
/* Finishes the queued work, stops the threads, destroys the models and contexts. */
void serve_pool_destroy(serve_pool *p);

/* ---- HTTP ---- */

typedef struct serve_http serve_http;

/* What "/" answers: the page (the default), or, for another mode, HTML that a function makes. */
typedef int (*serve_root_fn)(void *arg, char **html, size_t *len, char *err, size_t errlen);

typedef struct serve_http_config {
    const char *bind;    /* an IPv4 or IPv6 address */
    int port;            /* 0: any free port */
    int max_connections;
    serve_root_fn root;  /* NULL: the embedded page */
    void *root_arg;
} serve_http_config;

/* Starts the server; *port receives the bound port. NULL with the message in err. */
serve_http *serve_http_start(const serve_http_config *cfg, serve_pool *pool, const serve_shared *sh, int *port,
                             char *err, size_t errlen);
void serve_http_stop(serve_http *h);

/* The embedded page (tools/serve/index.html, generated into serve_page.c by CMake). */
extern const unsigned char serve_page_html[];
extern const size_t serve_page_html_len;

#endif /* ALAE_SERVE_H */
