// See include/pool.h.
#include "pool.h"

#if defined(__x86_64__) && defined(__linux__)
#define MC_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MC_CLONES
#endif

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

MC_CLONES
void mc_maxpool2d_plane_f32(const float *x, int ih, int iw, float *y, int oh, int ow, int kh, int kw, int sh,
                            int sw, int dh, int dw, int ph, int pw) {
    // Columns whose whole window is inside the input: [q0, q1).
    int q0 = pw <= 0 ? 0 : (pw + sw - 1) / sw;
    int last = iw - 1 - (kw - 1) * dw + pw;  // q*sw <= last
    int q1 = last < 0 ? 0 : last / sw + 1;
    if (q1 > ow) q1 = ow;
    if (q0 > q1) q0 = q1;
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
