// modelconv's own float32 matrix product for convolutions: a packed, register-blocked
// AVX-512 micro-kernel that reads the im2col matrix straight from the image while packing
// (implicit GEMM: no col buffer) and applies the bias/residual/clamp epilogue as it stores.
#ifndef MODELCONV_SGEMM_H
#define MODELCONV_SGEMM_H
#ifdef __cplusplus
extern "C" {
#endif

/// A 2-D convolution's input as the B matrix of `C = A * B`: B[k][n] with
/// k = (c * kernel_h + ky) * kernel_w + kx over `channels` input planes of in_h x in_w floats,
/// and n = oy * out_w + ox over the output plane; taps in the padding read 0.
typedef struct {
    int channels, in_h, in_w, out_h, out_w;
    int kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
    int pad_top, pad_left;
} mc_conv2d_geometry;

/// Whether this CPU runs the kernel (AVX-512F). Without it `mc_sgemm_f32` returns 0.
int mc_sgemm_available(void);

/// Floats of workspace one call needs (its packing buffers); the caller owns it.
long mc_sgemm_workspace_floats(void);

/// `C[m][n] = sum_k A[m][k] * B[k][n]` for m < `m`, n < `n`, then `+ bias[m]` (when `bias`),
/// `+ residual[m * ldr + n]` (when `residual`), then clamped to [lo, hi] when `clamp`
/// (ONNX's order: Conv with its bias, Add, activation). A is row-major with row stride
/// `lda`. B is either the matrix at `b` with row stride `ldb` (when `geometry` is NULL) or
/// the implicit im2col matrix of `geometry` over the image at `b`, columns `col0 ..< col0 + n`
/// of the output plane. C has row stride `ldc` and is overwritten. The summation order
/// depends only on k (never on threads or tiles): results are deterministic.
/// Returns 1, or 0 without touching C when the CPU lacks AVX-512F.
int mc_sgemm_f32(int m, int n, int k, const float *a, long lda, const float *b, long ldb,
                 const mc_conv2d_geometry *geometry, long col0, float *c, long ldc, const float *bias,
                 const float *residual, long ldr, int clamp, float lo, float hi, float *workspace);

/// The product of a single row: `y[j] = alpha * sum_i a[i] * B(i, j) + beta * y[j]` for
/// j < n, i < k, where B(i, j) is `b[i * ldb + j]`, or `b[j * ldb + i]` when `trans_b`
/// (with beta 0, y is not read). A classifier's Gemm is this: streaming the weights once,
/// without the packing a matrix product does. Returns 0 without touching y when the CPU
/// lacks AVX-512F.
int mc_sgemv_f32(int n, int k, float alpha, const float *a, const float *b, long ldb, int trans_b, float beta, float *y);

#ifdef __cplusplus
}
#endif
#endif
