/* A fixed pthread pool per CPU context: (n - 1) workers plus the calling thread.
 *
 * One job at a time: the caller publishes (fn, arg, nth), bumps the generation counter with a
 * release store under the mutex and broadcasts; every worker runs its share (ith < nth) and
 * decrements `pending`; the caller runs ith = 0 and waits until pending reaches 0 (the barrier).
 * Workers and the caller spin briefly before sleeping on a condition variable, so back-to-back
 * kernels avoid a futex round trip while idle workers do not burn a core (OpenBLAS needs the
 * cores while our pool is idle). All shared state is either atomic or protected by the mutex,
 * which keeps the pool ThreadSanitizer-clean. No global state: everything lives in the pool. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield" ::: "memory")
#else
#define CPU_RELAX() ((void)0)
#endif

/* Spin iterations before sleeping (a pause is ~10-140 cycles depending on the core). A pool with
 * more threads than online CPUs never spins: a spinning thread would steal the core of the one
 * it waits for. */
#define POOL_SPIN_WORKER 2000
#define POOL_SPIN_CALLER 20000

typedef struct pool_worker {
    struct cpu_pool *pool;
    int ith;
    pthread_t thread;
} pool_worker;

struct cpu_pool {
    int n;                 /* threads in all, caller included */
    int started;           /* workers actually started */
    int spin_worker, spin_caller;
    pool_worker *workers;  /* n - 1 of them; worker k runs ith = k + 1 */

    pthread_mutex_t mutex;
    pthread_cond_t start_cond;
    pthread_cond_t done_cond;

    atomic_uint generation; /* bumped once per job (release), read by workers (acquire) */
    atomic_int pending;     /* workers that have not finished the current job */
    atomic_int quit;

    /* the current job: written by the caller before the generation bump, read by the workers
     * after they observe it; not rewritten before every worker has decremented pending */
    cpu_task_fn fn;
    void *arg;
    int nth;
};

static void *worker_main(void *p) {
    pool_worker *w = p;
    cpu_pool *pool = w->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        for (int spin = 0; g == seen && spin < pool->spin_worker; spin++) {
            CPU_RELAX();
            g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        }
        if (g == seen) {
            pthread_mutex_lock(&pool->mutex);
            while ((g = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen)
                pthread_cond_wait(&pool->start_cond, &pool->mutex);
            pthread_mutex_unlock(&pool->mutex);
        }
        seen = g;
        if (atomic_load_explicit(&pool->quit, memory_order_acquire)) break;
        cpu_task_fn fn = pool->fn;
        void *arg = pool->arg;
        int nth = pool->nth;
        if (w->ith < nth) fn(arg, w->ith, nth);
        if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool->mutex);
            pthread_cond_signal(&pool->done_cond);
            pthread_mutex_unlock(&pool->mutex);
        }
    }
    return NULL;
}

static void pool_stop(cpu_pool *pool) {
    if (pool->started > 0) {
        pthread_mutex_lock(&pool->mutex);
        atomic_store_explicit(&pool->quit, 1, memory_order_release);
        atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
        pthread_cond_broadcast(&pool->start_cond);
        pthread_mutex_unlock(&pool->mutex);
        for (int k = 0; k < pool->started; k++) pthread_join(pool->workers[k].thread, NULL);
    }
    pool->started = 0;
}

alae_status cpu_pool_create(int nthreads, cpu_pool **out) {
    *out = NULL;
    if (nthreads < 1 || nthreads > 256)
        return alaei_fail(ALAE_E_INVALID_ARG, "cpu_pool_create", "%d threads is not in 1..256", nthreads);
    cpu_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return alaei_fail(ALAE_E_NOMEM, "cpu_pool_create", "no memory for a thread pool");
    pool->n = nthreads;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int oversubscribed = online > 0 && nthreads > online;
    pool->spin_worker = oversubscribed ? 0 : POOL_SPIN_WORKER;
    pool->spin_caller = oversubscribed ? 0 : POOL_SPIN_CALLER;
    atomic_init(&pool->generation, 0u);
    atomic_init(&pool->pending, 0);
    atomic_init(&pool->quit, 0);
    if (pthread_mutex_init(&pool->mutex, NULL) != 0) {
        free(pool);
        return alaei_fail(ALAE_E_BACKEND, "cpu_pool_create", "pthread_mutex_init failed");
    }
    pthread_cond_init(&pool->start_cond, NULL);
    pthread_cond_init(&pool->done_cond, NULL);
    if (nthreads > 1) {
        pool->workers = calloc((size_t)nthreads - 1, sizeof *pool->workers);
        if (!pool->workers) {
            cpu_pool_destroy(pool);
            return alaei_fail(ALAE_E_NOMEM, "cpu_pool_create", "no memory for %d workers", nthreads - 1);
        }
        /* Workers never handle signals: block them all while creating the threads, so the mask
         * they inherit is full; the caller's mask is restored afterwards. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int err = 0;
        for (int k = 0; k < nthreads - 1; k++) {
            pool->workers[k].pool = pool;
            pool->workers[k].ith = k + 1;
            err = pthread_create(&pool->workers[k].thread, NULL, worker_main, &pool->workers[k]);
            if (err != 0) break;
            pool->started++;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (err != 0) {
            cpu_pool_destroy(pool);
            return alaei_fail(err == EAGAIN ? ALAE_E_NOMEM : ALAE_E_BACKEND, "cpu_pool_create",
                              "could not start %d worker threads: %s", nthreads - 1, strerror(err));
        }
    }
    *out = pool;
    return ALAE_OK;
}

void cpu_pool_destroy(cpu_pool *pool) {
    if (!pool) return;
    pool_stop(pool);
    pthread_cond_destroy(&pool->start_cond);
    pthread_cond_destroy(&pool->done_cond);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->workers);
    free(pool);
}

int cpu_pool_size(const cpu_pool *pool) { return pool ? pool->n : 1; }

void cpu_pool_run(cpu_pool *pool, int nth, cpu_task_fn fn, void *arg) {
    int n = cpu_pool_size(pool);
    if (nth > n) nth = n;
    if (nth <= 1 || pool->started != n - 1) {
        if (nth < 1) nth = 1;
        /* Degenerate pool (should not happen): run every share here, in order. */
        for (int ith = 0; ith < nth; ith++) fn(arg, ith, nth);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    pool->nth = nth;
    atomic_store_explicit(&pool->pending, pool->started, memory_order_relaxed);
    pthread_mutex_lock(&pool->mutex);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->start_cond);
    pthread_mutex_unlock(&pool->mutex);

    fn(arg, 0, nth);

    int left = atomic_load_explicit(&pool->pending, memory_order_acquire);
    for (int spin = 0; left != 0 && spin < pool->spin_caller; spin++) {
        CPU_RELAX();
        left = atomic_load_explicit(&pool->pending, memory_order_acquire);
    }
    if (left != 0) {
        pthread_mutex_lock(&pool->mutex);
        while (atomic_load_explicit(&pool->pending, memory_order_acquire) != 0)
            pthread_cond_wait(&pool->done_cond, &pool->mutex);
        pthread_mutex_unlock(&pool->mutex);
    }
}

typedef struct range_job {
    cpu_range_fn fn;
    void *arg;
    int64_t n;
} range_job;

static void range_task(void *p, int ith, int nth) {
    const range_job *job = p;
    /* static partition; n * ith cannot overflow for the sizes a tensor can have (< 2^56) */
    int64_t begin = job->n * ith / nth, end = job->n * (ith + 1) / nth;
    if (begin < end) job->fn(job->arg, begin, end);
}

int cpu_parallel_nth(const cpu_pool *pool, int64_t n_items, int64_t cost_per_item) {
    if (n_items <= 1) return 1;
    if (cost_per_item < 1) cost_per_item = 1;
    int n = cpu_pool_size(pool);
    int64_t work = n_items > INT64_MAX / cost_per_item ? INT64_MAX : n_items * cost_per_item;
    int64_t nth = work < CPU_PARALLEL_MIN_WORK ? 1 : work / (CPU_PARALLEL_MIN_WORK / 2);
    if (nth > n) nth = n;
    if (nth > n_items) nth = n_items;
    return nth < 1 ? 1 : (int)nth;
}

void cpu_parallel_for_cost(cpu_pool *pool, int64_t n_items, int64_t cost_per_item, cpu_range_fn fn,
                           void *arg) {
    if (n_items <= 0) return;
    int nth = cpu_parallel_nth(pool, n_items, cost_per_item);
    if (nth <= 1) {
        fn(arg, 0, n_items);
        return;
    }
    range_job job = {fn, arg, n_items};
    cpu_pool_run(pool, nth, range_task, &job);
}

void cpu_parallel_for(cpu_pool *pool, int64_t n_items, cpu_range_fn fn, void *arg) {
    cpu_parallel_for_cost(pool, n_items, 1, fn, arg);
}
