#include "io/safetensors.h"

#include <cmath>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "io/json.h"

namespace vla {

const char* st_dtype_name(StDType t) {
  switch (t) {
    case StDType::kF32: return "F32";
    case StDType::kF64: return "F64";
    case StDType::kI32: return "I32";
    case StDType::kU8: return "U8";
    case StDType::kBF16: return "BF16";
    case StDType::kF16: return "F16";
    case StDType::kI64: return "I64";
  }
  return "?";
}

int64_t st_dtype_size(StDType t) {
  switch (t) {
    case StDType::kF32: return 4;
    case StDType::kF64: return 8;
    case StDType::kI32: return 4;
    case StDType::kU8: return 1;
    case StDType::kBF16: return 2;
    case StDType::kF16: return 2;
    case StDType::kI64: return 8;
  }
  return 0;
}

namespace {

bool parse_dtype(const std::string& s, StDType* out) {
  static const std::pair<const char*, StDType> table[] = {
      {"F32", StDType::kF32}, {"F64", StDType::kF64}, {"I32", StDType::kI32}, {"U8", StDType::kU8},
      {"BF16", StDType::kBF16}, {"F16", StDType::kF16}, {"I64", StDType::kI64}};
  for (const auto& [name, t] : table)
    if (s == name) {
      *out = t;
      return true;
    }
  return false;
}

float bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float f16_bits_to_f32(uint16_t h) {
  uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign << 31;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        mant <<= 1;
        ++e;
      } while (!(mant & 0x400));
      mant &= 0x3FF;
      bits = (sign << 31) | (static_cast<uint32_t>(127 - 15 - e) << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = (sign << 31) | 0x7F800000u | (mant << 13);
  } else {
    bits = (sign << 31) | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

float f16_to_f32(uint16_t h) { return f16_bits_to_f32(h); }

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);  // NaN stays NaN (quiet)
  if (ax >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520 rounds to infinity
  if (ax < 0x38800000u) {
    // Below the smallest normal (2^-14): a multiple of 2^-24. Scaling by 2^24 is exact, and
    // nearbyint rounds half to even under the default rounding mode; 1024 is the smallest normal.
    float a;
    std::memcpy(&a, &ax, 4);
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(a * 16777216.0f)));
  }
  uint32_t h = (((ax >> 23) - 127 + 15) << 10) | ((ax & 0x7FFFFFu) >> 13);
  const uint32_t rest = ax & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry moves into the exponent, as it should
  return static_cast<uint16_t>(sign | h);
}

const SafetensorsEntry* SafetensorsHeader::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const std::string* SafetensorsHeader::meta(const std::string& key) const {
  for (const auto& [k, v] : metadata)
    if (k == key) return &v;
  return nullptr;
}

SafetensorsHeader parse_safetensors(const uint8_t* bytes, int64_t size, const std::string& source,
                                    const SafetensorsLimits& limits) {
  if (size < 8) fail(ErrorCode::kValue, source, ": not a safetensors file (", size, " bytes; the header length alone takes 8)");
  if (size > limits.max_file_bytes)
    fail(ErrorCode::kValue, source, ": file of ", size, " bytes exceeds the limit of ", limits.max_file_bytes);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  if (n == 0) fail(ErrorCode::kValue, source, ": header length is 0");
  if (n > static_cast<uint64_t>(limits.max_header_bytes))
    fail(ErrorCode::kValue, source, ": header length ", n, " exceeds the limit of ", limits.max_header_bytes, " bytes");
  if (n > static_cast<uint64_t>(size - 8))
    fail(ErrorCode::kValue, source, ": header length ", n, " runs past the end of the file (", size, " bytes): truncated?");
  SafetensorsHeader h;
  h.data_start = 8 + static_cast<int64_t>(n);
  h.data_size = size - h.data_start;
  std::string_view text(reinterpret_cast<const char*>(bytes + 8), static_cast<size_t>(n));
  // Writers pad the header with spaces to 8 bytes; the JSON parser skips trailing spaces.
  JsonValue root = parse_json(text, source + " header");
  // Duplicate tensor names cannot occur: the JSON parser rejects duplicate keys.
  for (const auto& [name, value] : root.as_object(source + " header")) {
    if (name == "__metadata__") {
      for (const auto& [k, v] : value.as_object(source + ": __metadata__"))
        h.metadata.emplace_back(k, v.as_string(source + ": __metadata__." + k));
      continue;
    }
    const std::string what = source + ": tensor '" + name + "'";
    if (name.empty()) fail(ErrorCode::kValue, source, ": a tensor has an empty name");
    SafetensorsEntry e;
    e.name = name;
    value.as_object(what);
    const JsonValue* dtype = value.find("dtype");
    const JsonValue* shape = value.find("shape");
    const JsonValue* offsets = value.find("data_offsets");
    if (!dtype || !shape || !offsets) fail(ErrorCode::kValue, what, " lacks dtype, shape or data_offsets");
    const std::string& dt = dtype->as_string(what + " dtype");
    if (!parse_dtype(dt, &e.dtype))
      fail(ErrorCode::kValue, what, " has dtype '", dt, "'; vla-ttt reads F32, F64, I32, U8, BF16, F16 and I64");
    const auto& dims = shape->as_array(what + " shape");
    if (dims.size() > static_cast<size_t>(Shape::kMaxRank))
      fail(ErrorCode::kValue, what, " has rank ", dims.size(), " (at most ", Shape::kMaxRank, ")");
    int64_t numel = 1;
    for (size_t i = 0; i < dims.size(); ++i) {
      int64_t d = dims[i].as_int(what + " shape[" + std::to_string(i) + "]", 0, int64_t(1) << 40);
      e.shape.push_back(d);
      if (__builtin_mul_overflow(numel, d, &numel))
        fail(ErrorCode::kValue, what, " has a shape whose size overflows 64 bits");
    }
    const auto& off = offsets->as_array(what + " data_offsets");
    if (off.size() != 2) fail(ErrorCode::kValue, what, " data_offsets must be [begin, end]");
    e.begin = off[0].as_int(what + " data_offsets[0]", 0, int64_t(1) << 62);
    e.end = off[1].as_int(what + " data_offsets[1]", 0, int64_t(1) << 62);
    if (e.end > h.data_size)
      fail(ErrorCode::kValue, what, " data_offsets[1] = ", e.end, " runs past the ", h.data_size,
           " data bytes in the file: truncated?");
    if (e.end < e.begin) fail(ErrorCode::kValue, what, " data_offsets end ", e.end, " < begin ", e.begin);
    int64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, st_dtype_size(e.dtype), &nbytes))
      fail(ErrorCode::kValue, what, ": shape ", e.shape.str(), " of ", dt, " has a byte size that overflows 64 bits");
    if (nbytes != e.end - e.begin)
      fail(ErrorCode::kValue, what, ": shape ", e.shape.str(), " of ", dt, " needs ", nbytes, " bytes but data_offsets span ",
           e.end - e.begin);
    h.tensors.push_back(std::move(e));
  }
  std::sort(h.tensors.begin(), h.tensors.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
  int64_t cursor = 0;
  for (const auto& t : h.tensors) {
    if (t.begin < cursor)
      fail(ErrorCode::kValue, source, ": tensor '", t.name, "' overlaps the previous tensor's data (begins at ", t.begin,
           ", previous ends at ", cursor, ")");
    if (t.begin > cursor)
      fail(ErrorCode::kValue, source, ": a hole in the data buffer before tensor '", t.name, "' (bytes ", cursor, "..", t.begin, ")");
    cursor = t.end;
  }
  if (cursor != h.data_size)
    fail(ErrorCode::kValue, source, ": the data buffer has ", h.data_size - cursor, " bytes that no tensor covers (truncated or padded?)");
  return h;
}

SafetensorsFile SafetensorsFile::from_bytes(std::vector<uint8_t> bytes, const std::string& source,
                                            const SafetensorsLimits& limits) {
  SafetensorsFile f;
  f.header_ = parse_safetensors(bytes.data(), static_cast<int64_t>(bytes.size()), source, limits);
  f.bytes_ = std::move(bytes);
  f.source_ = source;
  return f;
}

SafetensorsFile SafetensorsFile::read(const std::string& path, const SafetensorsLimits& limits) {
  // A folder opens as a stream of "infinite" size on Linux; name the mistake instead.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(ErrorCode::kArgument, path, ": is a directory, not a checkpoint file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(ErrorCode::kArgument, path, ": cannot open (", std::strerror(errno), ")");
  std::streamoff size = in.tellg();
  if (size < 0) fail(ErrorCode::kArgument, path, ": cannot determine the file size");
  if (size > limits.max_file_bytes)
    fail(ErrorCode::kValue, path, ": file of ", static_cast<int64_t>(size), " bytes exceeds the limit of ", limits.max_file_bytes);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    fail(ErrorCode::kValue, path, ": read failed");
  return from_bytes(std::move(bytes), path, limits);
}

const SafetensorsEntry& SafetensorsFile::require(const std::string& name) const {
  const SafetensorsEntry* e = header_.find(name);
  if (!e) fail(ErrorCode::kValue, source_, ": tensor '", name, "' is missing");
  return *e;
}

void SafetensorsFile::read_as_f32(const std::string& name, const Shape& shape, float* out) const {
  const SafetensorsEntry& e = require(name);
  if (e.shape != shape)
    fail(ErrorCode::kValue, source_, ": tensor '", name, "' has shape ", e.shape.str(), ", expected ", shape.str());
  read_as_f32(e, out);
}

void SafetensorsFile::read_as_f32(const SafetensorsEntry& e, float* out) const {
  const std::string& name = e.name;
  const uint8_t* p = data(e);
  int64_t n = e.shape.numel();
  switch (e.dtype) {
    case StDType::kF32:
      if (n > 0) std::memcpy(out, p, static_cast<size_t>(n) * 4);  // an empty tensor may come with out == nullptr
      break;
    case StDType::kF64:
      for (int64_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      break;
    case StDType::kBF16:
    case StDType::kF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = e.dtype == StDType::kBF16 ? bf16_to_f32(h) : f16_bits_to_f32(h);
      }
      break;
    default:
      fail(ErrorCode::kValue, source_, ": tensor '", name, "' is ", st_dtype_name(e.dtype), ", expected a float type");
  }
}

std::vector<uint8_t> serialize_safetensors(const std::vector<TensorToWrite>& tensors,
                                           const std::vector<std::pair<std::string, std::string>>& metadata) {
  std::string header = "{";
  bool first = true;
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (size_t i = 0; i < metadata.size(); ++i)
      header += (i ? "," : "") + json_quote(metadata[i].first) + ":" + json_quote(metadata[i].second);
    header += "}";
    first = false;
  }
  int64_t offset = 0;
  std::set<std::string> names;
  for (const auto& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__" || !names.insert(t.name).second)
      fail(ErrorCode::kArgument, "safetensors: bad or duplicate tensor name '", t.name, "'");
    int64_t nbytes = t.shape.numel() * st_dtype_size(t.dtype);
    header += std::string(first ? "" : ",") + json_quote(t.name) + ":{\"dtype\":\"" + st_dtype_name(t.dtype) + "\",\"shape\":[";
    for (int i = 0; i < t.shape.rank(); ++i) header += (i ? "," : "") + std::to_string(t.shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + nbytes) + "]}";
    offset += nbytes;
    first = false;
  }
  header += "}";
  while (header.size() % 8 != 0) header += ' ';
  std::vector<uint8_t> out(8 + header.size() + static_cast<size_t>(offset));
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  uint8_t* data = out.data() + 8 + header.size();
  for (const auto& t : tensors) {
    size_t nbytes = static_cast<size_t>(t.shape.numel() * st_dtype_size(t.dtype));
    if (nbytes) {
      if (!t.data) fail(ErrorCode::kArgument, "safetensors: tensor '", t.name, "' has no data");
      std::memcpy(data, t.data, nbytes);
    }
    data += nbytes;
  }
  return out;
}

void write_file_atomic(const std::string& path, const uint8_t* bytes, size_t size) {
  static std::atomic<uint64_t> counter{0};
  std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(ErrorCode::kArgument, path, ": cannot create ", tmp, " (", std::strerror(errno), ")");
  size_t done = 0;
  while (done < size) {
    ssize_t w = ::write(fd, bytes + done, size - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      fail(ErrorCode::kArgument, path, ": write failed (", std::strerror(err), "); the previous file is unchanged");
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail(ErrorCode::kArgument, path, ": flush failed (", std::strerror(err), "); the previous file is unchanged");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail(ErrorCode::kArgument, path, ": rename failed (", std::strerror(err), "); the previous file is unchanged");
  }
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::vector<std::pair<std::string, std::string>>& metadata) {
  std::vector<uint8_t> bytes = serialize_safetensors(tensors, metadata);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace vla
