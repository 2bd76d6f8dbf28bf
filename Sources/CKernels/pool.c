// See include/pool.h.
#include "pool.h"
#include "isa.h"

#include <stdint.h>


/// Taps [lo, hi) of a window starting at `start` that fall inside [0, size).
static inline void taps(int start, int k, int d, int size, int *lo, int *hi) {
    int l = start >= 0 ? 0 : (-start + d - 1) / d;
    int h = start >= size ? 0 : (size - start + d - 1) / d;
    if (l > k) l = k;
    if (h > k) h = k;
    if (h < l) h = l;
    *lo = l;
    *hi = h;
}

#ifdef MC_AVX512

/// Interior columns q0 ..< q1 of one output row with stride 2: the even lanes of two loads
/// are 16 window starts (compilers gather stride-2 loads lane by lane). `v > best ? v : best`
/// as a compare and masked move, like the loops (a NaN tap never replaces; a NaN best stays).
__attribute__((target("avx512f"))) static void interior_stride2(const float *x, long iw, int hs, int hlo, int hhi,
                                                                int dh, int kw, int dw, int pw, float *out, int q0,
                                                                int q1) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int q = q0; q < q1; q += 16) {
        const int n = q1 - q < 16 ? q1 - q : 16;
        const __mmask16 m = n == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
        // Lanes 0 ..< 2n - 1 of the 32 loaded: the odd lane after the last even one may lie
        // past the input.
        const int lanes = 2 * n - 1;
        const __mmask16 lo = (__mmask16)(((uint32_t)1 << (lanes < 16 ? lanes : 16)) - 1);
        const __mmask16 hi = lanes <= 16 ? 0 : (__mmask16)(((uint32_t)1 << (lanes - 16)) - 1);
        __m512 best = _mm512_setzero_ps();
        int first = 1;
        for (int i = hlo; i < hhi; i++) {
            const float *row = x + (long)(hs + i * dh) * iw - pw + 2L * q;
            for (int j = 0; j < kw; j++) {
                const float *p = row + (long)j * dw;
                const __m512 v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(lo, p), even, _mm512_maskz_loadu_ps(hi, p + 16));
                if (first) {
                    best = v;
                    first = 0;
                } else {
                    best = _mm512_mask_mov_ps(best, _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ), v);
                }
            }
        }
        _mm512_mask_storeu_ps(out + q, m, best);
    }
}
#endif

MC_CLONES
void mc_maxpool2d_plane_f32(const float *x, int ih, int iw, float *y, int oh, int ow, int kh, int kw, int sh,
                            int sw, int dh, int dw, int ph, int pw) {
    // Columns whose whole window is inside the input: [q0, q1).
    int q0 = pw <= 0 ? 0 : (pw + sw - 1) / sw;
    int last = iw - 1 - (kw - 1) * dw + pw;  // q*sw <= last
    int q1 = last < 0 ? 0 : last / sw + 1;
    if (q1 > ow) q1 = ow;
    if (q0 > q1) q0 = q1;
#ifdef MC_AVX512
    const int permute_stride2 = sw == 2 && mc_has_avx512f();
#endif
    for (int r = 0; r < oh; r++) {
        float *restrict out = y + (long)r * ow;
        const int hs = r * sh - ph;
        int hlo, hhi;
        taps(hs, kh, dh, ih, &hlo, &hhi);
        if (hlo >= hhi) {
            for (int q = 0; q < ow; q++) out[q] = 0;
            continue;
        }
        // Border columns: tap by tap, as the reference loops.
        for (int q = 0; q < ow; q++) {
            if (q == q0 && q1 > q0) q = q1;
            if (q >= ow) break;
            const int ws = q * sw - pw;
            int wlo, whi;
            taps(ws, kw, dw, iw, &wlo, &whi);
            float best = 0;
            int first = 1;
            for (int i = hlo; i < hhi; i++) {
                const float *row = x + (long)(hs + i * dh) * iw + ws;
                for (int j = wlo; j < whi; j++) {
                    const float v = row[j * dw];
                    if (first) {
                        best = v;
                        first = 0;
                    } else if (v > best) {
                        best = v;
                    }
                }
            }
            out[q] = best;
        }
        if (q1 <= q0) continue;
#ifdef MC_AVX512
        if (permute_stride2) {
            interior_stride2(x, iw, hs, hlo, hhi, dh, kw, dw, pw, out, q0, q1);
            continue;
        }
#endif
        // Interior columns, vectorized over q: the first tap, then each later one.
        const float *base = x + (long)(hs + hlo * dh) * iw - pw;
        for (int q = q0; q < q1; q++) out[q] = base[(long)q * sw];
        for (int i = hlo; i < hhi; i++) {
            const float *row = x + (long)(hs + i * dh) * iw - pw;
            for (int j = (i == hlo ? 1 : 0); j < kw; j++) {
                const float *restrict src = row + (long)j * dw;
                for (int q = q0; q < q1; q++) {
                    const float v = src[(long)q * sw];
                    out[q] = v > out[q] ? v : out[q];
                }
            }
        }
    }
}
