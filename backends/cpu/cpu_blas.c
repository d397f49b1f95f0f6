/* BLAS for the CPU backend: OpenBLAS loaded with dlopen at run time (libalae never links a BLAS),
 * once per process, plus a built-in cache-blocked SGEMM as the last resort.
 *
 * Kernel selection. Debian 12's OpenBLAS 0.3.21 is a DYNAMIC_ARCH build whose cpuid tables do not
 * know some newer CPUs (AVX-512 Xeons among them); it then falls back to the Prescott (SSE3)
 * kernels, about 5x slower. So, unless the user set OPENBLAS_CORETYPE, we pick the core from our
 * own cpuid/xgetbv check (AVX-512 F+BW+DQ+VL -> SkylakeX; AVX2+FMA -> Zen on AMD family 17h/19h,
 * Haswell elsewhere), export it only for the dlopen (OpenBLAS reads it in its constructor) and
 * remove it again. When OpenBLAS is already loaded in the process we use it as it is.
 *
 * Threads. By default libalae parallelises a GEMM itself: cpu_sgemm cuts C into one slice per
 * thread of the context's pool and each thread makes a single-threaded OpenBLAS call, so
 * OpenBLAS runs with 1 thread (process-global, set when a context is created). On the MLP's
 * M = 128 GEMMs this is ~9% faster per training iteration on 2 threads than OpenBLAS's own
 * threading, which gains little on such shapes (docs/performance.md). ALAE_GEMM_SPLIT=0 (read
 * once, at the first context) gives the old behaviour: OpenBLAS with the context's thread count
 * (the last context to set it wins). Concurrent calls need an OpenBLAS built with locking
 * (Debian's pthread build is). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cpu_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define CPU_X86 1
#else
#define CPU_X86 0
#endif

#define CBLAS_ROW_MAJOR 101
#define CBLAS_NO_TRANS 111
#define CBLAS_TRANS 112

/* ------------------------------------------------------------------------------------------- */
/* CPU features                                                                                 */
/* ------------------------------------------------------------------------------------------- */

static pthread_once_t features_once = PTHREAD_ONCE_INIT;
static cpu_features features;

#if CPU_X86
static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

static void detect_features(void) {
    memset(&features, 0, sizeof features);
#if CPU_X86
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return;
    unsigned max_leaf = eax;
    char vendor[13];
    memcpy(vendor, &ebx, 4);
    memcpy(vendor + 4, &edx, 4);
    memcpy(vendor + 8, &ecx, 4);
    vendor[12] = '\0';
    features.vendor_amd = !strcmp(vendor, "AuthenticAMD") || !strcmp(vendor, "HygonGenuine");
    features.vendor_intel = !strcmp(vendor, "GenuineIntel");
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return;
    unsigned base_family = (eax >> 8) & 0xf;
    features.family = base_family == 0xf ? base_family + ((eax >> 20) & 0xff) : base_family;
    int osxsave = (ecx >> 27) & 1, cpu_avx = (ecx >> 28) & 1, cpu_fma = (ecx >> 12) & 1;
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    int os_ymm = (xcr0 & 0x6) == 0x6;            /* SSE + AVX state */
    int os_zmm = os_ymm && (xcr0 & 0xe0) == 0xe0; /* opmask + ZMM_Hi256 + Hi16_ZMM */
    features.avx = cpu_avx && os_ymm;
    features.fma = cpu_fma && features.avx;
    if (max_leaf >= 7 && __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
        features.avx2 = ((ebx >> 5) & 1) && features.avx;
        int f = (ebx >> 16) & 1, dq = (ebx >> 17) & 1, bw = (ebx >> 30) & 1, vl = (ebx >> 31) & 1;
        features.avx512 = f && dq && bw && vl && os_zmm;
    }
#endif
}

const cpu_features *cpu_get_features(void) {
    pthread_once(&features_once, detect_features);
    return &features;
}

/* 3: AVX-512, 2: AVX2+FMA, 1: AVX, 0: SSE only */
static int cpu_level(const cpu_features *f) {
    if (f->avx512) return 3;
    if (f->avx2 && f->fma) return 2;
    if (f->avx) return 1;
    return 0;
}

static const char *level_name(int level) {
    static const char *names[] = {"SSE", "AVX", "AVX2/FMA", "AVX-512"};
    return names[level < 0 ? 0 : level > 3 ? 3 : level];
}

/* The instruction-set level of an OpenBLAS core name (DYNAMIC_ARCH names or a static build's
 * upper-case CHAR_CORENAME). */
static int core_level(const char *core) {
    static const char *l3[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    static const char *l2[] = {"Haswell", "Zen", "Zen2", "Zen3", "Zen4"};
    static const char *l1[] = {"Sandybridge", "Bulldozer", "Piledriver", "Steamroller", "Excavator"};
    for (size_t i = 0; i < sizeof l3 / sizeof *l3; i++)
        if (!strcasecmp(core, l3[i])) return 3;
    for (size_t i = 0; i < sizeof l2 / sizeof *l2; i++)
        if (!strcasecmp(core, l2[i])) return 2;
    for (size_t i = 0; i < sizeof l1 / sizeof *l1; i++)
        if (!strcasecmp(core, l1[i])) return 1;
    return 0;
}

/* The OPENBLAS_CORETYPE to ask for on this CPU, or NULL to let OpenBLAS decide. */
static const char *preferred_core(const cpu_features *f) {
    if (f->avx512) return "SkylakeX";
    if (f->avx2 && f->fma) return f->vendor_amd && (f->family == 0x17 || f->family == 0x19) ? "Zen" : "Haswell";
    return NULL;
}

/* ------------------------------------------------------------------------------------------- */
/* Loading                                                                                      */
/* ------------------------------------------------------------------------------------------- */

typedef void (*set_threads_fn)(int);
typedef char *(*get_string_fn)(void);
typedef int (*get_int_fn)(void);

static struct {
    void *handle;
    cpu_cblas_sgemm_fn sgemm;
    set_threads_fn set_threads;
    get_string_fn get_corename;
    get_string_fn get_config;
    get_int_fn get_parallel;
    char corename[32];
    char description[160];
    int own_split; /* split GEMMs over the context's pool, OpenBLAS single-threaded (see cpu_sgemm) */
} blas;

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t blas_threads_mutex = PTHREAD_MUTEX_INITIALIZER;

static const char *const blas_candidates[] = {"libopenblas.so.0", "libopenblas.so", "libblas.so.3"};
#define N_CANDIDATES (sizeof blas_candidates / sizeof *blas_candidates)

/* dlsym into a function pointer without the object-to-function pointer cast warning */
static void *sym(void *handle, const char *name) { return dlsym(handle, name); }
#define LOAD_SYM(dst, handle, name)             \
    do {                                        \
        void *p_ = sym(handle, name);           \
        memcpy(&(dst), &p_, sizeof(dst));       \
    } while (0)

static int take_handle(void *handle) {
    cpu_cblas_sgemm_fn f = NULL;
    LOAD_SYM(f, handle, "cblas_sgemm");
    if (!f) return 0;
    blas.handle = handle;
    blas.sgemm = f;
    LOAD_SYM(blas.set_threads, handle, "openblas_set_num_threads");
    LOAD_SYM(blas.get_corename, handle, "openblas_get_corename");
    LOAD_SYM(blas.get_config, handle, "openblas_get_config");
    LOAD_SYM(blas.get_parallel, handle, "openblas_get_parallel");
    return 1;
}

static void describe(const char *lib, const cpu_features *f, int preloaded, const char *user_core) {
    if (!blas.get_config || !blas.get_corename) {
        snprintf(blas.description, sizeof blas.description, "cblas_sgemm from %s", lib);
        alaei_log(ALAE_LOG_INFO, "cpu backend: GEMM kernels: %s (not OpenBLAS)", blas.description);
        return;
    }
    const char *config = blas.get_config();
    const char *core = blas.get_corename();
    if (!config) config = "";
    if (!core) core = "unknown";
    snprintf(blas.corename, sizeof blas.corename, "%s", core);
    /* config: "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64" */
    char version[32] = "";
    if (!strncmp(config, "OpenBLAS ", 9)) {
        size_t n = strcspn(config + 9, " ");
        if (n >= sizeof version) n = sizeof version - 1;
        memcpy(version, config + 9, n);
        version[n] = '\0';
    }
    int dynamic = strstr(config, "DYNAMIC_ARCH") != NULL;
    snprintf(blas.description, sizeof blas.description, "OpenBLAS%s%s %s kernels%s", version[0] ? " " : "",
             version, core, dynamic ? " (DYNAMIC_ARCH)" : "");
    int parallel = blas.get_parallel ? blas.get_parallel() : -1;
    alaei_log(ALAE_LOG_INFO, "cpu backend: GEMM kernels: %s [%s; %s; parallel=%d%s]", blas.description,
              config, lib, parallel, preloaded ? "; already loaded by the process" : "");
    if (user_core)
        alaei_log(ALAE_LOG_INFO, "cpu backend: OPENBLAS_CORETYPE=%s was chosen by the user", user_core);
    int have = core_level(core), can = cpu_level(f);
    if (have < can)
        alaei_log(ALAE_LOG_WARN,
                  "cpu backend: OpenBLAS uses its %s kernels (%s) although this CPU supports %s; GEMMs "
                  "will be slower than they could be%s",
                  core, level_name(have), level_name(can),
                  user_core ? " (OPENBLAS_CORETYPE was set by the user)"
                  : preloaded ? " (OpenBLAS was loaded before libalae; set OPENBLAS_CORETYPE)"
                              : " (set OPENBLAS_CORETYPE to override)");
}

static void load_blas(void) {
    const cpu_features *f = cpu_get_features();
    /* 1. Already in the process? Then use it as it is; its kernels are chosen already. */
    for (size_t i = 0; i < N_CANDIDATES; i++) {
        void *h = dlopen(blas_candidates[i], RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
        if (h && take_handle(h)) {
            describe(blas_candidates[i], f, 1, getenv("OPENBLAS_CORETYPE"));
            return;
        }
    }
    {
        void *probe = NULL;
        LOAD_SYM(probe, RTLD_DEFAULT, "openblas_get_config");
        if (probe && take_handle(RTLD_DEFAULT)) {
            describe("the process's global symbols", f, 1, getenv("OPENBLAS_CORETYPE"));
            return;
        }
        blas.handle = NULL;
    }
    /* 2. Load it, choosing the kernels unless the user did. getenv/setenv are not thread-safe
     *    against each other; this runs once, normally at the first context creation. */
    const char *split = getenv("ALAE_GEMM_SPLIT");
    blas.own_split = !(split && strcmp(split, "0") == 0);
    const char *user_core = getenv("OPENBLAS_CORETYPE");
    const char *chosen = NULL;
    if (!user_core) {
        chosen = preferred_core(f);
        if (chosen && setenv("OPENBLAS_CORETYPE", chosen, 1) != 0) chosen = NULL;
    }
    /* OpenBLAS' worker threads busy-wait for 2^28 cycles after each call by default; between
     * GEMMs they would steal the cores our own pool runs the other kernels on (measured: 2
     * threads 3x slower than 1). 2^4 cycles makes them sleep at once; the user may override. */
    int set_timeout = !getenv("OPENBLAS_THREAD_TIMEOUT") && setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1) == 0;
    const char *lib = NULL;
    for (size_t i = 0; i < N_CANDIDATES && !lib; i++) {
        /* never dlclose'd: OpenBLAS starts threads in its constructor */
        void *h = dlopen(blas_candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (h && take_handle(h)) lib = blas_candidates[i];
    }
    if (chosen) unsetenv("OPENBLAS_CORETYPE");
    if (set_timeout) unsetenv("OPENBLAS_THREAD_TIMEOUT");
    if (!lib) {
        snprintf(blas.description, sizeof blas.description, "built-in SGEMM (no BLAS found)");
        alaei_log(ALAE_LOG_WARN,
                  "cpu backend: no BLAS found (tried libopenblas.so.0, libopenblas.so, libblas.so.3); "
                  "using the built-in SGEMM, which is slower than OpenBLAS: install OpenBLAS "
                  "(e.g. apt install libopenblas0)");
        return;
    }
    if (chosen)
        alaei_log(ALAE_LOG_INFO, "cpu backend: asked OpenBLAS for its %s kernels (cpuid: %s)", chosen,
                  level_name(cpu_level(f)));
    describe(lib, f, 0, user_core);
}

void cpu_blas_init(void) { pthread_once(&blas_once, load_blas); }

const char *alaei_cpu_blas_description(void) {
    cpu_blas_init();
    return blas.description;
}

const char *cpu_blas_corename(void) {
    cpu_blas_init();
    return blas.corename;
}

cpu_cblas_sgemm_fn cpu_blas_raw_sgemm(void) {
    cpu_blas_init();
    return blas.sgemm;
}

int cpu_blas_own_split(void) {
    cpu_blas_init();
    return blas.sgemm && blas.own_split;
}

void cpu_blas_raw_set_threads(int n) {
    cpu_blas_init();
    if (!blas.set_threads || n < 1) return;
    pthread_mutex_lock(&blas_threads_mutex);
    blas.set_threads(n);
    pthread_mutex_unlock(&blas_threads_mutex);
}

void cpu_blas_set_threads(int n) {
    cpu_blas_init();
    /* with the split, cpu_sgemm parallelises over the context's pool itself */
    cpu_blas_raw_set_threads(blas.own_split && n >= 1 ? 1 : n);
}

/* ------------------------------------------------------------------------------------------- */
/* SGEMM                                                                                        */
/* ------------------------------------------------------------------------------------------- */

static int fits_int(int64_t v) { return v >= 0 && v <= 0x7fffffff; }

static void scale_c(int64_t m, int64_t n, float beta, float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        float *row = c + i * ldc;
        if (beta == 0.0f)
            memset(row, 0, (size_t)n * sizeof(float));
        else if (beta != 1.0f)
            for (int64_t j = 0; j < n; j++) row[j] *= beta;
    }
}

/* One OpenBLAS call per pool thread on a slice of C: rows (M) or columns (N), whichever is
 * longer, cut at multiples of 16 so that slices stay aligned to the kernels' panels. */
typedef struct blas_split_args {
    int trans_a, trans_b, split_m;
    int64_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
} blas_split_args;

static void slice_bounds(int64_t len, int ith, int nth, int64_t *lo, int64_t *hi) {
    int64_t units = (len + 15) / 16;
    int64_t u0 = units * ith / nth, u1 = units * (ith + 1) / nth;
    *lo = u0 * 16;
    *hi = u1 * 16 < len ? u1 * 16 : len;
}

static void blas_split_task(void *p, int ith, int nth) {
    const blas_split_args *g = p;
    int64_t lo, hi;
    slice_bounds(g->split_m ? g->m : g->n, ith, nth, &lo, &hi);
    if (lo >= hi) return;
    const float *a = g->a, *b = g->b;
    float *c = g->c;
    int64_t m = g->m, n = g->n;
    if (g->split_m) {
        a += g->trans_a ? lo : lo * g->lda;
        c += lo * g->ldc;
        m = hi - lo;
    } else {
        b += g->trans_b ? lo * g->ldb : lo;
        c += lo;
        n = hi - lo;
    }
    blas.sgemm(CBLAS_ROW_MAJOR, g->trans_a ? CBLAS_TRANS : CBLAS_NO_TRANS, g->trans_b ? CBLAS_TRANS : CBLAS_NO_TRANS,
               (int)m, (int)n, (int)g->k, g->alpha, a, (int)g->lda, b, (int)g->ldb, g->beta, c, (int)g->ldc);
}

/* Threads for one GEMM split by cpu_sgemm: 1 (a plain call) below ~4 MFLOP or 32 rows/columns
 * per thread, where the fork/join would cost more than it saves. */
static int split_threads(const cpu_ctx *ctx, int64_t m, int64_t n, int64_t k) {
    if (!blas.own_split || !ctx || !ctx->pool) return 1;
    int nth = cpu_pool_size(ctx->pool);
    if (2.0 * (double)m * (double)n * (double)k < 4.0e6) return 1;
    int64_t longest = m > n ? m : n;
    if (longest / 32 < nth) nth = (int)(longest / 32);
    return nth < 1 ? 1 : nth;
}

alae_status cpu_sgemm(cpu_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                      float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                      float beta, float *c, int64_t ldc) {
    if (m <= 0 || n <= 0) return ALAE_OK;
    if (k <= 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return ALAE_OK;
    }
    cpu_blas_init();
    if (blas.sgemm && fits_int(m) && fits_int(n) && fits_int(k) && fits_int(lda) && fits_int(ldb) &&
        fits_int(ldc)) {
        int nth = split_threads(ctx, m, n, k);
        if (nth > 1) {
            blas_split_args g = {trans_a, trans_b, m >= n, m, n, k, lda, ldb, ldc, alpha, beta, a, b, c};
            cpu_pool_run(ctx->pool, nth, blas_split_task, &g);
            return ALAE_OK;
        }
        blas.sgemm(CBLAS_ROW_MAJOR, trans_a ? CBLAS_TRANS : CBLAS_NO_TRANS,
                   trans_b ? CBLAS_TRANS : CBLAS_NO_TRANS, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                   (int)ldb, beta, c, (int)ldc);
        return ALAE_OK;
    }
    return cpu_sgemm_builtin(ctx, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* ---- the built-in kernel: GotoBLAS-style blocking with packed panels and a 6 x 16 register
 * micro-kernel (AVX2+FMA intrinsics, or portable C), picked at run time. ---- */
#define MR 6
#define NR 16
#define MC 120
#define KC 256
#define NC 1024

typedef struct sgemm_args {
    int trans_a, trans_b;
    int64_t m, n, k;
    float alpha, beta;
    const float *a, *b;
    int64_t lda, ldb, ldc;
    float *c;
    float *buffers;        /* per thread: MC*KC (A panel) + KC*NC (B panel) floats */
    size_t per_thread;     /* floats per thread */
    int split_m;           /* partition rows (else columns) of C among threads */
} sgemm_args;

/* op(A) rows [i0, i0+mc) x cols [p0, p0+kc) -> MR-row slivers, [sliver][p][MR], zero padded */
static void pack_a(const sgemm_args *g, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float *dst) {
    for (int64_t is = 0; is < mc; is += MR) {
        int64_t rows = mc - is < MR ? mc - is : MR;
        if (g->trans_a) { /* rows are contiguous along i */
            for (int64_t p = 0; p < kc; p++) {
                const float *src = g->a + (p0 + p) * g->lda + i0 + is;
                for (int64_t r = 0; r < MR; r++) dst[r] = r < rows ? src[r] : 0.0f;
                dst += MR;
            }
        } else {
            for (int64_t r = 0; r < MR; r++) {
                const float *src = g->a + (i0 + is + r) * g->lda + p0;
                for (int64_t p = 0; p < kc; p++) dst[p * MR + r] = r < rows ? src[p] : 0.0f;
            }
            dst += kc * MR;
        }
    }
}

/* op(B) rows [p0, p0+kc) x cols [j0, j0+nc) -> NR-column slivers, [sliver][p][NR], zero padded */
static void pack_b(const sgemm_args *g, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float *dst) {
    for (int64_t js = 0; js < nc; js += NR) {
        int64_t cols = nc - js < NR ? nc - js : NR;
        if (!g->trans_b) {
            for (int64_t p = 0; p < kc; p++) {
                const float *src = g->b + (p0 + p) * g->ldb + j0 + js;
                if (cols == NR)
                    memcpy(dst, src, NR * sizeof(float));
                else
                    for (int64_t c = 0; c < NR; c++) dst[c] = c < cols ? src[c] : 0.0f;
                dst += NR;
            }
        } else {
            for (int64_t c = 0; c < NR; c++) {
                const float *src = g->b + (j0 + js + c) * g->ldb + p0;
                for (int64_t p = 0; p < kc; p++) dst[p * NR + c] = c < cols ? src[p] : 0.0f;
            }
            dst += kc * NR;
        }
    }
}

/* C[rows x cols] (= or +=) alpha * acc, with beta applied on the first K block only */
static void store_tile(const float *acc, float *c, int64_t ldc, int rows, int cols, float alpha, float beta,
                       int first) {
    for (int r = 0; r < rows; r++) {
        float *cr = c + r * ldc;
        const float *ar = acc + r * NR;
        if (first && beta == 0.0f)
            for (int j = 0; j < cols; j++) cr[j] = alpha * ar[j];
        else if (first && beta != 1.0f)
            for (int j = 0; j < cols; j++) cr[j] = alpha * ar[j] + beta * cr[j];
        else
            for (int j = 0; j < cols; j++) cr[j] += alpha * ar[j];
    }
}

typedef void (*micro_fn)(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc, int rows,
                         int cols, float alpha, float beta, int first);

static void micro_plain(int64_t kc, const float *restrict pa, const float *restrict pb, float *restrict c,
                        int64_t ldc, int rows, int cols, float alpha, float beta, int first) {
    float acc[MR * NR];
    for (int t = 0; t < MR * NR; t++) acc[t] = 0.0f;
    for (int64_t p = 0; p < kc; p++) {
        const float *bp = pb + p * NR;
        for (int r = 0; r < MR; r++) {
            float av = pa[p * MR + r];
            for (int j = 0; j < NR; j++) acc[r * NR + j] += av * bp[j];
        }
    }
    store_tile(acc, c, ldc, rows, cols, alpha, beta, first);
}

#if CPU_X86
__attribute__((target("avx2,fma"))) static void micro_avx2(int64_t kc, const float *restrict pa,
                                                           const float *restrict pb, float *restrict c,
                                                           int64_t ldc, int rows, int cols, float alpha,
                                                           float beta, int first) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
           c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t p = 0; p < kc; p++) {
        const __m256 b0 = _mm256_loadu_ps(pb), b1 = _mm256_loadu_ps(pb + 8);
        __m256 a;
        a = _mm256_broadcast_ss(pa + 0);
        c00 = _mm256_fmadd_ps(a, b0, c00);
        c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(pa + 1);
        c10 = _mm256_fmadd_ps(a, b0, c10);
        c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(pa + 2);
        c20 = _mm256_fmadd_ps(a, b0, c20);
        c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(pa + 3);
        c30 = _mm256_fmadd_ps(a, b0, c30);
        c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(pa + 4);
        c40 = _mm256_fmadd_ps(a, b0, c40);
        c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(pa + 5);
        c50 = _mm256_fmadd_ps(a, b0, c50);
        c51 = _mm256_fmadd_ps(a, b1, c51);
        pa += MR;
        pb += NR;
    }
    float acc[MR * NR];
    _mm256_storeu_ps(acc + 0, c00);
    _mm256_storeu_ps(acc + 8, c01);
    _mm256_storeu_ps(acc + 16, c10);
    _mm256_storeu_ps(acc + 24, c11);
    _mm256_storeu_ps(acc + 32, c20);
    _mm256_storeu_ps(acc + 40, c21);
    _mm256_storeu_ps(acc + 48, c30);
    _mm256_storeu_ps(acc + 56, c31);
    _mm256_storeu_ps(acc + 64, c40);
    _mm256_storeu_ps(acc + 72, c41);
    _mm256_storeu_ps(acc + 80, c50);
    _mm256_storeu_ps(acc + 88, c51);
    store_tile(acc, c, ldc, rows, cols, alpha, beta, first);
}
#endif

static micro_fn pick_micro(void) {
#if CPU_X86
    const cpu_features *f = cpu_get_features();
    if (f->avx2 && f->fma) return micro_avx2;
#endif
    return micro_plain;
}

/* C rows [i_begin, i_end) x cols [j_begin, j_end), all of K, with this thread's buffers */
static void sgemm_block(const sgemm_args *g, int64_t i_begin, int64_t i_end, int64_t j_begin, int64_t j_end,
                        float *buf) {
    micro_fn micro = pick_micro();
    float *pa = buf, *pb = buf + MC * KC;
    for (int64_t jc = j_begin; jc < j_end; jc += NC) {
        int64_t nc = j_end - jc < NC ? j_end - jc : NC;
        for (int64_t pc = 0; pc < g->k; pc += KC) {
            int64_t kc = g->k - pc < KC ? g->k - pc : KC;
            pack_b(g, pc, kc, jc, nc, pb);
            for (int64_t ic = i_begin; ic < i_end; ic += MC) {
                int64_t mc = i_end - ic < MC ? i_end - ic : MC;
                pack_a(g, ic, mc, pc, kc, pa);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    int cols = (int)(nc - jr < NR ? nc - jr : NR);
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        int rows = (int)(mc - ir < MR ? mc - ir : MR);
                        micro(kc, pa + ir * kc, pb + jr * kc, g->c + (ic + ir) * g->ldc + jc + jr, g->ldc, rows,
                              cols, g->alpha, g->beta, pc == 0);
                    }
                }
            }
        }
    }
}

static void sgemm_task(void *p, int ith, int nth) {
    const sgemm_args *g = p;
    float *buf = g->buffers + (size_t)ith * g->per_thread;
    if (g->split_m) {
        int64_t blocks = (g->m + MR - 1) / MR;
        int64_t b0 = blocks * ith / nth, b1 = blocks * (ith + 1) / nth;
        int64_t i0 = b0 * MR, i1 = b1 * MR < g->m ? b1 * MR : g->m;
        if (i0 < i1) sgemm_block(g, i0, i1, 0, g->n, buf);
    } else {
        int64_t blocks = (g->n + NR - 1) / NR;
        int64_t b0 = blocks * ith / nth, b1 = blocks * (ith + 1) / nth;
        int64_t j0 = b0 * NR, j1 = b1 * NR < g->n ? b1 * NR : g->n;
        if (j0 < j1) sgemm_block(g, 0, g->m, j0, j1, buf);
    }
}

alae_status cpu_sgemm_builtin(cpu_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                              float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                              float beta, float *c, int64_t ldc) {
    if (m <= 0 || n <= 0) return ALAE_OK;
    if (k <= 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return ALAE_OK;
    }
    sgemm_args g = {trans_a, trans_b, m, n, k, alpha, beta, a, b, lda, ldb, ldc, c, NULL, 0, m >= n};
    cpu_pool *pool = ctx ? ctx->pool : NULL;
    int nth = cpu_pool_size(pool);
    double flops = 2.0 * (double)m * (double)n * (double)k;
    if (flops < 4.0e6) nth = 1;
    int64_t units = g.split_m ? (m + MR - 1) / MR : (n + NR - 1) / NR;
    if (units < nth) nth = (int)units;
    if (nth < 1) nth = 1;
    g.per_thread = (size_t)MC * KC + (size_t)KC * NC;
    size_t bytes = g.per_thread * sizeof(float) * (size_t)nth;
    void *mine = NULL;
    if (ctx) {
        g.buffers = cpu_scratch(ctx, bytes);
    } else {
        mine = malloc(bytes);
        g.buffers = mine;
    }
    if (!g.buffers)
        return alaei_fail(ALAE_E_NOMEM, "cpu_sgemm", "no memory for %zu bytes of GEMM packing buffers", bytes);
    if (nth == 1)
        sgemm_task(&g, 0, 1);
    else
        cpu_pool_run(pool, nth, sgemm_task, &g);
    free(mine);
    return ALAE_OK;
}
