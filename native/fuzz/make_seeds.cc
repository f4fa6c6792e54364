// Writes the seed inputs of the fuzz targets: small valid files of each format, so fuzzing starts
// from inputs that reach deep into the parsers. scripts/fuzz.sh runs it, fuzzes from the seeds,
// and merges what it finds into native/fuzz/corpus/<target>/ (kept small with -merge=1).
//
//   vla_fuzz_seeds OUT_DIR   -> OUT_DIR/{safetensors,json,checkpoint}/*
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/policy.h"

namespace fs = std::filesystem;
using namespace vla;

namespace {

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) fail(ErrorCode::kArgument, path.string(), ": cannot write");
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  write_bytes(path, std::string(bytes.begin(), bytes.end()));
}

// A file whose header text is given verbatim (to list tensors in an order the writer never uses).
std::vector<uint8_t> with_header(const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out(8 + header.size());
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(uint64_t(header.size()) >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// The smallest model ModelConfig::validate accepts: a checkpoint of a few KiB.
ModelConfig minimal_config() {
  ModelConfig c;
  c.preset = "custom";
  c.image_size = 2;
  c.patch_size = 2;
  c.max_text_len = 1;
  c.vocab_size = 2;
  c.depth = 1;
  c.num_heads = 1;
  c.num_kv_heads = 1;
  c.head_dim = 2;
  c.backbone = {2, 1};
  c.action = {2, 1};
  c.state = {2, 1};
  c.num_prompt_tokens = 1;
  c.num_embodiments = 1;
  c.horizon = 1;
  c.action_dim = 1;
  c.state_dim = 1;
  c.validate();
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  try {
    const fs::path out = argv[1];
    for (const char* d : {"safetensors", "json", "checkpoint"}) fs::create_directories(out / d);

    // safetensors: every dtype, metadata, a zero-size tensor, and the empty file.
    const float f32[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f};
    const double f64[2] = {3.0, -1e300};
    const int32_t i32[3] = {7, -8, 9};
    const int64_t i64[1] = {-5};
    const uint8_t u8[5] = {0, 1, 2, 254, 255};
    const uint16_t f16[4] = {0x3C00, 0x0001, 0x7C00, 0x7E00};  // 1, smallest subnormal, inf, NaN
    const uint16_t bf16[2] = {0x3F80, 0xC000};
    write_bytes(out / "safetensors" / "empty.safetensors", serialize_safetensors({}, {}));
    write_bytes(out / "safetensors" / "one_f32.safetensors",
                serialize_safetensors({{"w", StDType::kF32, Shape{2, 3}, f32}}, {}));
    const std::vector<uint8_t> all_dtypes = serialize_safetensors(
        {{"a.f32", StDType::kF32, Shape{3, 2}, f32},
         {"b.f64", StDType::kF64, Shape{2}, f64},
         {"c.i32", StDType::kI32, Shape{3, 1}, i32},
         {"d.i64", StDType::kI64, Shape{1}, i64},
         {"e.u8", StDType::kU8, Shape{5}, u8},
         {"f.f16", StDType::kF16, Shape{2, 2}, f16},
         {"g.bf16", StDType::kBF16, Shape{1, 1, 2}, bf16},
         {"h.empty", StDType::kF32, Shape{0, 4}, nullptr}},
        {{"format", "test"}, {"note", "caf\xc3\xa9 \"quoted\"\n"}});
    write_bytes(out / "safetensors" / "all_dtypes.safetensors", all_dtypes);
    // JSON order differs from data order (legal: the reader sorts by offset).
    std::vector<uint8_t> two_floats(8);
    std::memcpy(two_floats.data(), f32, 8);
    write_bytes(out / "safetensors" / "listed_out_of_order.safetensors",
                with_header(R"({"second":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                            R"("first":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                            two_floats));

    // JSON: model configs (what checkpoints carry), a safetensors header, and every JSON construct.
    write_bytes(out / "json" / "config_tiny.json", ModelConfig::preset_named("tiny", 64).to_json().dump());
    write_bytes(out / "json" / "config_small.json", ModelConfig::preset_named("small", 64).to_json().dump());
    write_bytes(out / "json" / "config_minimal.json", minimal_config().to_json().dump());
    {
      uint64_t n = 0;
      for (int i = 7; i >= 0; --i) n = (n << 8) | all_dtypes[static_cast<size_t>(i)];
      write_bytes(out / "json" / "safetensors_header.json", std::string(all_dtypes.begin() + 8, all_dtypes.begin() + 8 + static_cast<long>(n)));
    }
    write_bytes(out / "json" / "values.json",
                std::string(R"( {"arr": [0, -0, 1.5e-3, -2E+10, 123456789012345678, true, false, null, [], {}],)"
                            R"( "str": "x\u00e9\ud83d\ude00\n\t\"\\\/\b\f\r", "utf8": "caf)"
                            "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"
                            R"(", "nested": {"a": {"b": [[1], [2, [3]]]}}} )"));

    // Checkpoints: the minimal model in both weight types, with caller metadata.
    Policy<float> policy(minimal_config(), 1234);
    save_policy(policy, (out / "checkpoint" / "minimal_f32.safetensors").string(), {{"vocab", "[\"<pad>\",\"<unk>\"]"}},
                StDType::kF32);
    save_policy(policy, (out / "checkpoint" / "minimal_f16.safetensors").string(), {}, StDType::kF16);
    for (const auto& e : fs::recursive_directory_iterator(out))
      if (e.is_regular_file()) std::printf("%8ju  %s\n", static_cast<uintmax_t>(e.file_size()), e.path().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vla_fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
