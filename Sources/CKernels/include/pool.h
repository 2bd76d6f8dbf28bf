// Pooling planes in C, compiled per ISA like depthwise.h.
#ifndef MODELCONV_POOL_H
#define MODELCONV_POOL_H
#ifdef __cplusplus
extern "C" {
#endif

/// One output plane `y` (oh x ow) of a 2-D float32 MaxPool over the input plane `x`
/// (ih x iw): window (r, q) starts at input (r*sh - ph, q*sw - pw) and takes kh x kw taps
/// at dilations (dh, dw); taps outside the input are skipped. ONNX semantics as the
/// reference loops have them: the first tap inside the input starts the maximum, each later
/// tap replaces it when greater (so a leading NaN stays, later NaNs do not); a window with
/// no tap inside the input gives 0.
void mc_maxpool2d_plane_f32(const float *x, int ih, int iw, float *y, int oh, int ow, int kh, int kw, int sh,
                            int sw, int dh, int dw, int ph, int pw);

#ifdef __cplusplus
}
#endif
#endif
