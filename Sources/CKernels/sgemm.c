// See include/sgemm.h.
//
// The shape is BLIS's: B (the image side) is packed a block at a time into NR-wide panels,
// and a 12 x 32 micro-kernel keeps its 24 zmm accumulators in registers for a whole k block.
// Loops, outer to inner: columns by NC (the packed B block stays in L2), k by KC, rows by
// MR, columns by NR. A (the weights) is not packed: the kernel broadcasts from its twelve
// rows in place. In L1 that runs at 100 GFLOP/s against 157 from a packed panel, but
// over whole convolutions the two measured the same on every ResNet-50 shape except the
// 7x7 maps, where packing (even with a register transpose) cost 25-30%: each packed panel
// serves only two micro-kernel calls there. Packing B straight from the image (the
// implicit im2col) replaces the col buffer and its second pass. KC (192-512) and NC
// (256-2048) measured flat.
#include "sgemm.h"
#include "epilogue.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MC_HAVE_AVX512_KERNEL 1
#endif

enum { MR = 12, NR = 32, KC_MAX = 384, NC_MAX = 512 };

long mc_sgemm_workspace_floats(void) {
    // Packed B block, one gathered image row, and slack to align.
    return (long)KC_MAX * NC_MAX + NC_MAX + 16;
}

#ifdef MC_HAVE_AVX512_KERNEL

int mc_sgemm_available(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return cached;
}

/// One row of the implicit im2col matrix: tap (c, ky, kx) for output positions
/// start ..< start + count, into `out`.
static void gather_row(const float *x, const mc_conv2d_geometry *g, int c, int ky, int kx, long start, int count,
                       float *restrict out) {
    const float *plane = x + (long)c * g->in_h * g->in_w;
    long n = start;
    const long end = start + count;
    int oy = (int)(n / g->out_w), ox = (int)(n % g->out_w);
    while (n < end) {
        int run = g->out_w - ox;
        if (run > end - n) run = (int)(end - n);
        const int iy = oy * g->stride_h - g->pad_top + ky * g->dilation_h;
        if (iy < 0 || iy >= g->in_h) {
            memset(out, 0, sizeof(float) * (size_t)run);
        } else {
            const float *src = plane + (long)iy * g->in_w;
            const int ix0 = ox * g->stride_w - g->pad_left + kx * g->dilation_w;
            if (g->stride_w == 1) {
                int lo = ix0 < 0 ? -ix0 : 0;
                if (lo > run) lo = run;
                int hi = g->in_w - ix0;
                if (hi > run) hi = run;
                if (hi < lo) hi = lo;
                if (lo > 0) memset(out, 0, sizeof(float) * (size_t)lo);
                if (hi > lo) memcpy(out + lo, src + ix0 + lo, sizeof(float) * (size_t)(hi - lo));
                if (run > hi) memset(out + hi, 0, sizeof(float) * (size_t)(run - hi));
            } else {
                const int sw = g->stride_w;
                for (int t = 0; t < run; t++) {
                    const int ix = ix0 + t * sw;
                    out[t] = (unsigned)ix < (unsigned)g->in_w ? src[ix] : 0.0f;
                }
            }
        }
        out += run;
        n += run;
        ox = 0;
        oy++;
    }
}

/// Copies `count` floats of row `k` into the NR-wide panels of `bp` (panel p holds columns
/// p*NR ..< p*NR + NR for all kc rows), zero-filling the last panel's tail. (Two masked
/// vector moves a panel: memcpy of 128 bytes compiles to `rep movsq`, several times slower.)
__attribute__((target("avx512f"))) static inline void scatter_row(const float *restrict row, int count, int k, int kc,
                                                                  float *restrict bp) {
    float *dst = bp + (long)k * NR;
    const long panel = (long)kc * NR;
    int col = 0;
    for (; col + NR <= count; col += NR, dst += panel) {
        _mm512_store_ps(dst, _mm512_loadu_ps(row + col));
        _mm512_store_ps(dst + 16, _mm512_loadu_ps(row + col + 16));
    }
    if (col < count) {
        const int w = count - col;
        const __mmask16 m0 = w >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << w) - 1);
        const __mmask16 m1 = w <= 16 ? 0 : (__mmask16)((1u << (w - 16)) - 1);
        _mm512_store_ps(dst, _mm512_maskz_loadu_ps(m0, row + col));
        _mm512_store_ps(dst + 16, _mm512_maskz_loadu_ps(m1, row + col + 16));
    }
}

__attribute__((target("avx512f"))) static void pack_b(const float *b, long ldb, const mc_conv2d_geometry *g, long col0, int k0, int kc, int nc,
                   float *restrict bp, float *restrict rowbuf) {
    if (!g) {
        for (int k = 0; k < kc; k++) scatter_row(b + (long)(k0 + k) * ldb + col0, nc, k, kc, bp);
        return;
    }
    const int taps = g->kernel_h * g->kernel_w;
    for (int k = 0; k < kc; k++) {
        const int kk = k0 + k, c = kk / taps, tap = kk % taps;
        gather_row(b, g, c, tap / g->kernel_w, tap % g->kernel_w, col0, nc, rowbuf);
        scatter_row(rowbuf, nc, k, kc, bp);
    }
}

__attribute__((target("avx512f"))) static void
kernel_12x32(long kc, const float *restrict a, long lda, const float *restrict bp, float *restrict c, long ldc, int rows,
             int cols, int accumulate, const float *bias, const float *residual, long ldr, int clamp, float lo,
             float hi) {
    __m512 s0[MR], s1[MR];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        s0[i] = _mm512_setzero_ps();
        s1[i] = _mm512_setzero_ps();
    }
    const float *r[MR];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) r[i] = a + (long)(i < rows ? i : rows - 1) * lda;
    for (long k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            const __m512 av = _mm512_set1_ps(r[i][k]);
            s0[i] = _mm512_fmadd_ps(av, b0, s0[i]);
            s1[i] = _mm512_fmadd_ps(av, b1, s1[i]);
        }
        bp += NR;
    }
    const __mmask16 m0 = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1);
    const __mmask16 m1 = cols >= 32 ? (__mmask16)0xFFFF : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        if (i >= rows) break;
        float *row = c + (long)i * ldc;
        __m512 v0 = s0[i], v1 = s1[i];
        if (accumulate) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, row));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, row + 16));
        }
        if (bias) {
            const __m512 bv = _mm512_set1_ps(bias[i]);
            v0 = _mm512_add_ps(v0, bv);
            v1 = _mm512_add_ps(v1, bv);
        }
        if (residual) {
            const float *add = residual + (long)i * ldr;
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, add));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, add + 16));
        }
        if (clamp) {
            // max/min with the value second keep a NaN (the comparison fails, the value wins).
            v0 = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v0));
            v1 = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v1));
        }
        _mm512_mask_storeu_ps(row, m0, v0);
        _mm512_mask_storeu_ps(row + 16, m1, v1);
    }
}

int mc_sgemm_f32(int m, int n, int k, const float *a, long lda, const float *b, long ldb,
                 const mc_conv2d_geometry *geometry, long col0, float *c, long ldc, const float *bias,
                 const float *residual, long ldr, int clamp, float lo, float hi, float *workspace) {
    if (!mc_sgemm_available()) return 0;
    if (m <= 0 || n <= 0) return 1;
    if (k <= 0) {
        for (int i = 0; i < m; i++) memset(c + (long)i * ldc, 0, sizeof(float) * (size_t)n);
        mc_conv_epilogue_f32(c, m, n, ldc, bias, residual, clamp, lo, hi);
        return 1;
    }
    float *bp = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    float *rowbuf = bp + (long)KC_MAX * NC_MAX;
    // Equal k blocks: no short last block.
    const int kblocks = (k + KC_MAX - 1) / KC_MAX;
    const int kcu = (k + kblocks - 1) / kblocks;
    for (int jc = 0; jc < n; jc += NC_MAX) {
        const int nc = n - jc < NC_MAX ? n - jc : NC_MAX;
        for (int pc = 0; pc < k; pc += kcu) {
            const int kc = k - pc < kcu ? k - pc : kcu;
            const int last = pc + kc == k;
            if (geometry)
                pack_b(b, 0, geometry, col0 + jc, pc, kc, nc, bp, rowbuf);
            else
                pack_b(b + jc, ldb, NULL, 0, pc, kc, nc, bp, rowbuf);
            for (int ir = 0; ir < m; ir += MR) {
                const int rows = m - ir < MR ? m - ir : MR;
                for (int jr = 0; jr < nc; jr += NR) {
                    kernel_12x32(kc, a + (long)ir * lda + pc, lda, bp + (long)(jr / NR) * kc * NR, c + (long)ir * ldc + jc + jr, ldc, rows,
                                 nc - jr < NR ? nc - jr : NR, pc > 0, last && bias ? bias + ir : NULL,
                                 last && residual ? residual + (long)ir * ldr + jc + jr : NULL, ldr, last && clamp,
                                 lo, hi);
                }
            }
        }
    }
    return 1;
}

#else

int mc_sgemm_available(void) { return 0; }

int mc_sgemm_f32(int m, int n, int k, const float *a, long lda, const float *b, long ldb,
                 const mc_conv2d_geometry *geometry, long col0, float *c, long ldc, const float *bias,
                 const float *residual, long ldr, int clamp, float lo, float hi, float *workspace) {
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)geometry, (void)col0, (void)c;
    (void)ldc, (void)bias, (void)residual, (void)ldr, (void)clamp, (void)lo, (void)hi, (void)workspace;
    return 0;
}

#endif
