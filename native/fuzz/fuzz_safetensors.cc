// libFuzzer entry point for the safetensors parser (see harness.h; built with -DVLA_TTT_FUZZ=ON and clang).
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vla::fuzz::safetensors_one_input(data, size);
  return 0;
}
