// A fixed pool of worker threads shared by every op.
//
// Sized to the CPUs this process may run on (sched affinity), or VLA_TTT_NUM_THREADS, or
// set_num_threads(). The thread that calls parallel_for works too, so a pool of size N starts
// N-1 workers. Several threads may call parallel_for at once (Node runs AsyncWorkers on libuv's
// threads): their jobs queue and the workers serve them in order. A parallel_for issued from
// inside a task runs inline, so nesting never deadlocks.
//
// Determinism: how a range is split never changes what an op computes. Ops that reduce across
// chunks use fixed chunk boundaries (chunk_ranges) so results do not depend on the thread count.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace vla {

class ThreadPool {
 public:
  // num_threads counts the calling thread: 1 means no workers (everything runs inline).
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls task(i) for every i in [0, num_tasks), spread over the pool; returns when all are done.
  // The first exception thrown by a task is rethrown here (remaining tasks are skipped).
  void run(int64_t num_tasks, const std::function<void(int64_t)>& task);

  // True on a pool worker, or on any thread while it executes a task.
  static bool in_task();

 private:
  struct Job;
  void worker_loop();
  static void work_on(Job& job);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stop_ = false;
};

// The CPUs available to this process (affinity mask), at least 1.
int available_cpus();

// The process-wide pool. Created on first use.
ThreadPool& global_pool();
int num_threads();
// Replaces the global pool. Must not be called while ops are running.
void set_num_threads(int n);

// Calls fn(begin, end) over [0, n) in contiguous chunks of at least `grain` items.
// Runs inline when n <= grain, when the pool has one thread, or when nested.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Fixed chunking for deterministic reductions: chunk c covers [c*chunk, min(n,(c+1)*chunk)).
inline int64_t num_chunks(int64_t n, int64_t chunk) { return n <= 0 ? 0 : (n + chunk - 1) / chunk; }

}  // namespace vla
