// Depthwise convolution rows in C, compiled for AVX-512, AVX2+FMA and baseline x86-64 and
// chosen at load time for the CPU (target_clones): the Swift loops compile for the
// baseline target only.
#ifndef MODELCONV_DEPTHWISE_H
#define MODELCONV_DEPTHWISE_H
#ifdef __cplusplus
extern "C" {
#endif

/// One output plane `y` (OH x OW, row-major) of a float32 depthwise convolution from the
/// zero-padded input window `padded` (rows of `pw` floats holding every element the
/// output reads: output (oh, ow), tap (kh, kw) reads padded[(oh*sh + kh*dh)*pw + ow*sw + kw*dw]),
/// the plane's kernel `w` (KH x KW) and `bias`; the result is clamped to [lo, hi] when
/// `clamp` is non-zero (NaN kept). `padded` must have `mc_depthwise_slack(kw, dw)` readable
/// floats after its last row (the vector path reads past the rows it uses, into columns it
/// drops).
void mc_depthwise_plane_f32(const float *padded, long pw, const float *w, int kh, int kw, int sh, int sw,
                            int dh, int dw, float bias, float *y, int oh, int ow, int clamp, float lo, float hi);

/// Copies `rows` rows of `count` floats (row strides `src_stride`, `dst_stride`): the input
/// plane into a depthwise window, without a call per short row.
void mc_copy_rows_f32(const float *src, long src_stride, float *dst, long dst_stride, int rows, int count);

/// Floats of readable slack `mc_depthwise_plane_f32` needs after the window.
static inline long mc_depthwise_slack(int kw, int dw) { return 64 + (long)kw * dw; }

#ifdef __cplusplus
}
#endif
#endif
