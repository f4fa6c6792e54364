// Replays the committed fuzz corpus (native/fuzz/corpus/**) through every parser in the ordinary
// build, so CI (g++, no libFuzzer) catches a regression on any input the fuzzers ever kept: each
// file must be accepted or rejected with a vla::Error, never crash or break an invariant
// (native/fuzz/harness.h). Every file goes to every parser: a JSON seed is hostile input to the
// safetensors reader too.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/harness.h"
#include "tests/test_framework.h"

#ifndef VLA_TTT_SOURCE_DIR
#error "VLA_TTT_SOURCE_DIR (the repository root) must be defined by the build"
#endif

namespace vla::test {

namespace {

namespace fs = std::filesystem;

const fs::path kCorpusRoot = fs::path(VLA_TTT_SOURCE_DIR) / "native" / "fuzz" / "corpus";

std::vector<fs::path> corpus_files() {
  std::vector<fs::path> files;
  if (!fs::is_directory(kCorpusRoot)) return files;
  for (const auto& e : fs::recursive_directory_iterator(kCorpusRoot))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<uint8_t> read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void replay(const std::string& name) {
  const fuzz::Target* found = nullptr;
  for (const fuzz::Target& t : fuzz::kTargets)
    if (name == t.name) found = &t;
  VLA_EXPECT(found) << "no fuzz target named" << name;
  if (!found) return;
  const fuzz::Target& target = *found;
  const std::vector<fs::path> files = corpus_files();
  VLA_EXPECT(!files.empty()) << "no corpus under" << kCorpusRoot.string();
  size_t own = 0, accepted_own = 0, accepted = 0;
  for (const fs::path& file : files) {
    const bool is_own = file.parent_path().filename() == target.name;
    const std::vector<uint8_t> bytes = read_all(file);
    try {
      const bool ok = target.one_input(bytes.data(), bytes.size());
      accepted += ok;
      own += is_own;
      accepted_own += is_own && ok;
    } catch (const std::exception& e) {
      VLA_EXPECT(false) << target.name << "parser on" << fs::relative(file, kCorpusRoot).string() << ":" << e.what();
    }
  }
  // The target's own folder exists and holds inputs it accepts (the seeds), so the replay covers
  // the success path and not only early rejections.
  VLA_EXPECT(own > 0) << "no files in" << (kCorpusRoot / target.name).string();
  VLA_EXPECT(accepted_own > 0) << target.name << "accepted none of its own corpus";
  std::printf("    %s: %zu files replayed, %zu accepted (%zu of its own %zu)\n", target.name, files.size(), accepted, accepted_own,
              own);
}

}  // namespace

VLA_TEST(fuzz_corpus, safetensors_replay) { replay("safetensors"); }
VLA_TEST(fuzz_corpus, json_replay) { replay("json"); }
VLA_TEST(fuzz_corpus, checkpoint_replay) { replay("checkpoint"); }

}  // namespace vla::test
