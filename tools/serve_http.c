/* alae serve: the HTTP side on libmicrohttpd — one thread per connection (bounded), request
 * bodies collected up to a cap, the fixed route table, and replies (serve.h). Model work goes
 * through the pool; a full queue answers 503. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "serve.h"

#if MHD_VERSION < 0x00097002
typedef int MHD_RESULT;
#else
typedef enum MHD_Result MHD_RESULT;
#endif

struct serve_http {
    struct MHD_Daemon *daemon;
    serve_pool *pool;
    const serve_shared *shared;
    serve_root_fn root;
    void *root_arg;
    atomic_size_t buffered; /* bytes of request bodies held by all connections */
};

/* What a connection carries between the calls of its request. */
typedef struct conn_state {
    const serve_route *route;
    serve_buf body;
    size_t cap;
    int too_large;
    int over_budget; /* the bodies of all connections together passed SERVE_MAX_BUFFERED */
} conn_state;

static MHD_RESULT send_reply(struct MHD_Connection *conn, serve_reply *rp) {
    struct MHD_Response *r = MHD_create_response_from_buffer(rp->len, rp->body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(rp->body);
        return MHD_NO;
    }
    rp->body = NULL;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rp->content_type ? rp->content_type : "text/plain");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (rp->filename) {
        char disposition[128];
        snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", rp->filename);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disposition);
    }
    if (rp->status == MHD_HTTP_METHOD_NOT_ALLOWED && rp->filename == NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, POST");
    MHD_RESULT ret = MHD_queue_response(conn, (unsigned)rp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static MHD_RESULT send_error(struct MHD_Connection *conn, int status, const char *fmt, const char *arg) {
    serve_reply rp = {0};
    serve_reply_error(&rp, status, fmt, arg);
    return send_reply(conn, &rp);
}

static MHD_RESULT send_root(serve_http *h, struct MHD_Connection *conn) {
    serve_reply rp = {200, "text/html; charset=utf-8", NULL, NULL, 0};
    if (h->root) {
        char *html = NULL, err[256] = "";
        size_t len = 0;
        if (h->root(h->root_arg, &html, &len, err, sizeof err) != 0) return send_error(conn, 500, "%s", err);
        rp.body = (uint8_t *)html;
        rp.len = len;
    } else {
        rp.body = malloc(serve_page_html_len);
        if (!rp.body) return send_error(conn, 500, "%s", "out of memory");
        memcpy(rp.body, serve_page_html, serve_page_html_len);
        rp.len = serve_page_html_len;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(rp.len, rp.body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(rp.body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rp.content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                            "img-src data: blob:; connect-src 'self'");
    MHD_RESULT ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static int method_is(const char *method, const char *want) {
    return strcmp(method, want) == 0 || (strcmp(want, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

/* The first call of a request: the route, the method, the announced size. */
static MHD_RESULT start_request(serve_http *h, struct MHD_Connection *conn, const char *url, const char *method,
                                void **con_cls) {
    if (strcmp(url, "/") == 0) {
        if (!method_is(method, "GET")) return send_error(conn, 405, "'/' answers GET, not %s", method);
        return send_root(h, conn);
    }
    if (!h->pool)
        return send_error(conn, 404, "no route '%.200s': this server shows a training run (alae serve --run); "
                                     "the API needs alae serve --model M", url);
    const serve_route *route = serve_find_route(url);
    if (!route) return send_error(conn, 404, "no route '%.200s': see GET /api/info and docs/serve.md", url);
    if (!method_is(method, route->method)) {
        serve_reply rp = {0};
        serve_reply_error(&rp, 405, "%s answers %s only", route->path, route->method);
        return send_reply(conn, &rp);
    }
    size_t cap = route->json_body ? SERVE_MAX_JSON_BODY : SERVE_MAX_BODY;
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length && strtoull(length, NULL, 10) > cap) {
        char what[64];
        snprintf(what, sizeof what, "%zu", cap);
        return send_error(conn, 413, "the body is larger than the %s bytes this route accepts", what);
    }
    conn_state *st = calloc(1, sizeof *st);
    if (!st) return MHD_NO;
    st->route = route;
    st->cap = cap;
    *con_cls = st;
    return MHD_YES;
}

static MHD_RESULT finish_request(serve_http *h, struct MHD_Connection *conn, const char *url, const char *method,
                                 conn_state *st) {
    if (st->too_large) {
        char what[64];
        snprintf(what, sizeof what, "%zu", st->cap);
        return send_error(conn, 413, "the body is larger than the %s bytes this route accepts", what);
    }
    if (st->over_budget)
        return send_error(conn, 503, "%s", "the server holds too many uploads at once: retry later");
    if (st->body.failed) return send_error(conn, 500, "%s", "out of memory");
    serve_request rq = {method, url, MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "format"),
                        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "steps"),
                        (const uint8_t *)(st->body.data ? st->body.data : ""), st->body.len};
    serve_reply rp = {500, "application/json", NULL, NULL, 0};
    if (!st->route->needs_worker) {
        st->route->run(NULL, h->shared, &rq, &rp);
    } else if (serve_pool_run(h->pool, st->route, h->shared, &rq, &rp) != 0) {
        return send_error(conn, 503, "%s", "the server is busy (its queue is full) or stopping: retry later");
    }
    if (!rp.body) serve_reply_error(&rp, 500, "the route gave no answer");
    return send_reply(conn, &rp);
}

static MHD_RESULT on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                             const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls) {
    serve_http *h = cls;
    conn_state *st = *con_cls;
    if (!st) return start_request(h, conn, url, method, con_cls);
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->body.len + n > st->cap) st->too_large = 1;
        if (st->too_large || st->over_budget) return MHD_YES; /* read and dropped */
        if (atomic_fetch_add(&h->buffered, n) + n > SERVE_MAX_BUFFERED) {
            atomic_fetch_sub(&h->buffered, n);
            st->over_budget = 1;
            return MHD_YES;
        }
        size_t before = st->body.len;
        serve_buf_add(&st->body, upload_data, n);
        if (st->body.len != before + n) atomic_fetch_sub(&h->buffered, n); /* not held */
        return MHD_YES;
    }
    return finish_request(h, conn, url, method, st);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    serve_http *h = cls;
    conn_state *st = *con_cls;
    if (!st) return;
    atomic_fetch_sub(&h->buffered, st->body.len);
    serve_buf_free(&st->body);
    free(st);
    *con_cls = NULL;
}

serve_http *serve_http_start(const serve_http_config *cfg, serve_pool *pool, const serve_shared *sh, int *port,
                             char *err, size_t errlen) {
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    /* poll(), not select(): connections may exceed FD_SETSIZE */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, cfg->bind, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)cfg->port);
    } else if (inet_pton(AF_INET6, cfg->bind, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)cfg->port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "--bind '%s' is not an IPv4 or IPv6 address", cli_shown(cfg->bind));
        return NULL;
    }
    serve_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->pool = pool;
    h->shared = sh;
    h->root = cfg->root;
    h->root_arg = cfg->root_arg;
    h->daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &addr,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_NOTIFY_COMPLETED,
                                 on_completed, h, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen, "cannot listen on %s port %d (in use, or not an address of this machine)",
                 cli_shown(cfg->bind), cfg->port);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : cfg->port;
    return h;
}

void serve_http_stop(serve_http *h) {
    if (!h) return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
