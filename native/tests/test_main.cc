#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "core/error.h"
#include "registry/op_registry.h"
#include "tests/gradcheck.h"
#include "tests/test_framework.h"

namespace vla::test {
std::vector<TestCase>& registry() {
  static std::vector<TestCase> r;
  return r;
}
State& state() {
  static State s;
  return s;
}
}  // namespace vla::test

int main(int argc, char** argv) {
  using namespace vla::test;
  std::string filter = argc > 1 ? argv[1] : "";
  int passed = 0, failed = 0, skipped = 0;
  for (auto& tc : registry()) {
    if (!filter.empty() && tc.name.find(filter) == std::string::npos) continue;
    state() = State{};
    auto t0 = std::chrono::steady_clock::now();
    std::printf("[ RUN  ] %s\n", tc.name.c_str());
    std::fflush(stdout);
    try {
      tc.fn();
    } catch (const Skip& s) {
      state().skipped = true;
      state().skip_reason = s.reason;
    } catch (const vla::Error& e) {
      std::fprintf(stderr, "    FAIL uncaught vla::Error [%s]: %s\n", vla::error_code_name(e.code()), e.what());
      state().failures++;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "    FAIL uncaught exception: %s\n", e.what());
      state().failures++;
    }
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (state().failures) {
      std::printf("[ FAIL ] %s (%.1f ms)\n", tc.name.c_str(), ms);
      failed++;
    } else if (state().skipped) {
      std::printf("[ SKIP ] %s: %s\n", tc.name.c_str(), state().skip_reason.c_str());
      skipped++;
    } else {
      std::printf("[  OK  ] %s (%.1f ms)\n", tc.name.c_str(), ms);
      passed++;
    }
  }
  // Coverage: when the whole suite ran, every forward op with a backward must have been checked.
  if (filter.empty()) {
    auto checked = vla::test::checked_ops();
    for (const auto& op : vla::all_ops()) {
      if (op.backward.empty()) continue;
      if (std::find(checked.begin(), checked.end(), op.name) == checked.end()) {
        std::printf("[ FAIL ] coverage: op '%s' has a backward but no gradient check\n", op.name.c_str());
        failed++;
      }
    }
  }
  std::printf("\n%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  if (passed + failed + skipped == 0) {
    std::printf("no test matched '%s'\n", filter.c_str());
    return 1;
  }
  return failed ? 1 : 0;
}
