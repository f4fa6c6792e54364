#include "cuda/dialect.h"

#include <utility>

#include "cuda/cuda_check.h"
#include "cuda/device_buffer.h"

namespace vla::VLA_CUDA_NS {

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes > 0) VLA_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::upload(const void* host, size_t bytes) {
  if (bytes > bytes_) fail(ErrorCode::kArgument, "DeviceBuffer::upload: ", bytes, " bytes into a buffer of ", bytes_);
  if (bytes) VLA_CUDA_CHECK(cudaMemcpy(ptr_, host, bytes, cudaMemcpyHostToDevice));
}

void DeviceBuffer::download(void* host, size_t bytes) const {
  if (bytes > bytes_) fail(ErrorCode::kArgument, "DeviceBuffer::download: ", bytes, " bytes from a buffer of ", bytes_);
  if (bytes) VLA_CUDA_CHECK(cudaMemcpy(host, ptr_, bytes, cudaMemcpyDeviceToHost));
}

void copy_to_device(void* device_dst, const void* host_src, size_t bytes) {
  if (bytes) VLA_CUDA_CHECK(cudaMemcpy(device_dst, host_src, bytes, cudaMemcpyHostToDevice));
}

void copy_to_host(void* host_dst, const void* device_src, size_t bytes) {
  if (bytes) VLA_CUDA_CHECK(cudaMemcpy(host_dst, device_src, bytes, cudaMemcpyDeviceToHost));
}

void synchronize() { VLA_CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace vla::VLA_CUDA_NS
