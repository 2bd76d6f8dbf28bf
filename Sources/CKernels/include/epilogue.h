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

#ifdef __cplusplus
}
#endif
#endif
