/* Data-parallel training (include/alae/alae_comm.h, docs/distributed.md): the trainer's side of
 * a communicator. Gradients are packed into one bucket of device memory per all-reduce (a
 * gradient larger than the bucket is reduced in place), so a step costs a few collectives
 * instead of one per parameter. */
#include <stdlib.h>
#include <string.h>

#include "trainer_internal.h"

#define BUCKET_FLOATS ((size_t)1 << 22) /* 16 MiB of floats per all-reduce */

int32_t alaei_trainer_ranks(const alae_trainer *t) { return t->comm.size > 0 ? t->comm.size : 1; }

int32_t alaei_trainer_rank(const alae_trainer *t) { return t->comm.size > 0 ? t->comm.rank : 0; }

static void *native_stream(const alae_context *ctx) {
    return ALAEI_VTBL_HAS(ctx->backend, native_stream) ? ctx->backend->native_stream(ctx->bctx) : NULL;
}

/* Whether the communicator can work on this context's memory directly. */
static int direct_memory(const alae_trainer *t) {
    const alae_context *ctx = t->model->ctx;
    if (ctx->backend->elem_size != (int32_t)sizeof(float)) return 0;
    return t->comm.memory == ALAE_COMM_DEVICE || strcmp(ctx->backend->name, "cpu") == 0;
}

static alae_status call(alae_trainer *t, int bcast, float *buf, size_t count, void *stream) {
    alae_status s = bcast ? t->comm.broadcast(t->comm.user, buf, count, 0, stream)
                          : t->comm.allreduce(t->comm.user, buf, count, ALAE_REDUCE_AVG, stream);
    if (s == ALAE_OK) return ALAE_OK;
    if (alae_last_error()[0]) return s;
    return alaei_fail(s, "alae_trainer", "rank %d of %d: the communicator's %s of %zu floats failed",
                      (int)t->comm.rank, (int)t->comm.size, bcast ? "broadcast" : "all-reduce", count);
}

/* Average (bcast 0) or broadcast from rank 0 (bcast 1) of `count` elements of device memory,
 * through host memory when the communicator cannot read the device's. */
static alae_status collective(alae_trainer *t, int bcast, void *data, size_t count) {
    alae_context *ctx = t->model->ctx;
    if (direct_memory(t)) return call(t, bcast, data, count, native_stream(ctx));
    alae_status s = ALAE_OK;
    for (size_t done = 0; s == ALAE_OK && done < count; done += t->bucket_count) {
        size_t n = count - done < t->bucket_count ? count - done : t->bucket_count;
        void *src = (char *)data + done * (size_t)ctx->backend->elem_size;
        s = ctx->backend->read_f32(ctx->bctx, t->stage, src, n);
        if (s == ALAE_OK) s = call(t, bcast, t->stage, n, NULL);
        if (s == ALAE_OK) s = ctx->backend->write_f32(ctx->bctx, src, t->stage, n);
    }
    return s;
}

/* The same for host floats (the running mean of w, the losses). */
static alae_status collective_host(alae_trainer *t, int bcast, float *host, size_t count) {
    alae_context *ctx = t->model->ctx;
    if (t->comm.memory == ALAE_COMM_HOST || strcmp(ctx->backend->name, "cpu") == 0)
        return call(t, bcast, host, count, NULL);
    alae_status s = ctx->backend->write_f32(ctx->bctx, t->bucket, host, count);
    if (s == ALAE_OK) s = collective(t, bcast, t->bucket, count);
    return s == ALAE_OK ? ctx->backend->read_f32(ctx->bctx, host, t->bucket, count) : s;
}

alae_status alaei_trainer_average_host(alae_trainer *t, float *host, size_t count) {
    return t->comm.size > 1 ? collective_host(t, 0, host, count) : ALAE_OK;
}

/* Averages the bucket's first `used` elements and copies them back to the gradients
 * grads[first..last). */
static alae_status flush_bucket(alae_trainer *t, void *const *grads, int32_t first, int32_t last, size_t used) {
    alae_context *ctx = t->model->ctx;
    size_t elem = (size_t)ctx->backend->elem_size, off = 0;
    alae_status s = used > 0 ? collective(t, 0, t->bucket, used) : ALAE_OK;
    for (int32_t i = first; s == ALAE_OK && i < last; i++) {
        if (!grads[i]) continue;
        size_t n = (size_t)t->model->params[i].numel;
        s = ctx->backend->copy(ctx->bctx, grads[i], (char *)t->bucket + off * elem, n);
        off += n;
    }
    return s;
}

alae_status alaei_trainer_average_grads(alae_trainer *t, void *const *grads) {
    if (t->comm.size <= 1) return ALAE_OK;
    alae_context *ctx = t->model->ctx;
    size_t elem = (size_t)ctx->backend->elem_size, used = 0;
    int32_t first = 0;
    alae_status s = ALAE_OK;
    for (int32_t i = 0; s == ALAE_OK && i < t->model->n_params; i++) {
        if (!grads[i]) continue;
        size_t n = (size_t)t->model->params[i].numel;
        if (n > t->bucket_count) { /* too large for the bucket: in place */
            s = collective(t, 0, grads[i], n);
            continue;
        }
        if (used + n > t->bucket_count) {
            s = flush_bucket(t, grads, first, i, used);
            first = i;
            used = 0;
        }
        if (s == ALAE_OK) s = ctx->backend->copy(ctx->bctx, (char *)t->bucket + used * elem, grads[i], n);
        used += n;
    }
    if (s == ALAE_OK) s = flush_bucket(t, grads, first, t->model->n_params, used);
    return s;
}

void alaei_trainer_free_comm(alae_trainer *t) {
    alae_context *ctx = t->model->ctx;
    if (t->bucket) ctx->backend->buf_free(ctx->bctx, t->bucket);
    free(t->stage);
    t->bucket = NULL;
    t->stage = NULL;
    t->bucket_count = 0;
    memset(&t->comm, 0, sizeof t->comm);
}

static alae_status check_comm(const alae_comm *c) {
    const char *f = "alae_trainer_set_comm";
    if (c->struct_size < sizeof(alae_comm) || c->version != ALAE_COMM_VERSION)
        return alaei_fail(ALAE_E_VERSION, f, "the communicator is version %u of %u bytes; this libalae reads version %d "
                          "of %zu bytes", c->version, c->struct_size, ALAE_COMM_VERSION, sizeof(alae_comm));
    if (c->size < 1 || c->rank < 0 || c->rank >= c->size)
        return alaei_fail(ALAE_E_INVALID_ARG, f, "rank %d of %d is not valid (0 <= rank < size)", (int)c->rank,
                          (int)c->size);
    if (!c->allreduce || !c->broadcast)
        return alaei_fail(ALAE_E_INVALID_ARG, f, "the communicator has no %s function",
                          c->allreduce ? "broadcast" : "allreduce");
    if (c->memory != ALAE_COMM_HOST && c->memory != ALAE_COMM_DEVICE)
        return alaei_fail(ALAE_E_INVALID_ARG, f, "memory %d is neither ALAE_COMM_HOST nor ALAE_COMM_DEVICE",
                          (int)c->memory);
    return ALAE_OK;
}

/* The bucket: as large as all parameters together (a bound of every step's gradients), at most
 * BUCKET_FLOATS, and at least the latent size (it also carries the mean of w). */
static alae_status alloc_bucket(alae_trainer *t) {
    alae_context *ctx = t->model->ctx;
    size_t total = (size_t)t->model->cfg.latent_dim + 8;
    for (int32_t i = 0; i < t->model->n_params; i++) total += (size_t)t->model->params[i].numel;
    t->bucket_count = total < BUCKET_FLOATS ? total : BUCKET_FLOATS;
    if (!(t->stage = malloc(t->bucket_count * sizeof(float))))
        return alaei_fail(ALAE_E_NOMEM, "alae_trainer_set_comm", "no memory for a staging buffer");
    return ctx->backend->buf_alloc(ctx->bctx, t->bucket_count * (size_t)ctx->backend->elem_size, &t->bucket);
}

/* Every rank starts from rank 0's parameters, smoothed copy and running mean of w. */
static alae_status broadcast_state(alae_trainer *t) {
    alae_status s = ALAE_OK;
    for (int32_t i = 0; s == ALAE_OK && i < t->model->n_params; i++) {
        size_t n = (size_t)t->model->params[i].numel;
        s = collective(t, 1, t->model->params[i].data, n);
        if (s == ALAE_OK) s = collective(t, 1, t->ema[i], n);
    }
    return s == ALAE_OK ? collective_host(t, 1, t->model->dlatent_avg, (size_t)t->model->cfg.latent_dim) : s;
}

ALAE_API alae_status alae_trainer_set_comm(alae_trainer *t, const alae_comm *comm) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    alae_status s = comm ? check_comm(comm) : ALAE_OK;
    if (s != ALAE_OK) return s;
    alaei_trainer_free_comm(t);
    if (!comm) return ALAE_OK;
    t->comm = *comm;
    t->comm.struct_size = sizeof t->comm;
    alaei_context_begin_call(t->model->ctx);
    s = alloc_bucket(t);
    if (s == ALAE_OK && comm->size > 1) s = broadcast_state(t);
    if (s != ALAE_OK) alaei_trainer_free_comm(t);
    return s;
}
