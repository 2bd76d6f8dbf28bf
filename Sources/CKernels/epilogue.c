// See include/epilogue.h.
#include "epilogue.h"

#if defined(__x86_64__) && defined(__linux__)
#define MC_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MC_CLONES
#endif

MC_CLONES
void mc_conv_epilogue_f32(float *y, int rows, int cols, long ld, const float *bias, const float *residual,
                          int clamp, float lo, float hi) {
    for (int m = 0; m < rows; m++) {
        float *restrict row = y + (long)m * ld;
        if (bias) {
            const float b = bias[m];
            for (int i = 0; i < cols; i++) row[i] += b;
        }
        if (residual) {
            const float *restrict r = residual + (long)m * ld;
            for (int i = 0; i < cols; i++) row[i] += r[i];
        }
        if (clamp)
            for (int i = 0; i < cols; i++) {
                float v = row[i];
                v = v < lo ? lo : v;
                row[i] = v > hi ? hi : v;
            }
    }
}
