/* alae serve: the bounded queue of requests and the worker threads, each with its own context
 * and model, so that no two threads ever use one context (docs/threading.md). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "serve.h"

typedef struct serve_job {
    const serve_route *route;
    const serve_shared *shared;
    const serve_request *request;
    serve_reply *reply;
    int done;
    pthread_cond_t finished;
    struct serve_job *next;
} serve_job;

typedef struct worker_thread {
    serve_pool *pool;
    serve_worker worker;
    pthread_t thread;
    int started;
} worker_thread;

struct serve_pool {
    pthread_mutex_t lock;
    pthread_cond_t work; /* a job was queued, or the pool is stopping */
    serve_job *head, *tail;
    int queued, capacity;
    int stopping;
    worker_thread *threads;
    int n;
};

static serve_job *take_job(serve_pool *p) {
    pthread_mutex_lock(&p->lock);
    while (!p->head && !p->stopping) pthread_cond_wait(&p->work, &p->lock);
    serve_job *job = p->head;
    if (job) {
        p->head = job->next;
        if (!p->head) p->tail = NULL;
        p->queued--;
    }
    pthread_mutex_unlock(&p->lock);
    return job;
}

static void *worker_main(void *arg) {
    worker_thread *t = arg;
    serve_job *job;
    while ((job = take_job(t->pool)) != NULL) {
        job->route->run(&t->worker, job->shared, job->request, job->reply);
        pthread_mutex_lock(&t->pool->lock);
        job->done = 1;
        pthread_cond_signal(&job->finished);
        pthread_mutex_unlock(&t->pool->lock);
    }
    return NULL;
}

serve_pool *serve_pool_create(serve_worker *workers, int n, int queue) {
    serve_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = calloc((size_t)n, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    p->capacity = queue;
    p->n = n;
    for (int i = 0; i < n; i++) {
        p->threads[i].pool = p;
        p->threads[i].worker = workers[i];
        memset(&workers[i], 0, sizeof workers[i]); /* owned by the pool now */
    }
    for (int i = 0; i < n; i++) {
        if (pthread_create(&p->threads[i].thread, NULL, worker_main, &p->threads[i]) != 0) {
            serve_pool_destroy(p);
            return NULL;
        }
        p->threads[i].started = 1;
    }
    return p;
}

int serve_pool_run(serve_pool *p, const serve_route *route, const serve_shared *sh, const serve_request *rq,
                   serve_reply *rp) {
    serve_job job = {route, sh, rq, rp, 0, PTHREAD_COND_INITIALIZER, NULL};
    pthread_mutex_lock(&p->lock);
    if (p->stopping || p->queued >= p->capacity) {
        pthread_mutex_unlock(&p->lock);
        return -1;
    }
    if (p->tail)
        p->tail->next = &job;
    else
        p->head = &job;
    p->tail = &job;
    p->queued++;
    pthread_cond_signal(&p->work);
    while (!job.done) pthread_cond_wait(&job.finished, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_cond_destroy(&job.finished);
    return 0;
}

void serve_pool_abort(serve_pool *p) {
    for (int i = 0; i < p->n; i++)
        if (p->threads[i].worker.ctx) alae_context_request_abort(p->threads[i].worker.ctx);
}

void serve_pool_destroy(serve_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1; /* queued jobs still run: their connections wait for them */
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n; i++) {
        if (p->threads[i].started) pthread_join(p->threads[i].thread, NULL);
        alae_model_destroy(p->threads[i].worker.model);
        alae_context_destroy(p->threads[i].worker.ctx);
    }
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p);
}
