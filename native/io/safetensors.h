// safetensors files: the checkpoint format (https://github.com/huggingface/safetensors).
//
// Layout: u64 little-endian N, then N bytes of JSON header, then the data buffer. The header
// maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// data buffer) plus an optional "__metadata__" object of string -> string (vla-ttt stores the
// model config and the tokenizer vocabulary there).
//
// Parsing treats the file as hostile: every size and offset is range- and overflow-checked
// before any read, tensors must tile the data buffer exactly (no overlap, no holes), and errors
// (ErrorCode::kValue) name the file, the tensor and the field.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace vla {

// Element types a safetensors file may hold that vla-ttt reads. BF16/F16 are read and widened
// to float32 by read_as_f32; vla-ttt writes F32, F64, I32, U8 and F16
// (half-precision policy checkpoints).
enum class StDType { kF32, kF64, kI32, kU8, kBF16, kF16, kI64 };

const char* st_dtype_name(StDType t);
int64_t st_dtype_size(StDType t);

// IEEE half precision <-> float32. f32_to_f16 rounds to nearest, ties to even; values of
// magnitude >= 65520 become infinity (callers that must not overflow check for it), NaN stays NaN.
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);

struct SafetensorsEntry {
  std::string name;
  StDType dtype = StDType::kF32;
  Shape shape;
  int64_t begin = 0;  // offsets into the data buffer
  int64_t end = 0;
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> tensors;  // in file order of their data
  std::vector<std::pair<std::string, std::string>> metadata;
  int64_t data_start = 0;  // byte offset of the data buffer in the file
  int64_t data_size = 0;

  const SafetensorsEntry* find(const std::string& name) const;
  const std::string* meta(const std::string& key) const;
};

struct SafetensorsLimits {
  int64_t max_header_bytes = int64_t(100) << 20;
  int64_t max_file_bytes = int64_t(64) << 30;
};

// Parses and validates the header of a file of `size` bytes held at `bytes`. `source` names the
// file in errors.
SafetensorsHeader parse_safetensors(const uint8_t* bytes, int64_t size, const std::string& source,
                                    const SafetensorsLimits& limits = {});

// A whole file in memory, validated.
class SafetensorsFile {
 public:
  static SafetensorsFile read(const std::string& path, const SafetensorsLimits& limits = {});
  static SafetensorsFile from_bytes(std::vector<uint8_t> bytes, const std::string& source,
                                    const SafetensorsLimits& limits = {});

  const SafetensorsHeader& header() const { return header_; }
  const std::string& source() const { return source_; }
  // Raw bytes of a tensor (size end - begin).
  const uint8_t* data(const SafetensorsEntry& e) const { return bytes_.data() + header_.data_start + e.begin; }
  // The tensor named `name`, which must exist with exactly `shape`, widened to float32.
  // Fails naming the file, the tensor, its shape and dtype, and what was expected.
  void read_as_f32(const std::string& name, const Shape& shape, float* out) const;
  // An entry of header() (no lookup), widened to float32: out holds e.shape.numel() floats.
  void read_as_f32(const SafetensorsEntry& e, float* out) const;
  const SafetensorsEntry& require(const std::string& name) const;

 private:
  SafetensorsHeader header_;
  std::vector<uint8_t> bytes_;
  std::string source_;
};

struct TensorToWrite {
  std::string name;
  StDType dtype = StDType::kF32;
  Shape shape;
  const void* data = nullptr;
};

// Serializes to bytes (tensors laid out in the order given; header padded to 8 bytes).
std::vector<uint8_t> serialize_safetensors(const std::vector<TensorToWrite>& tensors,
                                           const std::vector<std::pair<std::string, std::string>>& metadata);

// Writes atomically: a temporary file in the same folder, flushed, then renamed over `path`, so a
// crash mid-write leaves any previous file intact.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::vector<std::pair<std::string, std::string>>& metadata);

// Writes `bytes` to `path` atomically (temp file + fsync + rename).
void write_file_atomic(const std::string& path, const uint8_t* bytes, size_t size);

}  // namespace vla
