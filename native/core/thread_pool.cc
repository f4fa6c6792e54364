#include "core/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <string>

#include "core/error.h"

namespace vla {

namespace {
thread_local bool t_in_task = false;

// Spin briefly before sleeping: many ops launch short parallel regions back to back, and waking
// a sleeping thread costs tens of microseconds.
constexpr int kSpinIterations = 4000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

struct ThreadPool::Job {
  const std::function<void(int64_t)>* task = nullptr;
  int64_t num_tasks = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mu;
};

ThreadPool::ThreadPool(int num_threads) {
  int n = std::max(1, num_threads);
  workers_.reserve(n - 1);
  for (int i = 0; i < n - 1; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

bool ThreadPool::in_task() { return t_in_task; }

void ThreadPool::work_on(Job& job) {
  for (;;) {
    int64_t i = job.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= job.num_tasks) return;
    if (!job.failed.load(std::memory_order_relaxed)) {
      bool was = t_in_task;
      t_in_task = true;
      try {
        (*job.task)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(job.error_mu);
        if (!job.error) job.error = std::current_exception();
        job.failed.store(true);
      }
      t_in_task = was;
    }
    job.done.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::worker_loop() {
  t_in_task = true;
  for (;;) {
    std::shared_ptr<Job> job;
    for (int spin = 0; spin < kSpinIterations && !job; ++spin) {
      std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
      if (lock.owns_lock()) {
        if (stop_) return;
        if (!queue_.empty()) job = queue_.front();
      }
      if (!job) cpu_relax();
    }
    if (!job) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = queue_.front();
    }
    work_on(*job);
    // The job's tasks are all claimed: drop it from the queue so others get served.
    std::lock_guard<std::mutex> lock(mu_);
    if (!queue_.empty() && queue_.front() == job) queue_.pop_front();
  }
}

void ThreadPool::run(int64_t num_tasks, const std::function<void(int64_t)>& task) {
  if (num_tasks <= 0) return;
  if (workers_.empty() || num_tasks == 1 || t_in_task) {
    bool was = t_in_task;
    t_in_task = true;
    try {
      for (int64_t i = 0; i < num_tasks; ++i) task(i);
    } catch (...) {
      t_in_task = was;
      throw;
    }
    t_in_task = was;
    return;
  }
  auto job = std::make_shared<Job>();
  job->task = &task;
  job->num_tasks = num_tasks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(job);
  }
  cv_.notify_all();
  work_on(*job);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = queue_.begin(); it != queue_.end(); ++it)
      if (*it == job) {
        queue_.erase(it);
        break;
      }
  }
  // Tasks claimed by workers may still be running.
  while (job->done.load(std::memory_order_acquire) < num_tasks) cpu_relax();
  if (job->error) std::rethrow_exception(job->error);
}

int available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? static_cast<int>(hc) : 1;
}

namespace {
std::mutex g_pool_mu;
std::unique_ptr<ThreadPool> g_pool;

int default_threads() {
  if (const char* env = std::getenv("VLA_TTT_NUM_THREADS")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v >= 1 && v <= 1024) return static_cast<int>(v);
    fail(ErrorCode::kArgument, "VLA_TTT_NUM_THREADS='", env, "' is not an integer in [1, 1024]");
  }
  return available_cpus();
}
}  // namespace

ThreadPool& global_pool() {
  std::lock_guard<std::mutex> lock(g_pool_mu);
  if (!g_pool) g_pool = std::make_unique<ThreadPool>(default_threads());
  return *g_pool;
}

int num_threads() { return global_pool().size(); }

void set_num_threads(int n) {
  if (n < 1 || n > 1024) fail(ErrorCode::kArgument, "set_num_threads: n=", n, " is not in [1, 1024]");
  std::lock_guard<std::mutex> lock(g_pool_mu);
  if (g_pool && g_pool->size() == n) return;
  g_pool.reset();
  g_pool = std::make_unique<ThreadPool>(n);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  ThreadPool& pool = global_pool();
  if (n <= grain || pool.size() == 1 || ThreadPool::in_task()) {
    fn(0, n);
    return;
  }
  // A few chunks per thread balances uneven work without much overhead.
  int64_t max_chunks = static_cast<int64_t>(pool.size()) * 4;
  int64_t chunks = std::min<int64_t>(max_chunks, (n + grain - 1) / grain);
  int64_t per = (n + chunks - 1) / chunks;
  chunks = (n + per - 1) / per;
  std::function<void(int64_t)> task = [&](int64_t c) {
    int64_t b = c * per;
    int64_t e = std::min(n, b + per);
    fn(b, e);
  };
  pool.run(chunks, task);
}

}  // namespace vla
