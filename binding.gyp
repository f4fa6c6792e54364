# node-gyp build of the CPU addon (the same sources CMake builds; no OpenBLAS, no CUDA). Used by
# `npm run build:gyp`, by prebuildify (`npm run prebuild`), and by the install script when CMake
# is not available. Kernels for AVX2 and AVX-512 are compiled in their own static libraries with
# their instruction-set flags and chosen at run time.
{
  "variables": {
    "vla_common_cflags": ["-O3", "-fno-math-errno", "-fexceptions", "-Wall", "-Wno-unused-parameter"]
  },
  "target_defaults": {
    "include_dirs": ["native", "<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "VLA_BUILD_NODE_GYP=1"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=c++20"],
    "cflags_cc": ["-std=c++17", "<@(vla_common_cflags)"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "MACOSX_DEPLOYMENT_TARGET": "11.0"
    }
  },
  "targets": [
    {
      "target_name": "vla_kernels_avx2",
      "type": "static_library",
      "conditions": [
        ["target_arch=='x64'", {
          "sources": ["<!@(node scripts/native-sources.cjs avx2)"],
          "cflags_cc": ["-mavx2", "-mfma"]
        }]
      ]
    },
    {
      "target_name": "vla_kernels_avx512",
      "type": "static_library",
      "conditions": [
        ["target_arch=='x64'", {
          "sources": ["<!@(node scripts/native-sources.cjs avx512)"],
          "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mfma", "-mavx2"]
        }]
      ]
    },
    {
      "target_name": "vla_ttt",
      "sources": ["<!@(node scripts/native-sources.cjs baseline)"],
      "dependencies": ["vla_kernels_avx2", "vla_kernels_avx512"],
      "libraries": ["-lpthread"]
    }
  ]
}
