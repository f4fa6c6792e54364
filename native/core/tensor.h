// Tensors: non-owning views over contiguous row-major buffers with an explicit shape.
//
// Conventions used by every op in native/ops:
// - Layout is row-major (C order); the last dimension is contiguous. No strides: an op that
//   needs a transposed operand says so in its signature (e.g. GEMM's trans flags).
// - Shapes are stated in each op's header as [dims] with named sizes, e.g. x: [M, C].
// - Element types: float (fp32, the production path) and double (the float64 reference used by
//   gradient checks); int32 for indices and positions; uint8 for masks (0 = blocked, 1 = allowed).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/error.h"

namespace vla {

enum class DType : int { kF32 = 0, kF64 = 1, kI32 = 2, kU8 = 3 };

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "float32";
    case DType::kF64: return "float64";
    case DType::kI32: return "int32";
    case DType::kU8: return "uint8";
  }
  return "?";
}

inline int64_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF64: return 8;
    case DType::kI32: return 4;
    case DType::kU8: return 1;
  }
  return 0;
}

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::kF32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::kF64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::kI32; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::kU8; };

// A shape of up to kMaxRank dimensions. Rank 0 is a scalar (numel 1).
class Shape {
 public:
  static constexpr int kMaxRank = 6;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) {
    if (dims.size() > kMaxRank) fail(ErrorCode::kShape, "rank ", dims.size(), " exceeds ", kMaxRank);
    for (int64_t d : dims) push_back(d);
  }

  int rank() const { return rank_; }
  int64_t operator[](int i) const { return dims_[i]; }
  int64_t& operator[](int i) { return dims_[i]; }
  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + rank_; }

  void push_back(int64_t d) {
    if (rank_ >= kMaxRank) fail(ErrorCode::kShape, "rank exceeds ", kMaxRank);
    if (d < 0) fail(ErrorCode::kShape, "negative dimension ", d);
    dims_[rank_++] = d;
  }

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[i];
    return n;
  }

  bool operator==(const Shape& o) const {
    if (rank_ != o.rank_) return false;
    for (int i = 0; i < rank_; ++i)
      if (dims_[i] != o.dims_[i]) return false;
    return true;
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }

  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < rank_; ++i) {
      if (i) s += ", ";
      s += std::to_string(dims_[i]);
    }
    return s + "]";
  }

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

// A typed view. Does not own its memory.
template <typename T>
struct TensorView {
  T* data = nullptr;
  Shape shape;

  TensorView() = default;
  TensorView(T* d, Shape s) : data(d), shape(s) {}
  int64_t numel() const { return shape.numel(); }
  int rank() const { return shape.rank(); }
  int64_t dim(int i) const { return shape[i]; }
};

// A type-erased view, used where an op's dtype is chosen at run time (the registry, N-API).
struct AnyTensor {
  void* data = nullptr;
  DType dtype = DType::kF32;
  Shape shape;

  bool present() const { return data != nullptr || shape.numel() == 0; }
  int64_t numel() const { return shape.numel(); }
  int64_t nbytes() const { return numel() * dtype_size(dtype); }

  template <typename T>
  TensorView<T> as() const {
    if (dtype != DTypeOf<T>::value)
      fail(ErrorCode::kDType, "tensor is ", dtype_name(dtype), ", expected ",
           dtype_name(DTypeOf<T>::value));
    return TensorView<T>(static_cast<T*>(data), shape);
  }
  template <typename T>
  T* ptr() const { return as<T>().data; }
};

}  // namespace vla
