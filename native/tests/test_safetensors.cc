// safetensors and JSON parsing: round trips, and hostile or damaged files that must fail with a
// clear error (never read out of bounds; run under valgrind/ASan in the reliability checks).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
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
