// The BLAS behind modelconv's float GEMM: Debian's OpenBLAS, loaded at first use.
//
// OpenBLAS (DYNAMIC_ARCH) picks its kernels once, when the library is loaded. Debian's
// 0.3.21 does not know recent CPUs and falls back to its SSE3 ("Prescott") kernels, 4-6x
// slower than its AVX2/AVX-512 ones. So the library is opened here with dlopen, not linked:
// when OPENBLAS_CORETYPE is not set, the core type is chosen from what the CPU and the OS
// support (AVX-512 F/BW/DQ/VL: SkylakeX; AVX2+FMA: Haswell; AVX: Sandybridge) and set for
// the load only, then removed again, so child processes see the environment they were given.
// A machine that sets OPENBLAS_CORETYPE (some do, for CPUs older builds mishandle) is obeyed.
// Without libopenblas the products run through plain loops (correct, slow): see
// mc_blas_backend().
#ifndef MODELCONV_BLAS_LOADER_H
#define MODELCONV_BLAS_LOADER_H

#ifdef __cplusplus
extern "C" {
#endif

/// Loads the library (once; thread-safe). Returns 1 when OpenBLAS is in use, 0 for the
/// fallback loops. Every other function calls it.
int mc_blas_load(void);

/// Row-major `C = alpha * op(A) * op(B) + beta * C`; `op(A)` is m x k, `op(B)` k x n.
/// With beta == 0, C is not read.
void mc_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);
void mc_dgemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a, int lda,
              const double *b, int ldb, double beta, double *c, int ldc);

/// OpenBLAS's thread count for the following calls (process-wide).
void mc_blas_set_threads(int n);

/// What runs the products: "OpenBLAS 0.3.21 ... SkylakeX (core type chosen from CPUID)",
/// "... (OPENBLAS_CORETYPE=...)" or "reference loops (libopenblas.so.0 not found: ...)".
const char *mc_blas_backend(void);

/// OpenBLAS's core name ("SkylakeX", "Haswell", "Prescott"...), or "none".
const char *mc_blas_core(void);

#ifdef __cplusplus
}
#endif
#endif
