#include "core/arena.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace vla {

namespace {
int64_t round_up(int64_t n, int64_t a) { return (n + a - 1) / a * a; }
}  // namespace

Arena::Arena(int64_t capacity_bytes) {
  if (capacity_bytes < 0) fail(ErrorCode::kArgument, "Arena: negative capacity ", capacity_bytes);
  capacity_ = round_up(capacity_bytes, kAlignment);
  if (capacity_ > 0) {
    base_ = static_cast<char*>(std::aligned_alloc(kAlignment, static_cast<size_t>(capacity_)));
    if (!base_) fail(ErrorCode::kOutOfMemory, "Arena: could not allocate ", capacity_, " bytes");
    std::memset(base_, 0, static_cast<size_t>(capacity_));
  }
}

Arena Arena::over(void* base, int64_t capacity_bytes) {
  if (capacity_bytes < 0) fail(ErrorCode::kArgument, "Arena: negative capacity ", capacity_bytes);
  if (reinterpret_cast<uintptr_t>(base) % kAlignment != 0)
    fail(ErrorCode::kArgument, "Arena::over: base is not aligned to ", kAlignment, " bytes");
  Arena a(0);
  a.base_ = static_cast<char*>(base);
  a.capacity_ = capacity_bytes / kAlignment * kAlignment;
  a.owning_ = false;
  return a;
}

Arena::~Arena() {
  if (owning_) std::free(base_);
}

Arena::Arena(Arena&& o) noexcept
    : base_(o.base_), capacity_(o.capacity_), used_(o.used_), peak_(o.peak_), planning_(o.planning_), owning_(o.owning_) {
  o.base_ = nullptr;
  o.capacity_ = o.used_ = o.peak_ = 0;
}

Arena& Arena::operator=(Arena&& o) noexcept {
  if (this != &o) {
    if (owning_) std::free(base_);
    base_ = std::exchange(o.base_, nullptr);
    capacity_ = std::exchange(o.capacity_, 0);
    used_ = std::exchange(o.used_, 0);
    peak_ = std::exchange(o.peak_, 0);
    planning_ = o.planning_;
    owning_ = o.owning_;
  }
  return *this;
}

void* Arena::alloc_bytes(int64_t nbytes, const char* what) {
  if (nbytes < 0) fail(ErrorCode::kArgument, "Arena: negative size for '", what, "'");
  int64_t size = round_up(nbytes, kAlignment);
  if (planning_) {
    used_ += size;
    if (used_ > peak_) peak_ = used_;
    return nullptr;
  }
  if (used_ + size > capacity_)
    fail(ErrorCode::kOutOfMemory, "Arena: no room for '", what, "' (", nbytes, " bytes); ",
         capacity_ - used_, " of ", capacity_, " bytes left");
  void* p = base_ + used_;
  used_ += size;
  if (used_ > peak_) peak_ = used_;
  return p;
}

void Arena::reset(int64_t mark) {
  if (mark < 0 || mark > used_)
    fail(ErrorCode::kArgument, "Arena::reset: mark ", mark, " is outside [0, ", used_, "]");
  used_ = mark;
}

}  // namespace vla
