// A stand-alone measurement of the machine's float32 FMA peak, for benchmarks that run without
// the kernel benchmark (bench/model.bench.mjs compiles it on the fly with the AVX2 loop of
// bench/native/peak_fma_avx2.cc; it lives outside bench/native/, whose files all belong to the
// kernel benchmark's executable):
//   g++ -O2 -std=c++17 -mavx2 -mfma -pthread -Ibench/native bench/tools/peak_fma_cli.cc \
//       bench/native/peak_fma_avx2.cc -o peak_fma
//   peak_fma THREADS SECONDS REPEATS  ->  one JSON line
// Each repeat runs THREADS threads of the register-only FMA loop for about SECONDS; other
// processes can only lower a repeat's figure, so the best repeat is the estimate (all are printed).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "peak_fma.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kLanes = 8;  // AVX2: 8 floats per vector

double gflops(int threads, double seconds) {
  const int64_t calib = 1 << 18;
  auto t0 = Clock::now();
  volatile float sink = vla::bench::fma_block_avx2(calib);
  const double t_calib = std::chrono::duration<double>(Clock::now() - t0).count();
  const int64_t iterations = std::max<int64_t>(calib, static_cast<int64_t>(calib * seconds / t_calib));
  std::vector<std::thread> pool;
  t0 = Clock::now();
  for (int t = 1; t < threads; ++t) pool.emplace_back([&] { sink = vla::bench::fma_block_avx2(iterations); });
  sink = vla::bench::fma_block_avx2(iterations);
  for (auto& th : pool) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  (void)sink;
  return static_cast<double>(iterations) * vla::bench::kFmaAccumulators * kLanes * 2.0 * threads / elapsed / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: peak_fma THREADS SECONDS REPEATS\n");
    return 2;
  }
  const int threads = std::atoi(argv[1]);
  const double seconds = std::atof(argv[2]);
  const int repeats = std::atoi(argv[3]);
  if (threads < 1 || seconds <= 0 || repeats < 1) {
    std::fprintf(stderr, "peak_fma: THREADS >= 1, SECONDS > 0, REPEATS >= 1\n");
    return 2;
  }
  std::string runs;
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    const double g = gflops(threads, seconds);
    best = std::max(best, g);
    runs += (r ? "," : "") + std::to_string(g);
  }
  std::printf("{\"threads\":%d,\"gflops_best\":%.3f,\"gflops_runs\":[%s]}\n", threads, best, runs.c_str());
  return 0;
}
