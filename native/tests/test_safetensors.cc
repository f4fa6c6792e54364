// safetensors and JSON parsing: round trips, and hostile or damaged files that must fail with a
// clear error (never read out of bounds; run under valgrind/ASan in the reliability checks).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "io/json.h"
#include "io/safetensors.h"
#include "tests/test_framework.h"

namespace vla::test {

namespace {

std::vector<uint8_t> file_with_header(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> out(8 + header.size() + data_bytes, 0);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  VLA_EXPECT_THROWS(parse_safetensors(bytes.data(), static_cast<int64_t>(bytes.size()), "bad.safetensors"),
                    ErrorCode::kValue, "");
  try {
    parse_safetensors(bytes.data(), static_cast<int64_t>(bytes.size()), "bad.safetensors");
  } catch (const Error& e) {
    VLA_EXPECT(std::string(e.what()).find(fragment) != std::string::npos) << e.what() << "| wanted:" << fragment;
    VLA_EXPECT(std::string(e.what()).find("bad.safetensors") != std::string::npos) << e.what();
  }
}

}  // namespace

VLA_TEST(json, parses_and_rejects) {
  JsonValue v = parse_json(R"( {"a": [1, -2.5e3, true, null], "b": "x\u00e9\n", "c": {}} )", "t");
  VLA_EXPECT(v.find("a")->as_array("a").size() == 4);
  VLA_EXPECT_NEAR(v.find("a")->as_array("a")[1].as_number("n"), -2500.0, 0);
  VLA_EXPECT(v.find("b")->as_string("b") == "x\xc3\xa9\n");
  VLA_EXPECT(parse_json(v.dump(), "round trip").dump() == v.dump());
  for (const char* bad : {"", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "01", "1.", "\"\\q\"", "\"abc", "{\"a\":1,\"a\":2}",
                          "[1] 2", "nul", "\"\\ud800\"", "1e999"}) {
    VLA_EXPECT_THROWS(parse_json(bad, "t"), ErrorCode::kValue, "t: invalid JSON at byte");
  }
  std::string deep(100, '[');
  VLA_EXPECT_THROWS(parse_json(deep, "t"), ErrorCode::kValue, "nesting deeper than 64");
  VLA_EXPECT_THROWS(parse_json("1.5", "t").as_int("n", 0, 10), ErrorCode::kValue, "n must be an integer");
}

VLA_TEST(safetensors, round_trip_with_metadata) {
  std::vector<float> a = {1.5f, -2.0f, 3.25f, 4.0f, 5.0f, 6.0f};
  std::vector<int32_t> ids = {7, 8, 9};
  std::vector<uint8_t> bytes = serialize_safetensors(
      {{"layer.a", StDType::kF32, Shape{2, 3}, a.data()}, {"ids", StDType::kI32, Shape{3}, ids.data()}, {"empty", StDType::kF32, Shape{0, 4}, nullptr}},
      {{"config", "{\"width\":128}"}, {"vocab", "put,the"}});
  VLA_EXPECT((bytes.size() - 8 - 6 * 4 - 3 * 4) % 8 == 0);
  SafetensorsFile f = SafetensorsFile::from_bytes(bytes, "mem");
  VLA_EXPECT(f.header().tensors.size() == 3);
  VLA_EXPECT(*f.header().meta("config") == "{\"width\":128}");
  std::vector<float> back(6);
  f.read_as_f32("layer.a", Shape{2, 3}, back.data());
  VLA_EXPECT(back == a);
  VLA_EXPECT_THROWS(f.read_as_f32("layer.a", Shape{3, 2}, back.data()), ErrorCode::kValue,
                    "tensor 'layer.a' has shape [2, 3], expected [3, 2]");
  VLA_EXPECT_THROWS(f.read_as_f32("nope", Shape{1}, back.data()), ErrorCode::kValue, "tensor 'nope' is missing");
  VLA_EXPECT_THROWS(f.read_as_f32("ids", Shape{3}, back.data()), ErrorCode::kValue, "is I32, expected a float type");
}

VLA_TEST(safetensors, widens_bf16_and_f16) {
  // 1.0, -2.0, 0.5 in bf16 and f16; plus an f16 subnormal (2^-24) and infinity.
  uint16_t bf16[3] = {0x3F80, 0xC000, 0x3F00};
  uint16_t f16[5] = {0x3C00, 0xC000, 0x3800, 0x0001, 0x7C00};
  auto bytes = serialize_safetensors({{"b", StDType::kBF16, Shape{3}, bf16}, {"h", StDType::kF16, Shape{5}, f16}}, {});
  SafetensorsFile f = SafetensorsFile::from_bytes(bytes, "mem");
  float out[5];
  f.read_as_f32("b", Shape{3}, out);
  VLA_EXPECT(out[0] == 1.0f && out[1] == -2.0f && out[2] == 0.5f);
  f.read_as_f32("h", Shape{5}, out);
  VLA_EXPECT(out[0] == 1.0f && out[1] == -2.0f && out[2] == 0.5f);
  VLA_EXPECT_NEAR(out[3], 5.960464477539063e-08, 1e-20);
  VLA_EXPECT(std::isinf(out[4]));
}

VLA_TEST(safetensors, hostile_and_damaged_files) {
  expect_rejected({1, 2, 3}, "not a safetensors file");
  std::vector<uint8_t> huge(16, 0);
  huge[7] = 0x7f;  // header length ~9e18
  expect_rejected(huge, "exceeds the limit");
  std::vector<uint8_t> past = file_with_header("{}", 0);
  past[0] = 200;  // header length 200 > file
  expect_rejected(past, "runs past the end of the file");
  expect_rejected(file_with_header("[1,2]", 0), "header must be an object");
  expect_rejected(file_with_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8), "invalid JSON");
  expect_rejected(file_with_header("{\"x\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "has dtype 'Q7'");
  expect_rejected(file_with_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", 8), "data_offsets[1]");
  expect_rejected(file_with_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "needs 12 bytes but data_offsets span 8");
  expect_rejected(file_with_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8), "shape[0]");
  expect_rejected(file_with_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,8]}}", 8),
                  "overflows 64 bits");
  expect_rejected(file_with_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8), "end 0 < begin 8");
  expect_rejected(file_with_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                   "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
                  "overlaps");
  expect_rejected(file_with_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "a hole in the data buffer");
  expect_rejected(file_with_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8), "no tensor covers");
  expect_rejected(file_with_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "lacks dtype, shape or data_offsets");
  expect_rejected(file_with_header("{\"__metadata__\":{\"a\":1}}", 0), "__metadata__.a must be a string");
  expect_rejected(file_with_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4), "rank 7");
  // A truncated copy of a valid file.
  std::vector<float> a(100, 1.0f);
  auto good = serialize_safetensors({{"a", StDType::kF32, Shape{100}, a.data()}}, {});
  good.resize(good.size() - 4);
  expect_rejected(good, "data_offsets[1]");
}

// Strings must be well-formed UTF-8 (RFC 8259); errors show bad bytes in hex, so the message
// itself stays valid UTF-8.
VLA_TEST(json, rejects_invalid_utf8) {
  for (const char* good : {"\"caf\xc3\xa9\"", "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"", "\"\xed\x9f\xbf\"", "\"\xef\xbf\xbf\"",
                           "\"\xf4\x8f\xbf\xbf\""}) {
    VLA_EXPECT(parse_json(good, "t").as_string("s") == std::string(good + 1, std::strlen(good) - 2)) << good;
  }
  const std::pair<const char*, const char*> bad[] = {
      {"\"\x80\"", "byte 0x80 cannot start a character"},          // lone continuation byte
      {"\"\xc0\xaf\"", "byte 0xc0 cannot start a character"},      // overlong '/'
      {"\"\xc1\xbf\"", "byte 0xc1 cannot start a character"},      // overlong
      {"\"\xe0\x80\xaf\"", "byte 0x80 after lead byte 0xe0"},     // overlong 3-byte form
      {"\"\xed\xa0\x80\"", "byte 0xa0 after lead byte 0xed"},     // UTF-16 surrogate D800
      {"\"\xf0\x80\x80\xaf\"", "byte 0x80 after lead byte 0xf0"}, // overlong 4-byte form
      {"\"\xf4\x90\x80\x80\"", "byte 0x90 after lead byte 0xf4"}, // past U+10FFFF
      {"\"\xf5\x80\x80\x80\"", "byte 0xf5 cannot start"},
      {"\"\xff\"", "byte 0xff cannot start"},
      {"\"\xe2\x82\"", "byte '\"' after lead byte 0xe2"},           // sequence cut by the closing quote
      {"\"\xe2\x82", "truncated character"},                       // cut by the end of the text
      {"\"a\xe2\x82\x41\"", "byte 'A' after lead byte 0xe2"},
      {"\xff", "unexpected character 0xff"},                         // outside a string
      {"\"\\\xc3\xa9\"", "bad escape: backslash then 0xc3"},
  };
  for (const auto& [text, fragment] : bad) {
    try {
      parse_json(text, "t");
      VLA_EXPECT(false) << "accepted" << text;
    } catch (const Error& e) {
      VLA_EXPECT(e.code() == ErrorCode::kValue);
      VLA_EXPECT(std::string(e.what()).find(fragment) != std::string::npos) << e.what() << "| wanted:" << fragment;
    }
  }
}

// The depth limit bounds the recursion: 65 nested arrays or objects parse, 66 fail, and a
// million open brackets fail at the limit instead of overflowing the stack.
VLA_TEST(json, nesting_depth_limit) {
  auto arrays = [](int n) { return std::string(static_cast<size_t>(n), '[') + std::string(static_cast<size_t>(n), ']'); };
  auto objects = [](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += "{\"k\":";
    s += "1";
    for (int i = 0; i < n; ++i) s += "}";
    return s;
  };
  VLA_EXPECT(parse_json(arrays(65), "t").dump() == arrays(65));
  VLA_EXPECT(parse_json(objects(64), "t").dump() == objects(64));
  VLA_EXPECT_THROWS(parse_json(arrays(66), "t"), ErrorCode::kValue, "nesting deeper than 64");
  VLA_EXPECT_THROWS(parse_json(objects(65), "t"), ErrorCode::kValue, "nesting deeper than 64");
  VLA_EXPECT_THROWS(parse_json(std::string(1000000, '['), "t"), ErrorCode::kValue, "invalid JSON at byte 65: nesting deeper than 64");
  JsonLimits shallow;
  shallow.max_depth = 2;
  VLA_EXPECT_THROWS(parse_json("[[[1]]]", "t", shallow), ErrorCode::kValue, "nesting deeper than 2");
}

// as_int range-checks before converting (2^63 does not fit int64_t: converting it is undefined).
VLA_TEST(json, as_int_range_edges) {
  const int64_t kMax = std::numeric_limits<int64_t>::max(), kMin = std::numeric_limits<int64_t>::min();
  VLA_EXPECT_THROWS(parse_json("9223372036854775807", "t").as_int("n", 0, kMax), ErrorCode::kValue, "n must be an integer in");
  VLA_EXPECT_THROWS(parse_json("1e300", "t").as_int("n", kMin, kMax), ErrorCode::kValue, "n must be an integer in");
  VLA_EXPECT_THROWS(parse_json("-1e300", "t").as_int("n", kMin, kMax), ErrorCode::kValue, "n must be an integer in");
  VLA_EXPECT(parse_json("-9223372036854775808", "t").as_int("n", kMin, kMax) == kMin);
  VLA_EXPECT(parse_json("9223372036854774784", "t").as_int("n", 0, kMax) == 9223372036854774784);  // largest double < 2^63
  VLA_EXPECT(parse_json("-0", "t").as_int("n", 0, 0) == 0);
  VLA_EXPECT_THROWS(parse_json("11", "t").as_int("n", 0, 10), ErrorCode::kValue, "in [0, 10], got 11");
  VLA_EXPECT_THROWS(parse_json("-1", "t").as_int("n", 0, 10), ErrorCode::kValue, "in [0, 10], got -1");
}

// Headers a hostile or broken writer could produce, beyond those above: each fails naming the
// tensor and the field (the inputs the fuzzers start from, native/fuzz/corpus/, replay in
// fuzz_corpus.* as well).
VLA_TEST(safetensors, hostile_headers) {
  const std::string f32x1 = R"("dtype":"F32","shape":[1])";
  // Duplicate names (and a duplicate __metadata__) are duplicate JSON keys.
  expect_rejected(file_with_header("{\"x\":{" + f32x1 + ",\"data_offsets\":[0,4]},\"x\":{" + f32x1 + ",\"data_offsets\":[4,8]}}", 8),
                  "duplicate key \"x\"");
  expect_rejected(file_with_header(R"({"__metadata__":{},"__metadata__":{}})", 0), "duplicate key \"__metadata__\"");
  // Offsets past the end, fractional, negative or absurd.
  expect_rejected(file_with_header("{\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[12,12]}}", 8), "runs past the 8 data bytes");
  expect_rejected(file_with_header("{\"x\":{" + f32x1 + ",\"data_offsets\":[0.5,4]}}", 4), "data_offsets[0] must be an integer");
  expect_rejected(file_with_header("{\"x\":{" + f32x1 + ",\"data_offsets\":[-4,0]}}", 4), "data_offsets[0] must be an integer");
  expect_rejected(file_with_header("{\"x\":{" + f32x1 + ",\"data_offsets\":[0,1e300]}}", 4), "data_offsets[1] must be an integer");
  expect_rejected(file_with_header("{\"x\":{" + f32x1 + ",\"data_offsets\":[0,4,8]}}", 4), "data_offsets must be [begin, end]");
  expect_rejected(file_with_header("{\"x\":{" + f32x1 + ",\"data_offsets\":{}}}", 4), "data_offsets must be an array");
  // Overlaps, whatever order the header lists the tensors in.
  expect_rejected(file_with_header("{\"y\":{" + f32x1 + ",\"data_offsets\":[2,6]},\"x\":{" + f32x1 + ",\"data_offsets\":[0,4]}}", 8),
                  "tensor 'y' overlaps the previous tensor's data (begins at 2, previous ends at 4)");
  expect_rejected(file_with_header("{\"x\":{" + f32x1 + ",\"data_offsets\":[0,4]},\"y\":{" + f32x1 + ",\"data_offsets\":[0,4]}}", 4),
                  "overlaps");
  // Shapes: byte size overflowing (the element count alone fits), wrong types, bad dtypes.
  expect_rejected(file_with_header(R"({"x":{"dtype":"F32","shape":[1099511627776,4194304],"data_offsets":[0,8]}})", 8),
                  "byte size that overflows 64 bits");
  expect_rejected(file_with_header(R"({"x":{"dtype":"F32","shape":[1099511627777],"data_offsets":[0,8]}})", 8), "shape[0] must be an integer");
  expect_rejected(file_with_header(R"({"x":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", 8), "shape must be an array");
  expect_rejected(file_with_header(R"({"x":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8), "shape[0] must be an integer");
  expect_rejected(file_with_header(R"({"x":{"dtype":32,"shape":[2],"data_offsets":[0,8]}})", 8), "dtype must be a string");
  expect_rejected(file_with_header(R"({"x":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}})", 8), "has dtype 'f32'");
  expect_rejected(file_with_header(R"({"x":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})", 8), "shape [2] of F16 needs 4 bytes but data_offsets span 8");
  expect_rejected(file_with_header(R"({"x":[1,2]})", 8), "tensor 'x' must be an object");
  expect_rejected(file_with_header(R"({"":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}})", 0), "a tensor has an empty name");
  // Text that is not JSON: bad UTF-8 in a name, nesting past the limit, a header length of 0 or
  // 2^64 - 1, a header running past a file that has nothing else.
  expect_rejected(file_with_header("{\"x\xff\":{" + f32x1 + ",\"data_offsets\":[0,4]}}", 4), "invalid UTF-8 in string");
  expect_rejected(file_with_header("{\"__metadata__\":{\"k\":" + std::string(100, '[') + "}}", 0), "nesting deeper than 64");
  std::vector<uint8_t> zero = file_with_header("{}", 0);
  zero[0] = 0;
  expect_rejected(zero, "header length is 0");
  std::vector<uint8_t> max_len = file_with_header("{}", 0);
  std::fill(max_len.begin(), max_len.begin() + 8, uint8_t(0xff));
  expect_rejected(max_len, "header length 18446744073709551615 exceeds the limit");
  expect_rejected({1, 0, 0, 0, 0, 0, 0, 0}, "header length 1 runs past the end of the file (8 bytes)");
}

// The JSON order of tensors need not be the data order; zero-size tensors may share an offset.
VLA_TEST(safetensors, tensors_listed_out_of_data_order) {
  const float values[2] = {1.5f, -3.0f};
  std::vector<uint8_t> bytes = file_with_header(R"({"second":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                                                R"("empty":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},)"
                                                R"("first":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                                8);
  std::memcpy(bytes.data() + bytes.size() - 8, values, 8);
  SafetensorsFile f = SafetensorsFile::from_bytes(bytes, "mem");
  VLA_EXPECT(f.header().tensors.size() == 3 && f.header().tensors[0].name == "first");
  float out = 0;
  f.read_as_f32("second", Shape{1}, &out);
  VLA_EXPECT(out == -3.0f);
  f.read_as_f32("first", Shape{1}, &out);
  VLA_EXPECT(out == 1.5f);
  f.read_as_f32("empty", Shape{0, 3}, nullptr);  // nothing to copy, and no null pointer handed to memcpy
}

VLA_TEST(safetensors, atomic_write_keeps_previous_file_on_failure) {
  std::string path = "/tmp/vla_ttt_test_atomic.safetensors";
  std::vector<float> a = {1, 2, 3};
  write_safetensors(path, {{"a", StDType::kF32, Shape{3}, a.data()}}, {{"k", "v1"}});
  SafetensorsFile f = SafetensorsFile::read(path);
  VLA_EXPECT(*f.header().meta("k") == "v1");
  // A failing write (a tensor without data) must leave the old file as it was.
  VLA_EXPECT_THROWS(write_safetensors(path, {{"a", StDType::kF32, Shape{3}, nullptr}}, {{"k", "v2"}}), ErrorCode::kArgument,
                    "has no data");
  VLA_EXPECT(*SafetensorsFile::read(path).header().meta("k") == "v1");
  VLA_EXPECT_THROWS(write_safetensors("/nonexistent-dir/x.safetensors", {}, {}), ErrorCode::kArgument, "cannot create");
  std::remove(path.c_str());
  VLA_EXPECT_THROWS(SafetensorsFile::read(path), ErrorCode::kArgument, "cannot open");
}

// Every float16 value survives f16 -> f32 -> f16 exactly (NaNs stay NaN), and float32 values
// round to the nearest float16, ties to even, checked against a double-precision reference.
VLA_TEST(safetensors, float16_conversion_round_trips_and_rounds_to_nearest_even) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    const uint16_t back = f32_to_f16(f);
    if (std::isnan(f)) {
      VLA_EXPECT(std::isnan(f16_to_f32(back))) << "NaN " << h;
    } else {
      VLA_EXPECT(back == h) << "f16 " << h << " -> " << f << " -> " << back;
    }
  }
  // Midpoints between neighbours (finite, positive, below the largest): ties go to the even one;
  // a hair above or below goes to the nearer one.
  for (uint32_t h = 0; h < 0x7BFF; h += 7) {
    const double lo = f16_to_f32(static_cast<uint16_t>(h)), hi = f16_to_f32(static_cast<uint16_t>(h + 1));
    const float mid = static_cast<float>((lo + hi) / 2);  // exact: float32 has 13 spare mantissa bits
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
    VLA_EXPECT(f32_to_f16(mid) == even) << "tie between " << h << " and " << h + 1;
    VLA_EXPECT(f32_to_f16(-mid) == (even | 0x8000)) << "negative tie between " << h << " and " << h + 1;
    VLA_EXPECT(f32_to_f16(std::nextafter(mid, 0.0f)) == h) << "below the midpoint of " << h;
    VLA_EXPECT(f32_to_f16(std::nextafter(mid, 1e9f)) == h + 1) << "above the midpoint of " << h;
  }
  VLA_EXPECT(f32_to_f16(65504.0f) == 0x7BFF);
  VLA_EXPECT(f32_to_f16(65519.0f) == 0x7BFF);
  VLA_EXPECT(f32_to_f16(65520.0f) == 0x7C00) << "the overflow threshold rounds to infinity";
  VLA_EXPECT(f32_to_f16(-1e30f) == 0xFC00);
  VLA_EXPECT(f32_to_f16(1e-9f) == 0) << "below half the smallest subnormal";
  VLA_EXPECT(f32_to_f16(std::ldexp(1.0f, -24)) == 1) << "the smallest subnormal";
}

}  // namespace vla::test
