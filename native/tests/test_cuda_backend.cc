// Says, in a build without CUDA, that the device tests (native/tests/cuda/, "cuda.*") were not
// built, and where the kernels' logic is tested instead (the emulator, "cuda_emulated.*").
#include "core/build_info.h"
#include "tests/test_framework.h"

namespace vla::test {

#ifndef VLA_HAVE_CUDA
VLA_TEST(cuda, device_kernels) {
  VLA_SKIP("this build has no CUDA backend (" + build_info().cuda +
           "); the kernels' logic is checked on the CPU emulator instead (cuda_emulated.*)");
}
#endif

}  // namespace vla::test
