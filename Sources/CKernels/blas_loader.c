// See include/blas_loader.h.
#define _GNU_SOURCE
#include "blas_loader.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double *, int, const double *, int,
                         double, double *, int);
typedef void (*set_threads_fn)(int);
typedef char *(*string_fn)(void);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static sgemm_fn p_sgemm;
static dgemm_fn p_dgemm;
static set_threads_fn p_set_threads;
static string_fn p_corename;
static char backend[512] = "reference loops";

/// The OpenBLAS core type for this CPU, or NULL to leave the choice to OpenBLAS.
/// __builtin_cpu_supports checks that the OS saves the wider registers too (XCR0).
static const char *core_for_cpu(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    if (__builtin_cpu_supports("avx")) return "Sandybridge";
#endif
    return NULL;
}

static void load(void) {
    const char *given = getenv("OPENBLAS_CORETYPE");
    const char *chosen = given ? NULL : core_for_cpu();
    if (chosen) setenv("OPENBLAS_CORETYPE", chosen, 1);
    // One thread at load unless the environment says otherwise: modelconv runs its products
    // single-threaded from its own threads, and OpenBLAS's idle server threads spin
    // (sched_yield) after start-up, on the core the interpreter's other work wants.
    // openblas_set_num_threads starts threads later where a kernel asks for them.
    const int one_thread = !getenv("OPENBLAS_NUM_THREADS") && !getenv("GOTO_NUM_THREADS") && !getenv("OMP_NUM_THREADS");
    if (one_thread) setenv("OPENBLAS_NUM_THREADS", "1", 1);
    void *lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen("libopenblas.so", RTLD_NOW | RTLD_LOCAL);
    if (chosen) unsetenv("OPENBLAS_CORETYPE");
    if (one_thread) unsetenv("OPENBLAS_NUM_THREADS");
    if (!lib) {
        const char *e = dlerror();
        snprintf(backend, sizeof backend, "reference loops (libopenblas.so.0 not found: %s)", e ? e : "?");
        return;
    }
    p_sgemm = (sgemm_fn)dlsym(lib, "cblas_sgemm");
    p_dgemm = (dgemm_fn)dlsym(lib, "cblas_dgemm");
    p_set_threads = (set_threads_fn)dlsym(lib, "openblas_set_num_threads");
    p_corename = (string_fn)dlsym(lib, "openblas_get_corename");
    string_fn config = (string_fn)dlsym(lib, "openblas_get_config");
    if (!p_sgemm || !p_dgemm) {
        p_sgemm = NULL;
        p_dgemm = NULL;
        snprintf(backend, sizeof backend, "reference loops (libopenblas.so.0 lacks cblas_sgemm/cblas_dgemm)");
        return;
    }
    char how[128];
    if (given)
        snprintf(how, sizeof how, "OPENBLAS_CORETYPE=%s", given);
    else if (chosen)
        snprintf(how, sizeof how, "core type chosen from CPUID");
    else
        snprintf(how, sizeof how, "OpenBLAS's own CPU detection");
    snprintf(backend, sizeof backend, "%s, core %s (%s)", config ? config() : "OpenBLAS",
             p_corename ? p_corename() : "?", how);
}

int mc_blas_load(void) {
    pthread_once(&once, load);
    return p_sgemm != NULL;
}

const char *mc_blas_backend(void) {
    mc_blas_load();
    return backend;
}

const char *mc_blas_core(void) {
    mc_blas_load();
    return p_corename ? p_corename() : "none";
}

void mc_blas_set_threads(int n) {
    if (mc_blas_load() && p_set_threads) p_set_threads(n < 1 ? 1 : n);
}

// The fallback: C = alpha * op(A) * op(B) + beta * C with plain loops (i-p-j order).
#define REFERENCE_GEMM(NAME, T)                                                                        \
    static void NAME(int ta, int tb, int m, int n, int k, T alpha, const T *a, int lda, const T *b,   \
                     int ldb, T beta, T *c, int ldc) {                                                 \
        for (int i = 0; i < m; i++) {                                                                  \
            T *row = c + (long)i * ldc;                                                                \
            for (int j = 0; j < n; j++) row[j] = beta == 0 ? 0 : beta * row[j];                       \
            for (int p = 0; p < k; p++) {                                                              \
                T x = alpha * (ta ? a[(long)p * lda + i] : a[(long)i * lda + p]);                      \
                if (tb)                                                                                \
                    for (int j = 0; j < n; j++) row[j] += x * b[(long)j * ldb + p];                    \
                else                                                                                   \
                    for (int j = 0; j < n; j++) row[j] += x * b[(long)p * ldb + j];                    \
            }                                                                                          \
        }                                                                                              \
    }
REFERENCE_GEMM(reference_sgemm, float)
REFERENCE_GEMM(reference_dgemm, double)

void mc_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
              int ldb, float beta, float *c, int ldc) {
    if (mc_blas_load())
        p_sgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        reference_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void mc_dgemm(int ta, int tb, int m, int n, int k, double alpha, const double *a, int lda, const double *b,
              int ldb, double beta, double *c, int ldc) {
    if (mc_blas_load())
        p_dgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        reference_dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
