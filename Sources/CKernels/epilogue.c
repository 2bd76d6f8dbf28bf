// See include/epilogue.h.
#include "epilogue.h"
#include "isa.h"


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

#ifdef MC_AVX512

/// The program with 64 floats in four zmm registers through all the steps (one dispatch per
/// step per 64 floats, no load or store between steps). AVX-512's max/min return the second
/// operand when either is NaN or both are zeros, which is the C loop's `v < lo ? lo : v`.
__attribute__((target("avx512f"))) static void program_avx512(float *y, int rows, int cols, long ld, const int *codes,
                                                              const float *params, int count) {
    for (int m = 0; m < rows; m++) {
        float *row = y + (long)m * ld;
        for (int c0 = 0; c0 < cols; c0 += 64) {
            __mmask16 mask[4];
            __m512 v[4], saved[4];
            for (int j = 0; j < 4; j++) {
                const int left = cols - c0 - 16 * j;
                mask[j] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
                v[j] = _mm512_maskz_loadu_ps(mask[j], row + c0 + 16 * j);
                saved[j] = v[j];
            }
            for (int op = 0; op < count; op++) {
                const __m512 k = _mm512_set1_ps(params[2 * op]), k2 = _mm512_set1_ps(params[2 * op + 1]);
                switch (codes[op]) {
#define EACH(EXPR)                                   \
    for (int j = 0; j < 4; j++) v[j] = (EXPR);       \
    break;
                case MC_EPILOGUE_ADD: EACH(_mm512_add_ps(v[j], k))
                case MC_EPILOGUE_SUB: EACH(_mm512_sub_ps(v[j], k))
                case MC_EPILOGUE_SUB_FROM: EACH(_mm512_sub_ps(k, v[j]))
                case MC_EPILOGUE_MUL: EACH(_mm512_mul_ps(v[j], k))
                case MC_EPILOGUE_DIV: EACH(_mm512_div_ps(v[j], k))
                case MC_EPILOGUE_DIVIDE_INTO: EACH(_mm512_div_ps(k, v[j]))
                case MC_EPILOGUE_CLIP: EACH(_mm512_min_ps(k2, _mm512_max_ps(k, v[j])))
                case MC_EPILOGUE_RELU: EACH(_mm512_max_ps(_mm512_setzero_ps(), v[j]))
                case MC_EPILOGUE_MUL_SAVED: EACH(_mm512_mul_ps(saved[j], v[j]))
#undef EACH
                case MC_EPILOGUE_SAVE:
                    for (int j = 0; j < 4; j++) saved[j] = v[j];
                    break;
                default:
                    break;
                }
            }
            for (int j = 0; j < 4; j++) _mm512_mask_storeu_ps(row + c0 + 16 * j, mask[j], v[j]);
        }
    }
}
#endif

MC_CLONES
static void program_loops(float *y, int rows, int cols, long ld, const int *codes, const float *params, int count);

void mc_epilogue_program_f32(float *y, int rows, int cols, long ld, const int *codes, const float *params, int count) {
#ifdef MC_AVX512
    if (mc_has_avx512f()) {
        program_avx512(y, rows, cols, ld, codes, params, count);
        return;
    }
#endif
    program_loops(y, rows, cols, ld, codes, params, count);
}

/// The portable form: each step a loop over a cache-sized block.
MC_CLONES
static void program_loops(float *y, int rows, int cols, long ld, const int *codes, const float *params, int count) {
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
