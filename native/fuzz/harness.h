// One fuzz input through one parser, shared by the libFuzzer targets (native/fuzz/fuzz_*.cc,
// clang only) and the corpus replay in the ordinary test executable (native/tests/test_fuzz_corpus.cc),
// so CI replays the committed corpus with g++ on every run.
//
// Each function returns true when the parser accepted the input and false when it rejected it
// with a vla::Error (the only way a parser may fail). Anything else escapes: another exception
// type, or InvariantViolation when an accepted result is inconsistent (a tensor outside the data
// buffer, a JSON value that does not survive dump -> parse). libFuzzer reports those as crashes;
// the replay test reports them as failures naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace vla::fuzz {

struct InvariantViolation : std::logic_error {
  using std::logic_error::logic_error;
};

// parse_safetensors on the bytes; when accepted, every tensor is read back (float types widened).
bool safetensors_one_input(const uint8_t* data, size_t size);
// parse_json on the bytes; when accepted, dump() must parse back to the same dump(), and the value
// goes through ModelConfig::from_json (the config reader) as well.
bool json_one_input(const uint8_t* data, size_t size);
// load_policy_from_bytes: bytes -> safetensors -> config -> parameters -> Policy.
bool checkpoint_one_input(const uint8_t* data, size_t size);

// The targets by name, for the replay test and the seed generator.
struct Target {
  const char* name;
  bool (*one_input)(const uint8_t*, size_t);
};
inline constexpr Target kTargets[] = {
    {"safetensors", safetensors_one_input},
    {"json", json_one_input},
    {"checkpoint", checkpoint_one_input},
};

}  // namespace vla::fuzz
