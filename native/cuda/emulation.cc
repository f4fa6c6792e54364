// The CUDA emulator's engine: fibers for threads, a round-robin scheduler per block, barrier and
// warp-exchange release rules, and the runtime API subset on host memory. See emulation.h.
#include "cuda/emulation.h"

#include <sys/mman.h>
#include <ucontext.h>

#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "core/error.h"

namespace vla::emu {

namespace {

constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr size_t kMaxDynamicShared = 48 * 1024;  // the default limit without an opt-in attribute
constexpr size_t kFiberStack = 256 * 1024;

enum class FiberState { kReady, kAtBlockBarrier, kAtWarpBarrier, kDone };

struct Fiber {
  ucontext_t context;
  FiberState state = FiberState::kReady;
  dim3 thread_index;
  uint64_t sent = 0, received = 0;
  int source_lane = 0;
  std::exception_ptr error;
};

// One engine per OS thread; launches do not nest.
struct Engine {
  ucontext_t scheduler;
  std::vector<Fiber> fibers;
  char* stacks = nullptr;
  size_t stack_count = 0;
  int current = -1;
  const std::function<void()>* body = nullptr;
  dim3 block_index, block_shape, grid_shape;
  std::vector<unsigned char> shared;
  bool in_launch = false;
  cudaError_t last_error = cudaSuccess;

  ~Engine() {
    if (stacks) munmap(stacks, stack_count * kFiberStack);
  }

  void reserve_stacks(size_t n) {
    if (n <= stack_count) return;
    if (stacks) munmap(stacks, stack_count * kFiberStack);
    // Reserved, not committed: a fiber touches only the pages its frames use.
    void* p = mmap(nullptr, n * kFiberStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) fail(ErrorCode::kOutOfMemory, "CUDA emulator: cannot map ", n, " fiber stacks");
    stacks = static_cast<char*>(p);
    stack_count = n;
  }
};

thread_local Engine engine;

Fiber& current_fiber() {
  if (!engine.in_launch || engine.current < 0)
    fail(ErrorCode::kInternal, "CUDA emulator: a device builtin was called outside a kernel");
  return engine.fibers[static_cast<size_t>(engine.current)];
}

void fiber_main() {
  Fiber& f = engine.fibers[static_cast<size_t>(engine.current)];
  try {
    (*engine.body)();
  } catch (...) {
    f.error = std::current_exception();
  }
  f.state = FiberState::kDone;
  // Returning resumes uc_link: the scheduler.
}

void yield_to_scheduler(Fiber& f) { swapcontext(&f.context, &engine.scheduler); }

// Its own frame, so no local of the scheduler's loop lives across the context switch (which the
// compiler must treat like setjmp).
__attribute__((noinline)) void resume(size_t i) {
  engine.current = static_cast<int>(i);
  swapcontext(&engine.scheduler, &engine.fibers[i].context);
  engine.current = -1;
}

const char* state_name(FiberState s) {
  switch (s) {
    case FiberState::kReady: return "running";
    case FiberState::kAtBlockBarrier: return "at __syncthreads";
    case FiberState::kAtWarpBarrier: return "at a warp shuffle/__syncwarp";
    case FiberState::kDone: return "exited";
  }
  return "?";
}

std::string block_name() {
  return "block (" + std::to_string(engine.block_index.x) + "," + std::to_string(engine.block_index.y) + "," +
         std::to_string(engine.block_index.z) + ")";
}

// A fresh context for thread i of the block (its own frame: getcontext returns twice, like setjmp).
__attribute__((noinline)) void prepare_fiber(size_t i) {
  Fiber& f = engine.fibers[i];
  f.state = FiberState::kReady;
  f.error = nullptr;
  unsigned bx = engine.block_shape.x, by = engine.block_shape.y;
  f.thread_index = dim3(static_cast<unsigned>(i % bx), static_cast<unsigned>((i / bx) % by),
                        static_cast<unsigned>(i / (static_cast<size_t>(bx) * by)));
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = engine.stacks + i * kFiberStack;
  f.context.uc_stack.ss_size = kFiberStack;
  f.context.uc_link = &engine.scheduler;
  makecontext(&f.context, fiber_main, 0);
}

// Runs one block to completion; throws on a kernel failure.
void run_block(const char* kernel, size_t n) {
  for (size_t i = 0; i < n; ++i) prepare_fiber(i);
  const size_t warps = (n + 31) / 32;
  for (;;) {
    for (size_t i = 0; i < n; ++i) {
      Fiber& f = engine.fibers[i];
      if (f.state != FiberState::kReady) continue;
      resume(i);
      if (f.error) std::rethrow_exception(f.error);
    }
    size_t done = 0, at_block = 0;
    for (size_t i = 0; i < n; ++i) {
      done += engine.fibers[i].state == FiberState::kDone;
      at_block += engine.fibers[i].state == FiberState::kAtBlockBarrier;
    }
    if (done == n) return;
    bool released = false;
    for (size_t w = 0; w < warps; ++w) {
      size_t lo = w * 32, hi = std::min(n, lo + 32);
      size_t waiting = 0, exited = 0;
      for (size_t i = lo; i < hi; ++i) {
        waiting += engine.fibers[i].state == FiberState::kAtWarpBarrier;
        exited += engine.fibers[i].state == FiberState::kDone;
      }
      if (waiting == 0 || waiting + exited < hi - lo) continue;
      if (exited > 0)
        fail(ErrorCode::kInternal, "CUDA emulator: kernel ", kernel, ", ", block_name(), ", warp ", w, ": ", waiting,
             " lanes wait at a full-warp shuffle or __syncwarp that ", exited, " exited lanes never reach");
      for (size_t i = lo; i < hi; ++i) {
        Fiber& f = engine.fibers[i];
        size_t src = lo + static_cast<size_t>(f.source_lane);
        if (f.source_lane < 0 || src >= hi)
          fail(ErrorCode::kInternal, "CUDA emulator: kernel ", kernel, ", ", block_name(), ": lane ", i - lo,
               " shuffles from lane ", f.source_lane, ", outside its warp of ", hi - lo, " threads");
        f.received = engine.fibers[src].sent;
      }
      for (size_t i = lo; i < hi; ++i) engine.fibers[i].state = FiberState::kReady;
      released = true;
    }
    if (released) continue;
    if (at_block + done == n) {
      if (done > 0)
        fail(ErrorCode::kInternal, "CUDA emulator: kernel ", kernel, ", ", block_name(), ": ", at_block,
             " threads wait at __syncthreads that ", done, " exited threads never reach");
      for (size_t i = 0; i < n; ++i) engine.fibers[i].state = FiberState::kReady;
      continue;
    }
    std::string states;
    for (size_t i = 0; i < n && i < 64; ++i)
      states += (i ? ", " : "") + std::to_string(i) + ": " + state_name(engine.fibers[i].state);
    fail(ErrorCode::kInternal, "CUDA emulator: kernel ", kernel, ", ", block_name(),
         ": deadlock (threads wait at different barriers): ", states);
  }
}

}  // namespace

const dim3& thread_idx() { return current_fiber().thread_index; }
const dim3& block_idx() { return engine.block_index; }
const dim3& block_dim() { return engine.block_shape; }
const dim3& grid_dim() { return engine.grid_shape; }
void* dynamic_shared() { return engine.shared.data(); }

int lane_id() {
  current_fiber();
  return engine.current % 32;
}

void sync_threads() {
  Fiber& f = current_fiber();
  f.state = FiberState::kAtBlockBarrier;
  yield_to_scheduler(f);
}

void sync_warp() {
  Fiber& f = current_fiber();
  f.source_lane = engine.current % 32;
  f.state = FiberState::kAtWarpBarrier;
  yield_to_scheduler(f);
}

uint64_t warp_exchange(uint64_t bits, int src_lane) {
  Fiber& f = current_fiber();
  f.sent = bits;
  f.source_lane = src_lane;
  f.state = FiberState::kAtWarpBarrier;
  yield_to_scheduler(f);
  return f.received;
}

void launch(const char* kernel, dim3 grid, dim3 block, size_t shared_bytes, const std::function<void()>& body) {
  if (engine.in_launch) fail(ErrorCode::kInternal, "CUDA emulator: kernel ", kernel, " launched from inside a kernel");
  const size_t threads = static_cast<size_t>(block.x) * block.y * block.z;
  if (threads == 0 || threads > kMaxThreadsPerBlock || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.y > 65535 || grid.z > 65535 || grid.x > 2147483647u || shared_bytes > kMaxDynamicShared) {
    engine.last_error = cudaErrorInvalidConfiguration;
    return;
  }
  engine.reserve_stacks(threads);
  engine.fibers.resize(threads);
  engine.shared.assign(shared_bytes, 0xFF);
  engine.body = &body;
  engine.grid_shape = grid;
  engine.block_shape = block;
  engine.in_launch = true;
  try {
    for (unsigned z = 0; z < grid.z; ++z)
      for (unsigned y = 0; y < grid.y; ++y)
        for (unsigned x = 0; x < grid.x; ++x) {
          engine.block_index = dim3(x, y, z);
          run_block(kernel, threads);
        }
  } catch (...) {
    engine.in_launch = false;
    engine.current = -1;
    try {
      throw;
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail(ErrorCode::kInternal, "CUDA emulator: kernel ", kernel, " threw: ", e.what());
    }
  }
  engine.in_launch = false;
}

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  if (!ptr) return cudaErrorInvalidValue;
  // Exactly `bytes` (aligned like cudaMalloc's), so AddressSanitizer sees a kernel that reads or
  // writes past the end of a buffer.
  const size_t size = bytes ? bytes : 1;
  void* p = nullptr;
  if (posix_memalign(&p, 256, size) != 0 || !p) return cudaErrorMemoryAllocation;
  std::memset(p, 0xFF, size);  // uninitialized device memory reads as NaN
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if (bytes && (!dst || !src)) return cudaErrorInvalidValue;
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void* ptr, int value, size_t bytes) {
  if (bytes && !ptr) return cudaErrorInvalidValue;
  if (bytes) std::memset(ptr, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t) { return cudaMemset(ptr, value, bytes); }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

cudaError_t cudaGetLastError() {
  cudaError_t e = engine.last_error;
  engine.last_error = cudaSuccess;
  return e;
}

const char* cudaGetErrorString(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
  }
  return "unknown error";
}

}  // namespace vla::emu
