// Tests of the core: thread pool, arena, random numbers, registry argument checking.
#include <atomic>
#include <cmath>
#include <numeric>
#include <set>
#include <thread>

#include "core/arena.h"
#include "core/build_info.h"
#include "core/cpu_features.h"
#include "core/random.h"
#include "core/thread_pool.h"
#include "registry/op_registry.h"
#include "tests/test_framework.h"

namespace vla::test {

VLA_TEST(thread_pool, covers_every_index_once) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 7, 1000, 100003}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::function<void(int64_t)> task = [&](int64_t i) { hits[i]++; };
      pool.run(n, task);
      for (int64_t i = 0; i < n; ++i) VLA_EXPECT(hits[i] == 1) << "threads" << threads << "n" << n << "i" << i;
    }
  }
}

VLA_TEST(thread_pool, parallel_for_chunks_cover_range) {
  for (int64_t n : {1, 5, 64, 12345}) {
    for (int64_t grain : {1, 3, 100}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      parallel_for(n, grain, [&](int64_t b, int64_t e) {
        VLA_EXPECT(b < e);
        for (int64_t i = b; i < e; ++i) hits[i]++;
      });
      for (int64_t i = 0; i < n; ++i) VLA_EXPECT(hits[i] == 1);
    }
  }
}

VLA_TEST(thread_pool, nested_and_concurrent_callers) {
  // Several external threads submit at once, each also nesting a parallel_for inside a task.
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int rep = 0; rep < 50; ++rep)
        parallel_for(64, 1, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i)
            parallel_for(10, 1, [&](int64_t b2, int64_t e2) { total += e2 - b2; });
        });
    });
  for (auto& c : callers) c.join();
  VLA_EXPECT(total.load() == 4 * 50 * 64 * 10) << total.load();
}

VLA_TEST(thread_pool, task_exception_reaches_caller) {
  ThreadPool pool(3);
  std::function<void(int64_t)> task = [](int64_t i) {
    if (i == 17) fail(ErrorCode::kValue, "bad task ", i);
  };
  VLA_EXPECT_THROWS(pool.run(100, task), ErrorCode::kValue, "bad task 17");
  // The pool still works afterwards.
  std::atomic<int> count{0};
  std::function<void(int64_t)> ok = [&](int64_t) { count++; };
  pool.run(50, ok);
  VLA_EXPECT(count == 50);
}

VLA_TEST(thread_pool, sized_to_machine) {
  VLA_EXPECT(available_cpus() >= 1);
  VLA_EXPECT(num_threads() >= 1);
  VLA_EXPECT_THROWS(set_num_threads(0), ErrorCode::kArgument, "not in [1, 1024]");
}

VLA_TEST(arena, alignment_capacity_and_reset) {
  Arena plan = Arena::planning();
  auto a = plan.alloc<float>(Shape{3, 5}, "a");
  auto b = plan.alloc<double>(Shape{7}, "b");
  VLA_EXPECT(a.data == nullptr && b.data == nullptr);
  VLA_EXPECT(plan.used() == 128) << plan.used();  // 60 -> 64, 56 -> 64

  Arena arena(plan.used());
  auto x = arena.alloc<float>(Shape{3, 5}, "x");
  int64_t mark = arena.mark();
  auto y = arena.alloc<double>(Shape{7}, "y");
  VLA_EXPECT(reinterpret_cast<uintptr_t>(x.data) % Arena::kAlignment == 0);
  VLA_EXPECT(reinterpret_cast<uintptr_t>(y.data) % Arena::kAlignment == 0);
  for (int i = 0; i < 15; ++i) VLA_EXPECT(x.data[i] == 0.0f);  // zero-initialized
  VLA_EXPECT_THROWS(arena.alloc<float>(Shape{1}, "z"), ErrorCode::kOutOfMemory, "no room for 'z'");
  arena.reset(mark);
  auto y2 = arena.alloc<double>(Shape{7}, "y2");
  VLA_EXPECT(y2.data == y.data);
  VLA_EXPECT(arena.peak() == 128);
  VLA_EXPECT_THROWS(arena.reset(10000), ErrorCode::kArgument, "outside");
}

VLA_TEST(random, deterministic_and_well_distributed) {
  Rng a(42, 3), b(42, 3), c(43, 3), d(42, 4);
  VLA_EXPECT(a.normal_at(10) == b.normal_at(10));
  VLA_EXPECT(a.normal_at(10) != c.normal_at(10));
  VLA_EXPECT(a.normal_at(10) != d.normal_at(10));
  const int n = 200000;
  double s = 0, s2 = 0, u = 0;
  for (int i = 0; i < n; ++i) {
    double z = a.normal();
    s += z;
    s2 += z * z;
    double v = b.uniform();
    VLA_EXPECT(v > 0.0 && v < 1.0);
    u += v;
  }
  VLA_EXPECT_NEAR(s / n, 0.0, 0.01);
  VLA_EXPECT_NEAR(s2 / n, 1.0, 0.02);
  VLA_EXPECT_NEAR(u / n, 0.5, 0.005);
}

VLA_TEST(registry, argument_errors_name_the_problem) {
  const OpDef& silu = find_op("silu");
  float x[4] = {1, 2, 3, 4};
  double xd[4] = {1, 2, 3, 4};
  int32_t xi[4] = {1, 2, 3, 4};
  AnyTensor t{x, DType::kF32, Shape{4}};
  VLA_EXPECT_THROWS(find_op("sillu"), ErrorCode::kArgument, "unknown op 'sillu'");
  VLA_EXPECT_THROWS(make_call(silu, {}, {}), ErrorCode::kArgument, "missing required input 'x'");
  VLA_EXPECT_THROWS(make_call(silu, {{"y", t}}, {}), ErrorCode::kArgument, "unknown input 'y'");
  VLA_EXPECT_THROWS(make_call(silu, {{"x", t}}, {{"eps", 1}}), ErrorCode::kArgument, "unknown attribute 'eps'");
  VLA_EXPECT_THROWS(make_call(silu, {{"x", AnyTensor{xi, DType::kI32, Shape{4}}}}, {}), ErrorCode::kDType,
                    "is int32, expected float32 or float64");
  const OpDef& sb = find_op("silu_backward");
  VLA_EXPECT_THROWS(make_call(sb, {{"x", t}, {"dy", AnyTensor{xd, DType::kF64, Shape{4}}}}, {}), ErrorCode::kDType,
                    "one float dtype per call");
  OpCall bad = make_call(sb, {{"x", t}, {"dy", AnyTensor{x, DType::kF32, Shape{2, 2}}}}, {});
  VLA_EXPECT_THROWS(validate_call(bad), ErrorCode::kShape, "input 'dy' has shape [2, 2], expected [4]");
}

VLA_TEST(registry, every_op_is_documented) {
  std::set<std::string> names;
  for (const auto& op : all_ops()) {
    VLA_EXPECT(!op.summary.empty()) << op.name;
    VLA_EXPECT(names.insert(op.name).second) << "duplicate" << op.name;
    for (const auto& in : op.inputs) VLA_EXPECT(!in.shape.empty()) << op.name << in.name;
    for (const auto& a : op.attrs) VLA_EXPECT(!a.doc.empty()) << op.name << a.name;
    if (!op.backward.empty()) {
      VLA_EXPECT(find_op(op.backward).name == op.backward);
    }
  }
}

VLA_TEST(build, reports_itself) {
  BuildInfo b = build_info();
  std::printf("    build: %s, %s, blas: %s\n    %s\n    isa: %s\n", b.compiler.c_str(), b.build_type.c_str(),
              b.blas.c_str(), b.cuda.c_str(), isa_name(hardware_isa()));
  CudaStatus c = cuda_status();
  std::printf("    cuda at run time: %s\n", c.reason.c_str());
  VLA_EXPECT(!b.version.empty());
}

}  // namespace vla::test
