#include <cuda_runtime.h>

#include <cstdio>

#include "cuda/cuda_context.h"

namespace vla::cuda {

DeviceQuery query_devices() {
  DeviceQuery q;
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    q.message = std::string("no usable CUDA device: ") + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error so later calls are not poisoned
    return q;
  }
  q.count = n;
  if (n == 0) {
    q.message = "no CUDA device found";
    return q;
  }
  cudaDeviceProp p;
  if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) {
    q.message = "device 0 did not report its properties";
    return q;
  }
  q.name = p.name;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s, sm_%d%d, %.1f GiB", p.name, p.major, p.minor,
                static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
  q.message = buf;
  return q;
}

}  // namespace vla::cuda
