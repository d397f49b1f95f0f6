/* The trainer's internal state, shared by lib/train/trainer*.c. */
#ifndef ALAE_TRAINER_INTERNAL_H
#define ALAE_TRAINER_INTERNAL_H

#include "optim_internal.h"
#include "alae/alae_comm.h"

/* One planned step graph and its input / output nodes (-1 where absent). */
typedef struct step_plan {
    alaei_net net;
    alaei_plan *plan;
    int32_t in_a, in_b;       /* input nodes: z or x_real; x_fake */
    int32_t z_mix, mix_mask;  /* style-mixing inputs: the second latent, the row mask */
    int32_t loss, extra, w;   /* outputs: loss, r1 or x_fake, the unmixed w */
    int32_t *grad;            /* per model parameter: gradient node, or -1 (no gradient) */
} step_plan;

/* The plans' key: they are rebuilt when any of it changes. */
typedef struct plan_key {
    int64_t batch, real_size;
    int32_t lod, transition, mixing;
} plan_key;

struct alae_trainer {
    alae_model *model;
    alae_optimizer *opt_fg, *opt_ed;
    double r1_gamma, latent_weight, ema_half_life, dlatent_beta, mixing_prob;
    int32_t latent_loss;
    int32_t r1_interval;     /* lazy R1: the penalty on every r1_interval-th D-step (1: every one) */
    uint64_t seed, step, rng_offset;
    void **ema;              /* per parameter: the smoothed copy */
    void *ema_scratch;
    unsigned char *ema_done; /* per parameter: its smoothed copy was updated with its last Adam step */
    /* level of detail and fade-in */
    int32_t lod;
    double blend;
    /* schedule */
    alaei_schedule sched;
    int schedule_active;
    uint64_t epoch, epoch_images;
    /* plans (valid when key.batch > 0) and their device inputs */
    plan_key key;
    step_plan gen, d, g, ae;
    step_plan d_plain;       /* the D-step without R1 (lazy R1 only, r1_interval > 1) */
    void *step_arena;        /* the one arena of the d, d_plain, g and ae plans when they share it, or NULL */
    size_t step_arena_bytes;
    void *z[3];              /* latents of the three steps [N, L] */
    void *z_mix[2];          /* second latents of the D- and G-step generations */
    void *mix_mask[2];       /* their style-row masks [style_count] */
    void *noise[3];          /* noise of the three generator calls */
    void *blend_buf;         /* the fade-in factor [1] */
    float *mask_host;
    void **grad_ptr;         /* scratch: per parameter gradient memory for one optimizer step */
    float *w_host;           /* [N, L] for the running mean of w */
    int keep_taps;           /* tests: plans also output their "train.*" intermediates */
    void (*phase_hook)(void *user, int phase); /* tests: called after the D-step (1) and G-step (2) */
    void *phase_user;
    /* data parallelism (trainer_comm.c): the caller's communicator (size 0: none) */
    alae_comm comm;
    void *bucket;            /* device memory that packs gradients for one all-reduce */
    size_t bucket_count;     /* its size in elements */
    float *stage;            /* host copy of the bucket, for host communicators on a device backend */
};

/* lib/train/trainer_plans.c */
int alaei_trainer_transition(const alae_trainer *t);
/* (Re)builds the four plans for batch n and real images of side real_size when the key changed. */
alae_status alaei_trainer_build_plans(alae_trainer *t, int64_t n, int64_t real_size);
void alaei_trainer_free_plans(alae_trainer *t);
/* Device memory of the plans' activations: gen's arena plus the shared arena (or the three own ones). */
size_t alaei_trainer_plan_bytes(const alae_trainer *t);

/* lib/train/trainer_comm.c: the number of ranks (1 without a communicator) and this one's. */
int32_t alaei_trainer_ranks(const alae_trainer *t);
int32_t alaei_trainer_rank(const alae_trainer *t);
/* Averages the given gradients (NULL: none) over the ranks; a no-op with one rank. */
alae_status alaei_trainer_average_grads(alae_trainer *t, void *const *grads);
/* Averages host floats over the ranks; a no-op with one rank. */
alae_status alaei_trainer_average_host(alae_trainer *t, float *host, size_t count);
void alaei_trainer_free_comm(alae_trainer *t);

#endif
