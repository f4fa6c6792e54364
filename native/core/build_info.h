// Facts about this build and machine, for buildInfo() in JS, bench results and bug reports.
#pragma once

#include <string>

namespace vla {

struct BuildInfo {
  std::string version;      // vla-ttt native core version
  std::string compiler;
  std::string build_type;
  std::string build_system; // "cmake" (cmake-js or plain CMake) or "node-gyp"
  std::string blas;         // "own kernels" or "OpenBLAS (...) and own kernels"
  std::string cuda;         // one line: on/off and why
  bool has_openblas = false;
  bool has_cuda = false;    // compiled with CUDA kernels
  bool has_cublas = false;
};

BuildInfo build_info();

// CUDA at run time: compiled in, and a device present and usable.
struct CudaStatus {
  bool available = false;
  int device_count = 0;
  std::string device_name;  // of device 0
  std::string reason;       // why not available, or a one-line description of device 0
};
CudaStatus cuda_status();

}  // namespace vla
