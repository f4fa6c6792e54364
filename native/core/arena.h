// An arena: one aligned allocation from which tensors are carved in order (llm.c style).
//
// The model keeps three: parameters (allocated once; their flat buffer is what AdamW updates in
// one call), gradients (the same layout as the parameters), and activations (rewound with
// reset(mark) between steps, so a training step allocates nothing from the system).
//
// Sizes are planned first with a measuring arena (capacity 0, planning = true) that hands out
// null views and only adds up bytes; then the real arena is made with exactly that capacity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "core/tensor.h"

namespace vla {

class Arena {
 public:
  static constexpr int64_t kAlignment = 64;  // a cache line, and a full AVX-512 register

  // A measuring arena: alloc() returns null data and counts the bytes it would need.
  static Arena planning() { return Arena(); }

  // An arena owning `capacity_bytes` of zero-initialized memory.
  explicit Arena(int64_t capacity_bytes);
  // An arena carving `capacity_bytes` of memory it does not own (device memory, say: it is
  // never read, written or freed here). `base` must be aligned to kAlignment.
  static Arena over(void* base, int64_t capacity_bytes);
  ~Arena();
  Arena(Arena&& other) noexcept;
  Arena& operator=(Arena&& other) noexcept;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Carves a tensor of `shape`; `what` names it in the error if the arena is full.
  template <typename T>
  TensorView<T> alloc(const Shape& shape, const char* what) {
    void* p = alloc_bytes(shape.numel() * static_cast<int64_t>(sizeof(T)), what);
    return TensorView<T>(static_cast<T*>(p), shape);
  }
  void* alloc_bytes(int64_t nbytes, const char* what);

  bool is_planning() const { return planning_; }
  int64_t used() const { return used_; }
  int64_t capacity() const { return capacity_; }
  // High-water mark of used(), across resets.
  int64_t peak() const { return peak_; }
  void* base() const { return base_; }

  // A position to rewind to: everything allocated after it is released at once.
  int64_t mark() const { return used_; }
  void reset(int64_t mark = 0);

 private:
  Arena() : planning_(true) {}

  char* base_ = nullptr;
  int64_t capacity_ = 0;
  int64_t used_ = 0;
  int64_t peak_ = 0;
  bool planning_ = false;
  bool owning_ = true;
};

}  // namespace vla
