// Errors of the native core.
//
// Inside the core, C++ exceptions are used and always derive from vla::Error. They never cross
// the N-API boundary: the binding layer catches them and throws a JavaScript error whose `code`
// is the ErrorCode's name (e.g. "VLA_SHAPE") and whose message names the op, the input and the
// shapes involved, and what was expected.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace vla {

enum class ErrorCode {
  kShape,        // a tensor's rank or dimensions do not match what the op needs
  kDType,        // wrong element type (e.g. Float64Array where Float32Array was needed)
  kValue,        // a value is out of range (index, probability, NaN/Inf where checked)
  kArgument,     // a missing, unknown or malformed argument or attribute
  kUnsupported,  // the build or the machine lacks a feature (CUDA, AVX-512, ...)
  kOutOfMemory,  // an arena or allocation could not be satisfied
  kInternal,     // a bug in vla-ttt: please report
};

inline const char* error_code_name(ErrorCode c) {
  switch (c) {
    case ErrorCode::kShape: return "VLA_SHAPE";
    case ErrorCode::kDType: return "VLA_DTYPE";
    case ErrorCode::kValue: return "VLA_VALUE";
    case ErrorCode::kArgument: return "VLA_ARGUMENT";
    case ErrorCode::kUnsupported: return "VLA_UNSUPPORTED";
    case ErrorCode::kOutOfMemory: return "VLA_OUT_OF_MEMORY";
    case ErrorCode::kInternal: return "VLA_INTERNAL";
  }
  return "VLA_INTERNAL";
}

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

namespace detail {
inline void append_all(std::ostringstream&) {}
template <typename T, typename... Rest>
void append_all(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append_all(os, rest...);
}
}  // namespace detail

// Builds the message from all arguments streamed in order: fail(ErrorCode::kShape, "x has ", n).
template <typename... Args>
[[noreturn]] void fail(ErrorCode code, const Args&... args) {
  std::ostringstream os;
  detail::append_all(os, args...);
  throw Error(code, os.str());
}

}  // namespace vla

// Internal invariant: a failure is a vla-ttt bug, reported with file and line.
#define VLA_CHECK(cond)                                                                     \
  do {                                                                                      \
    if (!(cond)) ::vla::fail(::vla::ErrorCode::kInternal, "internal check failed: " #cond, \
                             " (", __FILE__, ":", __LINE__, ")");                          \
  } while (0)
