// See include/depthwise.h. Written as plain loops over output columns so that the
// compiler vectorizes them for each target in the clone list.
#include "depthwise.h"

#if defined(__x86_64__) && defined(__linux__)
#define MC_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MC_CLONES
#endif

static inline float clampf(float v, float lo, float hi) {
    float y = v < lo ? lo : v;
    return y > hi ? hi : y;
}

MC_CLONES
void mc_depthwise_plane_f32(const float *padded, long pw, const float *w, int kh, int kw, int sh, int sw,
                            int dh, int dw, float bias, float *y, int oh, int ow, int clamp, float lo, float hi) {
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
