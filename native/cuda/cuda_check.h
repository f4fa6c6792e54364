// Turns CUDA and cuBLAS status codes into vla::Error (kUnsupported for a missing device or
// driver, kInternal otherwise), naming the call that failed.
#pragma once

#include "cuda/dialect.h"

#include "core/error.h"

#define VLA_CUDA_CHECK(expr)                                                                        \
  do {                                                                                              \
    cudaError_t vla_err_ = (expr);                                                                  \
    if (vla_err_ != cudaSuccess)                                                                    \
      ::vla::fail(vla_err_ == cudaErrorNoDevice || vla_err_ == cudaErrorInsufficientDriver          \
                      ? ::vla::ErrorCode::kUnsupported                                              \
                      : ::vla::ErrorCode::kInternal,                                                \
                  "CUDA error in " #expr ": ", cudaGetErrorString(vla_err_), " (", __FILE__, ":",  \
                  __LINE__, ")");                                                                   \
  } while (0)
