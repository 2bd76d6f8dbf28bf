// extern "C" wrappers over libonnx (Debian libonnx-dev): the official model checker and
// shape inference. Swift cannot call C++ exceptions-throwing APIs directly; every function
// here catches and turns failures into a status and a malloc'd message.
#ifndef MODELCONV_ONNX_CHECKER_SHIM_H
#define MODELCONV_ONNX_CHECKER_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes shared by the functions below.
enum {
  MCX_OK = 0,         ///< success
  MCX_INVALID = 1,    ///< the model was read but is not valid; *error holds why
  MCX_UNREADABLE = 2  ///< the bytes or file could not be parsed as a ModelProto
};

/// Runs onnx::checker::check_model on the file at `path` (external data is resolved
/// relative to the file's folder, as libonnx does). On failure, *error receives a
/// malloc'd NUL-terminated message; free it with mcx_free.
int mcx_check_model_path(const char *path, char **error);

/// Runs onnx::shape_inference::InferShapes on a serialized ModelProto.
/// strict != 0 makes node-level inference errors fail (error_mode 1, check_type on).
/// On success, *out/*out_len receive a malloc'd serialized ModelProto with the inferred
/// value_info (free with mcx_free).
int mcx_infer_shapes(const void *bytes, size_t len, int strict,
                     void **out, size_t *out_len, char **error);

/// The highest opset version libonnx's schema registry knows for `domain`
/// ("" or "ai.onnx" for the default domain), or -1 for a domain it does not know.
int mcx_max_opset(const char *domain);

/// The libonnx version string, e.g. "1.12.0".
const char *mcx_onnx_version(void);

void mcx_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
