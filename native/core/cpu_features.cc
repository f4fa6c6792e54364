#include "core/cpu_features.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace vla {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kGeneric: return "generic";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

namespace {

#if defined(__x86_64__) || defined(__i386__)
uint64_t read_xcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

Isa probe() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return Isa::kGeneric;
  bool osxsave = c & (1u << 27);
  bool fma = c & (1u << 12);
  bool avx = c & (1u << 28);
  if (!osxsave || !avx) return Isa::kGeneric;
  uint64_t xcr0 = read_xcr0();
  bool ymm_state = (xcr0 & 0x6) == 0x6;            // SSE and AVX state saved by the OS
  bool zmm_state = (xcr0 & 0xe6) == 0xe6;          // plus opmask and ZMM state
  if (!ymm_state) return Isa::kGeneric;
  if (__get_cpuid_max(0, nullptr) < 7) return Isa::kGeneric;
  __cpuid_count(7, 0, a, b, c, d);
  bool avx2 = b & (1u << 5);
  bool avx512f = b & (1u << 16);
  bool avx512dq = b & (1u << 17);
  bool avx512bw = b & (1u << 30);
  bool avx512vl = b & (1u << 31);
  if (avx512f && avx512dq && avx512bw && avx512vl && zmm_state && fma) return Isa::kAvx512;
  if (avx2 && fma) return Isa::kAvx2;
  return Isa::kGeneric;
}
#else
Isa probe() { return Isa::kGeneric; }
#endif

Isa cap_from_env() {
  const char* env = std::getenv("VLA_TTT_ISA");
  if (!env || !*env) return Isa::kAvx512;
  if (!std::strcmp(env, "generic")) return Isa::kGeneric;
  if (!std::strcmp(env, "avx2")) return Isa::kAvx2;
  if (!std::strcmp(env, "avx512")) return Isa::kAvx512;
  fail(ErrorCode::kArgument, "VLA_TTT_ISA='", env, "' is not one of generic, avx2, avx512");
}

std::atomic<int> g_cap{-1};

}  // namespace

Isa hardware_isa() {
  static const Isa isa = probe();
  return isa;
}

Isa active_isa() {
  int cap = g_cap.load(std::memory_order_relaxed);
  if (cap < 0) {
    cap = static_cast<int>(cap_from_env());
    g_cap.store(cap, std::memory_order_relaxed);
  }
  int hw = static_cast<int>(hardware_isa());
  return static_cast<Isa>(cap < hw ? cap : hw);
}

void set_isa_cap(Isa cap) {
  if (static_cast<int>(cap) > static_cast<int>(hardware_isa()))
    fail(ErrorCode::kUnsupported, "ISA '", isa_name(cap), "' requested but this CPU supports up to '",
         isa_name(hardware_isa()), "'");
  g_cap.store(static_cast<int>(cap), std::memory_order_relaxed);
}

}  // namespace vla
