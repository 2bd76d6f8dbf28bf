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
#include "isa.h"

#include <stdint.h>
#include <string.h>

enum { MR = 12, NR = 32, KC_MAX = 384, NC_MAX = 512 };

long mc_sgemm_workspace_floats(void) {
    // Packed B block, one gathered image row, and slack to align.
    return (long)KC_MAX * NC_MAX + NC_MAX + 16;
}

#ifdef MC_AVX512

int mc_sgemm_available(void) { return mc_has_avx512f(); }

/// One row of the implicit im2col matrix: tap (c, ky, kx) for output positions
/// start ..< start + count, into `out`.
__attribute__((target("avx512f"))) static void gather_row(const float *x, const mc_conv2d_geometry *g, int c, int ky, int kx, long start, int count,
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
            } else if (g->stride_w == 2) {
                // Even lanes of 32 loaded floats per 16 outputs (ResNet's 7x7/2 stem, the
                // stride-2 3x3 and 1x1 convolutions); scalar at the edges.
                int lo = ix0 < 0 ? (-ix0 + 1) / 2 : 0;
                if (lo > run) lo = run;
                int hi = g->in_w - 1 - ix0 < 0 ? 0 : (g->in_w - 1 - ix0) / 2 + 1;
                if (hi > run) hi = run;
                if (hi < lo) hi = lo;
                for (int t = 0; t < lo; t++) out[t] = 0.0f;
                const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                int t = lo;
                for (; t + 16 <= hi && ix0 + 2 * t + 32 <= g->in_w; t += 16) {
                    const float *p = src + ix0 + 2 * t;
                    _mm512_storeu_ps(out + t, _mm512_permutex2var_ps(_mm512_loadu_ps(p), even, _mm512_loadu_ps(p + 16)));
                }
                for (; t < hi; t++) out[t] = src[ix0 + 2 * t];
                for (t = hi; t < run; t++) out[t] = 0.0f;
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

/// Stores the accumulators of a 12 x 32 tile (rows < `rows`, lanes in masks m0/m1): adds C
/// when `accumulate` (a later k block), then the epilogue.
__attribute__((target("avx512f"), always_inline)) static inline void
store_tile(const __m512 s0[MR], const __m512 s1[MR], __mmask16 m0, __mmask16 m1, int rows, float *restrict c, long ldc,
           int accumulate, const float *bias, const float *residual, long ldr, int clamp, float lo, float hi) {
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


__attribute__((target("avx512f"), always_inline)) static inline void
kernel_12x32_body(int full, int mr, long kc, const float *restrict a, long lda, const float *restrict b, long ldb, float *restrict c, long ldc,
             int rows, int cols, int accumulate, const float *bias, const float *residual, long ldr, int clamp, float lo,
             float hi) {
    const __mmask16 m0 = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1);
    const __mmask16 m1 = cols >= 32 ? (__mmask16)0xFFFF : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    __m512 s0[MR], s1[MR];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        s0[i] = _mm512_setzero_ps();
        s1[i] = _mm512_setzero_ps();
    }
    const float *r[MR];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) r[i] = a + (long)(i < rows ? i : rows - 1) * lda;
    for (long k = 0; k < kc; k++) {
        // Plain loads for whole panels: masked ones measured 12-15% slower over whole convolutions.
        const __m512 b0 = full ? _mm512_loadu_ps(b) : _mm512_maskz_loadu_ps(m0, b);
        const __m512 b1 = full ? _mm512_loadu_ps(b + 16) : _mm512_maskz_loadu_ps(m1, b + 16);
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            const __m512 av = _mm512_set1_ps(r[i][k]);
            s0[i] = _mm512_fmadd_ps(av, b0, s0[i]);
            s1[i] = _mm512_fmadd_ps(av, b1, s1[i]);
        }
        b += ldb;
    }
    store_tile(s0, s1, m0, m1, rows, c, ldc, accumulate, bias, residual, ldr, clamp, lo, hi);
}

/// The micro-kernel: 12, 8 or 4 rows; a whole 32-column panel, or the masked tail of an unpacked B.
__attribute__((target("avx512f"))) static void
kernel_12x32(long kc, const float *restrict a, long lda, const float *restrict b, long ldb, float *restrict c, long ldc,
             int rows, int cols, int accumulate, const float *bias, const float *residual, long ldr, int clamp, float lo,
             float hi) {
    // Packed panels are zero-padded to NR columns: whole loads there too. A last row block of
    // 4 or 8 rows (M = 64, 16, 32, 160, 320...) runs 8 or 16 accumulators, not 24.
    const int full = cols == NR || ldb == NR;
#define KERNEL(FULL, ROWS) \
    kernel_12x32_body(FULL, ROWS, kc, a, lda, b, ldb, c, ldc, rows, cols, accumulate, bias, residual, ldr, clamp, lo, hi)
    if (rows > 8) {
        if (full) KERNEL(1, 12); else KERNEL(0, 12);
    } else if (rows > 4) {
        if (full) KERNEL(1, 8); else KERNEL(0, 8);
    } else {
        if (full) KERNEL(1, 4); else KERNEL(0, 4);
    }
#undef KERNEL
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
    // An explicit B with wide rows is read in place (measured 5-13% faster on ResNet-50's
    // 1x1 convolutions at 14x14 and up); narrow ones (7x7 maps: 49 columns, a masked tail
    // panel) measured 5-7% faster packed. An implicit B is always packed.
    const int in_place = !geometry && n >= 256;
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
            else if (!in_place)
                pack_b(b + jc, ldb, NULL, 0, pc, kc, nc, bp, rowbuf);
            for (int ir = 0; ir < m; ir += MR) {
                const int rows = m - ir < MR ? m - ir : MR;
                for (int jr = 0; jr < nc; jr += NR) {
                    const float *panel = in_place ? b + (long)pc * ldb + jc + jr : bp + (long)(jr / NR) * kc * NR;
                    kernel_12x32(kc, a + (long)ir * lda + pc, lda, panel, in_place ? ldb : NR, c + (long)ir * ldc + jc + jr, ldc, rows,
                                 nc - jr < NR ? nc - jr : NR, pc > 0, last && bias ? bias + ir : NULL,
                                 last && residual ? residual + (long)ir * ldr + jc + jr : NULL, ldr, last && clamp,
                                 lo, hi);
                }
            }
        }
    }
    return 1;
}

/// Four dot products of `a` with rows of B at once (16 floats a step per row, one
/// horizontal sum per row at the end).
__attribute__((target("avx512f"))) static void gemv_rows(int n, int k, float alpha, const float *a, const float *b,
                                                         long ldb, float beta, float *y) {
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        const float *r0 = b + (long)j * ldb, *r1 = r0 + ldb, *r2 = r1 + ldb, *r3 = r2 + ldb;
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
        for (int i = 0; i < k; i += 16) {
            const __mmask16 m = k - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (k - i)) - 1);
            const __m512 av = _mm512_maskz_loadu_ps(m, a + i);
            s0 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, r0 + i), s0);
            s1 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, r1 + i), s1);
            s2 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, r2 + i), s2);
            s3 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, r3 + i), s3);
        }
        const float d[4] = {_mm512_reduce_add_ps(s0), _mm512_reduce_add_ps(s1), _mm512_reduce_add_ps(s2),
                            _mm512_reduce_add_ps(s3)};
        for (int t = 0; t < 4; t++) y[j + t] = alpha * d[t] + (beta == 0 ? 0.0f : beta * y[j + t]);
    }
    for (; j < n; j++) {
        const float *r = b + (long)j * ldb;
        __m512 s = _mm512_setzero_ps();
        for (int i = 0; i < k; i += 16) {
            const __mmask16 m = k - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (k - i)) - 1);
            s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, r + i), s);
        }
        y[j] = alpha * _mm512_reduce_add_ps(s) + (beta == 0 ? 0.0f : beta * y[j]);
    }
}

/// `y = alpha * a * B + beta * y` with B's rows `ldb` apart: a sum of scaled rows, a block
/// of 1024 columns at a time (the block of y stays in L1).
__attribute__((target("avx512f"))) static void gemv_columns(int n, int k, float alpha, const float *a, const float *b,
                                                            long ldb, float beta, float *y) {
    enum { BLOCK = 1024 };
    float acc[BLOCK] __attribute__((aligned(64)));
    for (int j0 = 0; j0 < n; j0 += BLOCK) {
        const int w = n - j0 < BLOCK ? n - j0 : BLOCK;
        for (int j = 0; j < w; j++) acc[j] = 0.0f;
        for (int i = 0; i < k; i++) {
            const __m512 av = _mm512_set1_ps(a[i]);
            const float *r = b + (long)i * ldb + j0;
            for (int j = 0; j < w; j += 16) {
                const __mmask16 m = w - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (w - j)) - 1);
                _mm512_mask_storeu_ps(acc + j, m, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, r + j), _mm512_maskz_loadu_ps(m, acc + j)));
            }
        }
        for (int j = 0; j < w; j++) y[j0 + j] = alpha * acc[j] + (beta == 0 ? 0.0f : beta * y[j0 + j]);
    }
}

int mc_sgemv_f32(int n, int k, float alpha, const float *a, const float *b, long ldb, int trans_b, float beta, float *y) {
    if (!mc_sgemm_available()) return 0;
    if (n <= 0) return 1;
    if (trans_b)
        gemv_rows(n, k, alpha, a, b, ldb, beta, y);
    else
        gemv_columns(n, k, alpha, a, b, ldb, beta, y);
    return 1;
}

#else

int mc_sgemm_available(void) { return 0; }

int mc_sgemv_f32(int n, int k, float alpha, const float *a, const float *b, long ldb, int trans_b, float beta, float *y) {
    (void)n, (void)k, (void)alpha, (void)a, (void)b, (void)ldb, (void)trans_b, (void)beta, (void)y;
    return 0;
}

int mc_sgemm_f32(int m, int n, int k, const float *a, long lda, const float *b, long ldb,
                 const mc_conv2d_geometry *geometry, long col0, float *c, long ldc, const float *bias,
                 const float *residual, long ldr, int clamp, float lo, float hi, float *workspace) {
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)geometry, (void)col0, (void)c;
    (void)ldc, (void)bias, (void)residual, (void)ldr, (void)clamp, (void)lo, (void)hi, (void)workspace;
    return 0;
}

#endif
