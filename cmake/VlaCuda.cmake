# cuBLAS from outside the toolkit, e.g. the nvidia-cublas wheel of a PyTorch environment
# (VLA_TTT_CUBLAS_ROOT=<site-packages>/nvidia/cu13): a folder with include/cublas_v2.h and
# lib/libcublas.so*. Sets VLA_CUBLAS_TARGET (a macro: the caller's scope gets it).
macro(vla_import_cublas root)
  find_path(VLA_CUBLAS_INCLUDE_DIR cublas_v2.h PATHS "${root}/include" NO_DEFAULT_PATH)
  find_library(VLA_CUBLAS_LIBRARY NAMES cublas libcublas.so.13 libcublas.so.12 PATHS "${root}/lib" NO_DEFAULT_PATH)
  if(VLA_CUBLAS_INCLUDE_DIR AND VLA_CUBLAS_LIBRARY)
    add_library(vla_cublas_imported SHARED IMPORTED)
    set_target_properties(vla_cublas_imported PROPERTIES IMPORTED_LOCATION "${VLA_CUBLAS_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${VLA_CUBLAS_INCLUDE_DIR}")
    set(VLA_CUBLAS_TARGET vla_cublas_imported)
    message(STATUS "vla-ttt: cuBLAS from VLA_TTT_CUBLAS_ROOT: ${VLA_CUBLAS_LIBRARY}")
  else()
    message(WARNING "vla-ttt: VLA_TTT_CUBLAS_ROOT=${root} has no include/cublas_v2.h and lib/libcublas.so*")
  endif()
endmacro()

# The CUDA backend switch. Sets VLA_CUDA_SUMMARY (one line, printed at configure time and
# reported by buildInfo()). A macro, because enable_language() must run at file scope.
#   OFF:  no CUDA.
#   AUTO: CUDA when nvcc, cudart and cuBLAS are all found; otherwise the CPU build, saying why.
#   ON:   nvcc and cudart are required; every kernel is compiled; without cuBLAS the cuBLAS-linked
#         sources (native/cuda/*_cublas.cu) are left out and the build says so.
macro(vla_configure_cuda)
  set(VLA_CUDA_SUMMARY "CUDA off (VLA_TTT_CUDA=OFF)")
  set(VLA_CUDA_ENABLED OFF)
  if(NOT VLA_TTT_CUDA STREQUAL "OFF")
    include(CheckLanguage)
    check_language(CUDA)
    if(NOT CMAKE_CUDA_COMPILER)
      set(VLA_CUDA_SUMMARY "CUDA off: nvcc not found; CPU build")
      if(VLA_TTT_CUDA STREQUAL "ON")
        message(FATAL_ERROR "vla-ttt: VLA_TTT_CUDA=ON but nvcc was not found (put it on PATH or set CUDACXX)")
      endif()
    else()
      if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
        # Ampere and Hopper; override with -DCMAKE_CUDA_ARCHITECTURES=native or a list.
        set(CMAKE_CUDA_ARCHITECTURES 80 90)
      endif()
      enable_language(CUDA)
      find_package(CUDAToolkit QUIET)
      set(VLA_HAVE_CUBLAS OFF)
      set(VLA_CUBLAS_TARGET CUDA::cublas)
      if(NOT TARGET CUDA::cublas AND VLA_TTT_CUBLAS_ROOT)
        vla_import_cublas("${VLA_TTT_CUBLAS_ROOT}")
      endif()
      if(TARGET ${VLA_CUBLAS_TARGET})
        set(VLA_HAVE_CUBLAS ON)
      endif()
      if(NOT TARGET CUDA::cudart)
        set(VLA_CUDA_SUMMARY "CUDA off: cudart not found next to ${CMAKE_CUDA_COMPILER}; CPU build")
        if(VLA_TTT_CUDA STREQUAL "ON")
          message(FATAL_ERROR "vla-ttt: VLA_TTT_CUDA=ON but the CUDA runtime (cudart) was not found")
        endif()
      elseif(NOT VLA_HAVE_CUBLAS AND NOT VLA_TTT_CUDA STREQUAL "ON")
        set(VLA_CUDA_SUMMARY "CUDA off: toolkit ${CUDAToolkit_VERSION} found but not cuBLAS; CPU build (VLA_TTT_CUDA=1 compiles the kernels anyway)")
      else()
        set(VLA_CUDA_ENABLED ON)
      endif()
    endif()
  endif()

  if(VLA_CUDA_ENABLED)
    file(GLOB VLA_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/native/cuda/*.cu)
    if(NOT VLA_HAVE_CUBLAS)
      list(FILTER VLA_CUDA_SOURCES EXCLUDE REGEX "_cublas\\.cu$")
    endif()
    add_library(vla_cuda STATIC ${VLA_CUDA_SOURCES})
    target_include_directories(vla_cuda PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/native)
    set_target_properties(vla_cuda PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON
      POSITION_INDEPENDENT_CODE ON CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}")
    # Per-thread default streams: work from different host threads does not serialize on the
    # legacy stream, and one thread's launches can be captured into a CUDA graph (act's loop).
    target_compile_options(vla_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr --default-stream=per-thread>)
    target_link_libraries(vla_cuda PUBLIC CUDA::cudart_static)
    target_compile_definitions(vla_core PUBLIC VLA_HAVE_CUDA=1)
    if(VLA_HAVE_CUBLAS)
      target_link_libraries(vla_cuda PUBLIC ${VLA_CUBLAS_TARGET})
      # vla_cuda's own sources need it too (vla_core links vla_cuda, not the reverse); the
      # emulated copies see it through vla_core and ignore it (no cuBLAS in the emulator).
      target_compile_definitions(vla_cuda PRIVATE VLA_HAVE_CUBLAS=1)
      target_compile_definitions(vla_core PUBLIC VLA_HAVE_CUBLAS=1)
      set(VLA_CUDA_SUMMARY "CUDA on: toolkit ${CUDAToolkit_VERSION}, cuBLAS, architectures ${CMAKE_CUDA_ARCHITECTURES}")
    else()
      set(VLA_CUDA_SUMMARY "CUDA on without cuBLAS: toolkit ${CUDAToolkit_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES}; kernels compiled, the cuBLAS GEMM path left out (cuBLAS not found)")
      message(WARNING "vla-ttt: cuBLAS not found: compiling the CUDA kernels without the cuBLAS-linked GEMM path")
    endif()
    target_link_libraries(vla_core PUBLIC vla_cuda)
  endif()
endmacro()

# The CUDA kernels and their tests compiled for the CPU emulator (native/cuda/emulation.h), into
# `target`: each native/cuda/*.cu (but device discovery and the cuBLAS-linked files) and each
# native/tests/cuda/*.cc is included by a generated .cc compiled with VLA_CUDA_EMULATION, which
# puts it in namespace vla::cuda_emu. Every build gets these, so CI checks the kernels' logic.
# KERNELS_ONLY leaves the tests out (the emulated test addon links the kernels alone).
function(vla_add_cuda_emulation target)
  cmake_parse_arguments(ARG "KERNELS_ONLY" "" "" ${ARGN})
  file(GLOB kernels CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/native/cuda/*.cu)
  list(FILTER kernels EXCLUDE REGEX "(_cublas|cuda_context)\\.cu$")
  set(tests)
  if(NOT ARG_KERNELS_ONLY)
    file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/native/tests/cuda/*.cc)
  endif()
  set(generated)
  foreach(src ${kernels} ${tests})
    file(RELATIVE_PATH rel ${CMAKE_CURRENT_SOURCE_DIR}/native ${src})
    string(MAKE_C_IDENTIFIER ${rel} id)
    set(out ${CMAKE_CURRENT_BINARY_DIR}/cuda_emulated/${id}.cc)
    file(GENERATE OUTPUT ${out} CONTENT "// Generated by cmake/VlaCuda.cmake: ${rel} for the CUDA emulator.\n#include \"${rel}\"\n")
    list(APPEND generated ${out})
  endforeach()
  set_source_files_properties(${generated} PROPERTIES COMPILE_DEFINITIONS VLA_CUDA_EMULATION=1)
  target_sources(${target} PRIVATE ${generated} ${CMAKE_CURRENT_SOURCE_DIR}/native/cuda/emulation.cc)
  if(APPLE)  # ucontext is behind _XOPEN_SOURCE there
    set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/native/cuda/emulation.cc PROPERTIES COMPILE_DEFINITIONS _XOPEN_SOURCE=600)
  endif()
endfunction()
