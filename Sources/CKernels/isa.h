// What the C kernels are built for, in one place (private to CKernels).
#ifndef MODELCONV_ISA_H
#define MODELCONV_ISA_H

// Portable loops compiled for AVX-512, AVX2+FMA and baseline x86-64, the CPU picking one at
// load time (target_clones).
#if defined(__x86_64__) && defined(__linux__)
#define MC_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MC_CLONES
#endif

// Hand-written AVX-512 code (functions marked target("avx512f")), taken only where
// mc_has_avx512f() says the CPU (and the OS) run it.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MC_AVX512 1

static inline int mc_has_avx512f(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}
#endif

#endif
