// Convolution epilogues in C, compiled per ISA like depthwise.h.
#ifndef MODELCONV_EPILOGUE_H
#define MODELCONV_EPILOGUE_H
#ifdef __cplusplus
extern "C" {
#endif

/// For each of `rows` rows of `cols` floats at `y` (row stride `ld`): y = y + bias[row]
/// (when `bias`), then + residual (same layout as y, when `residual`), then clamped to
/// [lo, hi] when `clamp` is non-zero (NaN kept). The order of operations is ONNX's:
/// Conv (with its bias), then Add, then the activation.
void mc_conv_epilogue_f32(float *y, int rows, int cols, long ld, const float *bias, const float *residual,
                          int clamp, float lo, float hi);

/// The elementwise steps of `mc_epilogue_program_f32`; `k`, `k2` are the step's two params.
enum {
    MC_EPILOGUE_ADD = 0,         ///< x + k
    MC_EPILOGUE_SUB = 1,         ///< x - k
    MC_EPILOGUE_SUB_FROM = 2,    ///< k - x
    MC_EPILOGUE_MUL = 3,         ///< x * k
    MC_EPILOGUE_DIV = 4,         ///< x / k
    MC_EPILOGUE_DIVIDE_INTO = 5, ///< k / x
    MC_EPILOGUE_CLIP = 6,        ///< clamp to [k, k2], NaN kept
    MC_EPILOGUE_RELU = 7,        ///< x < 0 ? 0 : x
    MC_EPILOGUE_SAVE = 8,        ///< remember x
    MC_EPILOGUE_MUL_SAVED = 9,   ///< remembered x * x
};

/// Runs `count` elementwise steps (`codes`, two `params` each) over each of `rows` rows of
/// `cols` floats at `y` (row stride `ld`), in place, a cache-sized block at a time: one float
/// operation per step and element, in the order given, so each element is rounded exactly as
/// the nodes the steps stand for round it.
void mc_epilogue_program_f32(float *y, int rows, int cols, long ld, const int *codes, const float *params, int count);

#ifdef __cplusplus
}
#endif
#endif
