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

// Waits for all work on the device; surfaces asynchronous kernel errors as vla::Error.
void synchronize();

}  // namespace vla::VLA_CUDA_NS
