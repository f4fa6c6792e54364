#include "core/build_info.h"

#ifdef VLA_HAVE_CUDA
#include "cuda/cuda_context.h"
#endif

// CMake generates vla_build_config.h; node-gyp builds define what they know in binding.gyp.
#if __has_include("vla_build_config.h")
#include "vla_build_config.h"
#endif

#ifdef VLA_BUILD_NODE_GYP
#define VLA_BUILD_SYSTEM "node-gyp"
#define VLA_BUILD_BLAS "own kernels"
#define VLA_BUILD_CUDA "CUDA off: node-gyp builds are CPU-only (build with cmake-js for CUDA)"
#define VLA_BUILD_TYPE "Release"
#endif

#ifndef VLA_BUILD_BLAS
#define VLA_BUILD_BLAS "own kernels"
#endif
#ifndef VLA_BUILD_CUDA
#define VLA_BUILD_CUDA "CUDA off"
#endif
#ifndef VLA_BUILD_COMPILER
#if defined(__clang__)
#define VLA_BUILD_COMPILER "Clang " __clang_version__
#elif defined(__GNUC__)
#define VLA_BUILD_COMPILER "GNU " __VERSION__
#else
#define VLA_BUILD_COMPILER "unknown compiler"
#endif
#endif
#ifndef VLA_BUILD_TYPE
#define VLA_BUILD_TYPE "unknown"
#endif
#ifndef VLA_BUILD_SYSTEM
#define VLA_BUILD_SYSTEM "unknown"
#endif

namespace vla {

BuildInfo build_info() {
  BuildInfo b;
  b.version = "0.1.0";
  b.compiler = VLA_BUILD_COMPILER;
  b.build_type = VLA_BUILD_TYPE;
  b.build_system = VLA_BUILD_SYSTEM;
  b.blas = VLA_BUILD_BLAS;
  b.cuda = VLA_BUILD_CUDA;
#ifdef VLA_HAVE_OPENBLAS
  b.has_openblas = true;
#endif
#ifdef VLA_HAVE_CUDA
  b.has_cuda = true;
#endif
#ifdef VLA_HAVE_CUBLAS
  b.has_cublas = true;
#endif
  return b;
}

CudaStatus cuda_status() {
  CudaStatus s;
#ifdef VLA_HAVE_CUDA
  cuda::DeviceQuery q = cuda::query_devices();
  s.device_count = q.count;
  s.available = q.count > 0;
  s.device_name = q.name;
  s.reason = q.message;
#else
  s.reason = "this build has no CUDA backend (" VLA_BUILD_CUDA ")";
#endif
  return s;
}

}  // namespace vla
