// Which namespace the CUDA backend's declarations live in: vla::cuda for the device build,
// vla::cuda_emu when the same sources are compiled for the CPU emulator (cuda/emulation.h), so
// both can be linked into one test executable. Headers here say `namespace vla::VLA_CUDA_NS`.
#pragma once

#if defined(VLA_CUDA_EMULATION)
#define VLA_CUDA_NS cuda_emu
#else
#define VLA_CUDA_NS cuda
#endif
