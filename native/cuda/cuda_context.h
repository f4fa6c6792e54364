// The CUDA backend's context: device discovery and error conversion. Host-callable from plain
// C++ (no CUDA headers here), so the core can ask about devices without nvcc.
#pragma once

#include <string>

namespace vla::cuda {

struct DeviceQuery {
  int count = 0;
  std::string name;     // device 0
  std::string message;  // "NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB" or why none is usable
};

DeviceQuery query_devices();

}  // namespace vla::cuda
