// See include/depthwise.h. Written as plain loops over output columns so that the
// compiler vectorizes them for each target in the clone list.
#include "depthwise.h"
#include "isa.h"


static inline float clampf(float v, float lo, float hi) {
    float y = v < lo ? lo : v;
    return y > hi ? hi : y;
}

MC_CLONES
static void plane_loops(const float *padded, long pw, const float *w, int kh, int kw, int sh, int sw, int dh, int dw,
                        float bias, float *y, int oh, int ow, int clamp, float lo, float hi) {
    if (kh == 3 && kw == 3 && dh == 1 && dw == 1 && (sw == 1 || sw == 2)) {
        const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7],
                    w8 = w[8];
        for (int r = 0; r < oh; r++) {
            const float *restrict a = padded + (long)r * sh * pw;
            const float *restrict b = a + pw;
            const float *restrict c = b + pw;
            float *restrict out = y + (long)r * ow;
            if (sw == 1) {
                for (int q = 0; q < ow; q++) {
                    float s = bias + w0 * a[q] + w1 * a[q + 1] + w2 * a[q + 2] + w3 * b[q] + w4 * b[q + 1] +
                              w5 * b[q + 2] + w6 * c[q] + w7 * c[q + 1] + w8 * c[q + 2];
                    out[q] = s;
                }
            } else {
                for (int q = 0; q < ow; q++) {
                    const int i = 2 * q;
                    float s = bias + w0 * a[i] + w1 * a[i + 1] + w2 * a[i + 2] + w3 * b[i] + w4 * b[i + 1] +
                              w5 * b[i + 2] + w6 * c[i] + w7 * c[i + 1] + w8 * c[i + 2];
                    out[q] = s;
                }
            }
            if (clamp)
                for (int q = 0; q < ow; q++) out[q] = clampf(out[q], lo, hi);
        }
        return;
    }
    // Any kernel: accumulate tap by tap into the output row (which stays in L1).
    for (int r = 0; r < oh; r++) {
        float *restrict out = y + (long)r * ow;
        for (int q = 0; q < ow; q++) out[q] = bias;
        for (int i = 0; i < kh; i++) {
            const float *row = padded + ((long)r * sh + (long)i * dh) * pw;
            for (int j = 0; j < kw; j++) {
                const float t = w[i * kw + j];
                const float *restrict src = row + (long)j * dw;
                if (sw == 1)
                    for (int q = 0; q < ow; q++) out[q] += t * src[q];
                else
                    for (int q = 0; q < ow; q++) out[q] += t * src[(long)q * sw];
            }
        }
        if (clamp)
            for (int q = 0; q < ow; q++) out[q] = clampf(out[q], lo, hi);
    }
}

#ifdef MC_AVX512

enum { FLAT = 1024 };

/// The window read as one flat array (stride 1): output (r, q) of a chunk of rows is flat
/// position t = r * pw + q, and tap (i, j) reads padded[t + i*dh*pw + j*dw] for every t, so
/// 16 outputs are one vector whatever the row width (7x7 and 14x14 planes filled 7 or 14 of
/// 16 lanes row by row); the pw - ow columns past each row are computed and dropped. The
/// same fused multiply-adds in the same tap order as the row loops: the same results.
__attribute__((target("avx512f"))) static void plane_flat(const float *padded, long pw, const float *w, int kh, int kw,
                                                          int dh, int dw, float bias, float *y, int oh, int ow,
                                                          int clamp, float lo, float hi) {
    float tmp[FLAT + 32] __attribute__((aligned(64)));
    const int per = (int)(FLAT / pw);
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (int r0 = 0; r0 < oh; r0 += per) {
        const int rows = oh - r0 < per ? oh - r0 : per;
        const long n = rows * pw;
        const float *base = padded + (long)r0 * pw;
        if (kh == 3 && kw == 3) {
            // The nine weights in registers, two vectors a step.
            __m512 k[9];
            for (int i = 0; i < 9; i++) k[i] = _mm512_set1_ps(w[i]);
            const long r1 = (long)dh * pw, r2 = 2 * r1, c1 = dw, c2 = 2L * dw;
            for (long t = 0; t < n; t += 32) {
                const float *p = base + t;
                __m512 a0 = _mm512_set1_ps(bias), a1 = a0;
#define TAP(K, OFF)                                                      \
    a0 = _mm512_fmadd_ps(k[K], _mm512_loadu_ps(p + (OFF)), a0);         \
    a1 = _mm512_fmadd_ps(k[K], _mm512_loadu_ps(p + (OFF) + 16), a1);
                TAP(0, 0) TAP(1, c1) TAP(2, c2) TAP(3, r1) TAP(4, r1 + c1) TAP(5, r1 + c2)
                TAP(6, r2) TAP(7, r2 + c1) TAP(8, r2 + c2)
#undef TAP
                _mm512_store_ps(tmp + t, a0);
                _mm512_store_ps(tmp + t + 16, a1);
            }
        } else {
            for (long t = 0; t < n; t += 16) {
                __m512 acc = _mm512_set1_ps(bias);
                for (int i = 0; i < kh; i++)
                    for (int j = 0; j < kw; j++)
                        acc = _mm512_fmadd_ps(_mm512_set1_ps(w[i * kw + j]),
                                              _mm512_loadu_ps(base + t + (long)i * dh * pw + (long)j * dw), acc);
                _mm512_store_ps(tmp + t, acc);
            }
        }
        for (int r = 0; r < rows; r++) {
            const float *src = tmp + r * pw;
            float *dst = y + (long)(r0 + r) * ow;
            for (int q = 0; q < ow; q += 16) {
                const __mmask16 m = ow - q >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (ow - q)) - 1);
                __m512 v = _mm512_maskz_loadu_ps(m, src + q);
                if (clamp) v = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v));
                _mm512_mask_storeu_ps(dst + q, m, v);
            }
        }
    }
}
/// 3x3 stride 2: per input row of a tap, the even lanes of 32 loaded floats are the j = 0
/// taps of 16 outputs, the odd lanes the j = 1 taps, and the even lanes of the 32 floats two
/// further on the j = 2 taps (compilers load stride-2 columns lane by lane). Same order of
/// fused multiply-adds as the row loops. Reads up to 34 floats past a row's outputs: within
/// the window and its slack.
__attribute__((target("avx512f"))) static void plane_3x3_stride2(const float *padded, long pw, const float *w,
                                                                 float bias, float *y, int oh, int ow, int clamp,
                                                                 float lo, float hi) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    __m512 k[9];
    for (int i = 0; i < 9; i++) k[i] = _mm512_set1_ps(w[i]);
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (int r = 0; r < oh; r++) {
        float *out = y + (long)r * ow;
        for (int q = 0; q < ow; q += 16) {
            const __mmask16 m = ow - q >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (ow - q)) - 1);
            __m512 acc = _mm512_set1_ps(bias);
            for (int i = 0; i < 3; i++) {
                const float *p = padded + (long)(2 * r + i) * pw + 2L * q;
                const __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
                const __m512 a2 = _mm512_loadu_ps(p + 2), b2 = _mm512_loadu_ps(p + 18);
                acc = _mm512_fmadd_ps(k[3 * i], _mm512_permutex2var_ps(a, even, b), acc);
                acc = _mm512_fmadd_ps(k[3 * i + 1], _mm512_permutex2var_ps(a, odd, b), acc);
                acc = _mm512_fmadd_ps(k[3 * i + 2], _mm512_permutex2var_ps(a2, even, b2), acc);
            }
            if (clamp) acc = _mm512_min_ps(vhi, _mm512_max_ps(vlo, acc));
            _mm512_mask_storeu_ps(out + q, m, acc);
        }
    }
}
#endif

void mc_depthwise_plane_f32(const float *padded, long pw, const float *w, int kh, int kw, int sh, int sw, int dh,
                            int dw, float bias, float *y, int oh, int ow, int clamp, float lo, float hi) {
#ifdef MC_AVX512
    // The row loops' 3x3 form wins from 48 columns up (56: 0.93x the flat time, 112: 0.81x);
    // the flat form below (7x7: 0.39x the row loops' time, 14x14: 0.42x, 28x28: 0.62x) and
    // for other kernels (5x5: 0.31x, dilated 3x3: 0.11x).
    if (sh == 2 && sw == 2 && kh == 3 && kw == 3 && dh == 1 && dw == 1 && mc_has_avx512f()) {
        plane_3x3_stride2(padded, pw, w, bias, y, oh, ow, clamp, lo, hi);
        return;
    }
    const int rows_win = kh == 3 && kw == 3 && dh == 1 && dw == 1 && ow >= 48;
    if (sh == 1 && sw == 1 && pw <= FLAT && !rows_win && mc_has_avx512f()) {
        plane_flat(padded, pw, w, kh, kw, dh, dw, bias, y, oh, ow, clamp, lo, hi);
        return;
    }
#endif
    plane_loops(padded, pw, w, kh, kw, sh, sw, dh, dw, bias, y, oh, ow, clamp, lo, hi);
}

#ifdef MC_AVX512
/// Rows of up to a few vectors by masked moves (the 7-, 14- and 28-float rows of small planes).
__attribute__((target("avx512f"))) static void copy_rows_avx512(const float *src, long src_stride, float *dst,
                                                                long dst_stride, int rows, int count) {
    for (int r = 0; r < rows; r++) {
        const float *s = src + (long)r * src_stride;
        float *d = dst + (long)r * dst_stride;
        for (int i = 0; i < count; i += 16) {
            const __mmask16 m = count - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - i)) - 1);
            _mm512_mask_storeu_ps(d + i, m, _mm512_maskz_loadu_ps(m, s + i));
        }
    }
}
#endif

void mc_copy_rows_f32(const float *src, long src_stride, float *dst, long dst_stride, int rows, int count) {
    if (rows <= 0 || count <= 0) return;
#ifdef MC_AVX512
    if (mc_has_avx512f()) {
        copy_rows_avx512(src, src_stride, dst, dst_stride, rows, count);
        return;
    }
#endif
    for (int r = 0; r < rows; r++) {
        const float *s = src + (long)r * src_stride;
        float *d = dst + (long)r * dst_stride;
        for (int i = 0; i < count; i++) d[i] = s[i];
    }
}
