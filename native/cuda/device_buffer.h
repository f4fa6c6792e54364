// Device memory owned by RAII, and host<->device copies. Host-callable without CUDA headers.
#pragma once

#include "cuda/namespace.h"

#include <cstddef>

namespace vla::VLA_CUDA_NS {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  template <typename T> T* as() const { return static_cast<T*>(ptr_); }

  void upload(const void* host, size_t bytes);
  void download(void* host, size_t bytes) const;

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Copies between host memory and any device address (inside a DeviceBuffer or an arena carved
// from one). Synchronous.
void copy_to_device(void* device_dst, const void* host_src, size_t bytes);
void copy_to_host(void* host_dst, const void* device_src, size_t bytes);

// Waits for all work on the device; surfaces asynchronous kernel errors as vla::Error.
void synchronize();

}  // namespace vla::VLA_CUDA_NS
