// Which SIMD instruction sets this CPU and OS support, probed once at run time.
//
// Kernels for AVX2 and AVX-512 live in their own translation units compiled with those flags;
// dispatchers call them only when the probe says so. VLA_TTT_ISA=generic|avx2|avx512 caps the
// level (tests use it to run every kernel the machine supports).
#pragma once

namespace vla {

enum class Isa : int { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };

const char* isa_name(Isa isa);

// The highest level the hardware and OS support (ignores any cap).
Isa hardware_isa();

// The level kernels dispatch to: hardware_isa() capped by VLA_TTT_ISA and set_isa_cap().
Isa active_isa();

// Caps the level used by dispatchers. Fails with kUnsupported above hardware_isa().
void set_isa_cap(Isa cap);

}  // namespace vla
