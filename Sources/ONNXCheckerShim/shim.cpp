#include "ONNXCheckerShim.h"

#include <onnx/checker.h>
#include <onnx/common/version.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

char *copy_message(const std::string &s) {
  char *p = static_cast<char *>(std::malloc(s.size() + 1));
  if (p) std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

int fail(char **error, int code, const std::string &message) {
  if (error) *error = copy_message(message);
  return code;
}

}  // namespace

extern "C" int mcx_check_model_path(const char *path, char **error) {
  try {
    onnx::checker::check_model(std::string(path));
    return MCX_OK;
  } catch (const onnx::checker::ValidationError &e) {
    std::string what = e.what();
    // libonnx reports a parse failure of the file as a ValidationError too.
    if (what.find("Unable to parse") != std::string::npos)
      return fail(error, MCX_UNREADABLE, what);
    return fail(error, MCX_INVALID, what);
  } catch (const std::exception &e) {
    return fail(error, MCX_INVALID, e.what());
  } catch (...) {
    return fail(error, MCX_INVALID, "unknown libonnx exception");
  }
}

extern "C" int mcx_infer_shapes(const void *bytes, size_t len, int strict,
                                void **out, size_t *out_len, char **error) {
  onnx::ModelProto model;
  if (len > static_cast<size_t>(INT_MAX) || !model.ParseFromArray(bytes, static_cast<int>(len)))
    return fail(error, MCX_UNREADABLE, "could not parse the ModelProto");
  try {
    onnx::ShapeInferenceOptions options(strict != 0, strict != 0 ? 1 : 0, false);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception &e) {
    return fail(error, MCX_INVALID, e.what());
  } catch (...) {
    return fail(error, MCX_INVALID, "unknown libonnx exception");
  }
  std::string serialized;
  if (!model.SerializeToString(&serialized))
    return fail(error, MCX_INVALID, "could not serialize the inferred model");
  void *buffer = std::malloc(serialized.size() ? serialized.size() : 1);
  if (!buffer) return fail(error, MCX_INVALID, "out of memory");
  std::memcpy(buffer, serialized.data(), serialized.size());
  *out = buffer;
  *out_len = serialized.size();
  return MCX_OK;
}

extern "C" int mcx_max_opset(const char *domain) {
  std::string d = domain ? domain : "";
  if (d == "ai.onnx") d = "";
  const auto &map = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  auto it = map.find(d);
  return it == map.end() ? -1 : it->second.second;
}

extern "C" const char *mcx_onnx_version(void) { return onnx::LAST_RELEASE_VERSION; }

extern "C" void mcx_free(void *p) { std::free(p); }
