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

MC_CLONES
void mc_epilogue_program_f32(float *y, int rows, int cols, long ld, const int *codes, const float *params, int count) {
    enum { BLOCK = 256 };
    float saved[BLOCK];
    for (int m = 0; m < rows; m++) {
        for (int c0 = 0; c0 < cols; c0 += BLOCK) {
            float *restrict x = y + (long)m * ld + c0;
            const int n = cols - c0 < BLOCK ? cols - c0 : BLOCK;
            for (int op = 0; op < count; op++) {
                const float k = params[2 * op], k2 = params[2 * op + 1];
                switch (codes[op]) {
                case MC_EPILOGUE_ADD:
                    for (int i = 0; i < n; i++) x[i] = x[i] + k;
                    break;
                case MC_EPILOGUE_SUB:
                    for (int i = 0; i < n; i++) x[i] = x[i] - k;
                    break;
                case MC_EPILOGUE_SUB_FROM:
                    for (int i = 0; i < n; i++) x[i] = k - x[i];
                    break;
                case MC_EPILOGUE_MUL:
                    for (int i = 0; i < n; i++) x[i] = x[i] * k;
                    break;
                case MC_EPILOGUE_DIV:
                    for (int i = 0; i < n; i++) x[i] = x[i] / k;
                    break;
                case MC_EPILOGUE_DIVIDE_INTO:
                    for (int i = 0; i < n; i++) x[i] = k / x[i];
                    break;
                case MC_EPILOGUE_CLIP:
                    for (int i = 0; i < n; i++) {
                        float v = x[i];
                        v = v < k ? k : v;
                        x[i] = v > k2 ? k2 : v;
                    }
                    break;
                case MC_EPILOGUE_RELU:
                    for (int i = 0; i < n; i++) x[i] = x[i] < 0 ? 0 : x[i];
                    break;
                case MC_EPILOGUE_SAVE:
                    for (int i = 0; i < n; i++) saved[i] = x[i];
                    break;
                case MC_EPILOGUE_MUL_SAVED:
                    for (int i = 0; i < n; i++) x[i] = saved[i] * x[i];
                    break;
                default:
                    break;
                }
            }
        }
    }
}
