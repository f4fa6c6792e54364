// The BLIS-style GEMM driver shared by every own kernel family (float: generic, AVX2, AVX-512;
// double: generic). A family supplies only a Kernel type; packing, cache blocking, edge handling
// and threading are written once here.
//
// Loops, outermost first (Goto / BLIS):
//   task: a rectangle of C (parallel_for; each element of C belongs to exactly one task)
//     jc: NC columns                 the packed B block [kc x nc] stays in L2 / L3
//       pc: kc of the reduction      blocks depend on K only, run in order: thread-count independent
//         pack op(B)[pc:+kc, jc:+nc] into NR-column panels (zero-padded to a multiple of NR; see below)
//         ic: MC rows                the A block [mc x kc] stays in L2
//           pack op(A)[ic:+mc, pc:+kc] into MR-row panels (zero-padded), only when A is transposed
//           jr: NR-column panels      the B micro-panel [kc x NR] stays in L1
//             ir: MR-row panels
//               micro-kernel: an MR x NR tile of C in registers, kc rank-1 updates
//
// A that is not transposed is read in place: each micro-tile row is a contiguous run of a row of A,
// which the micro-kernel streams directly (the hardware prefetchers follow MR row streams), so the
// gather that packing would be costs nothing. A transposed A is packed: there a micro-tile row is a
// strided column, and packing is a cheap contiguous copy. B is always packed (its micro-panel is
// reused across every A micro-panel and must be contiguous for L1). A B that is not transposed is
// packed on the fly by the first micro-tile that uses each micro-panel (tile_packing_b), so its
// copy costs two stores per k in that tile rather than a pass of its own over memory; a transposed
// B is packed beforehand with the kernel's own (vectorized) transposing copy.
//
// Kernel concept (a struct; every family defines its own in an anonymous namespace, so each
// instantiation of these templates is local to the translation unit that was compiled for its
// instruction set and the linker can never substitute an AVX2 copy into baseline code):
//   using T;                                     float or double
//   static constexpr int kMR, kNR;               micro-tile rows and columns
//   static constexpr int64_t kMC, kKC, kNC;      cache blocks; kMC % kMR == 0, kNC % kNR == 0
//   template <int kRows, bool kPackedA>
//   static void tile(int64_t kc, const T* a, int64_t lda, const T* b, T* c, int64_t ldc, T alpha, T beta);
//       C[kRows, kNR] = alpha * A * Bpanel + beta * C, for 1 <= kRows <= kMR. A element (r, k) is at
//       a[k * kMR + r] when kPackedA (an MR-row panel), else at a[r * lda + k] (rows of A in place).
//       `b` is an NR-column panel (element (k, j) at b[k * kNR + j], 64-byte aligned). beta == 0 must
//       not read C. Every row count and A layout uses the same per-element arithmetic (the same FMA
//       chain over k), so results do not depend on where tile or task boundaries fall.
//   template <int kRows, bool kPackedA>
//   static void tile_packing_b(int64_t kc, const T* a, int64_t lda, const T* b_src, int64_t ldb, T* b_dst,
//                              T* c, int64_t ldc, T alpha, T beta);
//       The same tile, reading B row k in place (b_src + k * ldb, kNR columns) and storing it to the
//       packed panel b_dst as it goes: the first tile that uses a B micro-panel packs it for the rest.
//   static void pack_b_transposed(const T* src, int64_t ld, int cols, int64_t kc, T* dst);
//       dst[k * kNR + j] = src[j * ld + k] for j < cols, 0 for cols <= j < kNR; k < kc.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "core/thread_pool.h"
#include "ops/gemm_kernels.h"

namespace vla::gemm_detail {

// Below this many flops a GEMM runs on the calling thread: a parallel region costs several
// microseconds, which is more than such a product takes on one core.
constexpr double kMinParallelFlops = 1.5e6;

// Splits K into blocks of at most kc_max, all of nearly equal size (a short last block wastes the
// C round trip). Depends on K alone, so the summation order never depends on the thread count.
inline int64_t k_block_size(int64_t K, int64_t kc_max) {
  int64_t blocks = (K + kc_max - 1) / kc_max;
  int64_t kc = (K + blocks - 1) / blocks;
  return std::min(kc_max, (kc + 7) / 8 * 8);
}

template <class Kernel>
using TileFn = void (*)(int64_t, const typename Kernel::T*, int64_t, const typename Kernel::T*, typename Kernel::T*,
                        int64_t, typename Kernel::T, typename Kernel::T);
template <class Kernel>
using PackingTileFn = void (*)(int64_t, const typename Kernel::T*, int64_t, const typename Kernel::T*, int64_t,
                               typename Kernel::T*, typename Kernel::T*, int64_t, typename Kernel::T,
                               typename Kernel::T);

// tile<1>, ..., tile<kMR> (and the packing variants): index rows - 1.
template <class Kernel, bool kPackedA, size_t... R>
constexpr std::array<TileFn<Kernel>, sizeof...(R)> make_tile_table(std::index_sequence<R...>) {
  return {{&Kernel::template tile<static_cast<int>(R) + 1, kPackedA>...}};
}
template <class Kernel, bool kPackedA, size_t... R>
constexpr std::array<PackingTileFn<Kernel>, sizeof...(R)> make_packing_tile_table(std::index_sequence<R...>) {
  return {{&Kernel::template tile_packing_b<static_cast<int>(R) + 1, kPackedA>...}};
}

// Packing into panels of width W: element (k, j) of a [kc x width] slice goes to panel j / W at
// dst + (j / W) * W * kc + k * W + j % W; the last panel is zero-padded to W.

// Source rows hold the panel dimension contiguously (row k = src + k * ld, `width` elements). The
// copy goes in chunks of kChunk rows: the chunk's source rows stay in L1 while each panel receives
// kChunk consecutive rows, so both reads and writes are sequential runs (walking whole rows across
// all panels instead puts one write stream per panel, panels kc * W apart, into the same L1 sets).
// The next chunk's rows are prefetched while this one is copied: the source usually comes from L3
// or memory, and a copy that waits for each line in turn runs at a fraction of the bandwidth.
template <int W, typename T>
void pack_rows_into_panels(const T* src, int64_t ld, int64_t width, int64_t kc, T* dst) {
  constexpr int64_t kChunk = 16, kLine = 64 / sizeof(T);
  const int64_t full = width / W, rest = width % W;
  for (int64_t k0 = 0; k0 < kc; k0 += kChunk) {
    const int64_t k1 = std::min(kc, k0 + kChunk);
    for (int64_t k = k1; k < std::min(kc, k1 + kChunk); ++k)
      for (int64_t j = 0; j < width; j += kLine) __builtin_prefetch(src + k * ld + j);
    for (int64_t q = 0; q < full; ++q) {
      const T* s = src + k0 * ld + q * W;
      T* d = dst + q * W * kc + k0 * W;
      for (int64_t k = k0; k < k1; ++k, s += ld, d += W) std::memcpy(d, s, W * sizeof(T));
    }
    if (rest) {
      const T* s = src + k0 * ld + full * W;
      T* d = dst + full * W * kc + k0 * W;
      for (int64_t k = k0; k < k1; ++k, s += ld, d += W) {
        for (int64_t j = 0; j < rest; ++j) d[j] = s[j];
        for (int64_t j = rest; j < W; ++j) d[j] = T(0);
      }
    }
  }
}

// One panel whose rows are source rows (panel row r = src + r * ld, kc elements): a transposition,
// element by element (kernels may do this faster; see pack_b_transposed).
template <int W, typename T>
void pack_panel_gather(const T* src, int64_t ld, int rows, int64_t kc, T* dst) {
  if (rows == W) {
    for (int64_t k = 0; k < kc; ++k, dst += W)
      for (int r = 0; r < W; ++r) dst[r] = src[r * ld + k];
  } else {
    for (int64_t k = 0; k < kc; ++k, dst += W) {
      for (int r = 0; r < rows; ++r) dst[r] = src[r * ld + k];
      for (int r = rows; r < W; ++r) dst[r] = T(0);
    }
  }
}

// Packs op(A)[i0 : i0+mc, p0 : p0+kc] of a transposed A (op(A)[i, k] = A[k * lda + i]) into MR-row
// panels; panel q starts at dst + q * MR * kc.
template <class Kernel>
void pack_a_transposed(const GemmProblem<typename Kernel::T>& g, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                       typename Kernel::T* dst) {
  pack_rows_into_panels<Kernel::kMR>(g.A + p0 * g.lda + i0, g.lda, mc, kc, dst);
}

// Packs op(B)[p0 : p0+kc, j0 : j0+nc] of a transposed B (op(B)[k, j] = B[j * ldb + k]) into
// NR-column panels; panel q starts at dst + q * NR * kc. (A B that is not transposed is packed on
// the fly by the micro-kernel, see macro_kernel.)
template <class Kernel>
void pack_b_transposed_block(const GemmProblem<typename Kernel::T>& g, int64_t p0, int64_t kc, int64_t j0,
                             int64_t nc, typename Kernel::T* dst) {
  constexpr int NR = Kernel::kNR;
  for (int64_t jp = 0; jp < nc; jp += NR, dst += NR * kc) {
    const int cols = static_cast<int>(std::min<int64_t>(NR, nc - jp));
    Kernel::pack_b_transposed(g.B + (j0 + jp) * g.ldb + p0, g.ldb, cols, kc, dst);
  }
}

// C[mc, nc] = alpha * A block * packed B block + beta * C, one micro-tile at a time. The A block
// is either packed (a_block, MR-row panels) or in place (a_block = &op(A)[ic, pc], row stride lda).
// With b_src (= &op(B)[pc, jc], row stride ldb, B not transposed) the B block is packed into
// b_block on the way, each micro-panel by its first tile.
template <class Kernel, bool kPackedA>
void macro_kernel(int64_t mc, int64_t nc, int64_t kc, const typename Kernel::T* a_block, int64_t lda,
                  typename Kernel::T* b_block, const typename Kernel::T* b_src, int64_t ldb, typename Kernel::T* c,
                  int64_t ldc, typename Kernel::T alpha, typename Kernel::T beta) {
  using T = typename Kernel::T;
  constexpr int MR = Kernel::kMR, NR = Kernel::kNR;
  static constexpr auto tiles = make_tile_table<Kernel, kPackedA>(std::make_index_sequence<MR>{});
  static constexpr auto packing_tiles = make_packing_tile_table<Kernel, kPackedA>(std::make_index_sequence<MR>{});
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int cols = static_cast<int>(std::min<int64_t>(NR, nc - jr));
    T* b_panel = b_block + jr * kc;
    int64_t ir = 0;
    if (b_src && cols == NR) {
      const int rows = static_cast<int>(std::min<int64_t>(MR, mc));
      packing_tiles[rows - 1](kc, a_block, lda, b_src + jr, ldb, b_panel, c + jr, ldc, alpha, beta);
      ir = MR;
    } else if (b_src) {
      pack_rows_into_panels<NR>(b_src + jr, ldb, cols, kc, b_panel);  // a partial last panel
    }
    for (; ir < mc; ir += MR) {
      const int rows = static_cast<int>(std::min<int64_t>(MR, mc - ir));
      const T* a_panel = kPackedA ? a_block + ir * kc : a_block + ir * lda;
      T* c_tile = c + ir * ldc + jr;
      if (cols == NR) {
        tiles[rows - 1](kc, a_panel, lda, b_panel, c_tile, ldc, alpha, beta);
        continue;
      }
      // Right edge: run the same full-width tile on a copy, then write back the columns that exist.
      alignas(64) T tmp[MR * NR] = {};
      if (beta != T(0))
        for (int r = 0; r < rows; ++r)
          for (int j = 0; j < cols; ++j) tmp[r * NR + j] = c_tile[r * ldc + j];
      tiles[rows - 1](kc, a_panel, lda, b_panel, tmp, NR, alpha, beta);
      for (int r = 0; r < rows; ++r)
        for (int j = 0; j < cols; ++j) c_tile[r * ldc + j] = tmp[r * NR + j];
    }
  }
}

// Packed op(B) for a column range and the K blocks [first_block, end_block): K block pb starts at
// data + (pb - first_block) * block_stride, and within it the panel of column n (a multiple of NR)
// at + (n - first_column) * kc, kc being that block's size.
template <typename T>
struct PackedB {
  T* data = nullptr;
  int64_t block_stride = 0;
  int64_t first_column = 0;
  int64_t first_block = 0, end_block = 0;
};

// Per-task packed B up to this size holds all K blocks at once (see gemm_rectangle).
constexpr int64_t kWholeBBytes = int64_t(3) << 20;

// One task: C[m0:m1, n0:n1] over the whole reduction.
//
// B comes packed by the caller (`shared`: a group of K blocks, when several tasks use the same
// columns), or the task packs it into its thread's buffer (ahead when transposed, else on the fly
// by the first MC block): all K blocks when they fit in kWholeBBytes, else one K block at a time
// (BLIS's order). With all K blocks at hand, the K blocks run innermost, so each MC x NC block of C
// stays in L2 across them instead of being streamed through memory once per K block.
template <class Kernel>
void gemm_rectangle(const GemmProblem<typename Kernel::T>& g, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                    PackedB<typename Kernel::T> shared) {
  using T = typename Kernel::T;
  constexpr int64_t MR = Kernel::kMR, NR = Kernel::kNR, MC = Kernel::kMC, NC = Kernel::kNC;
  static_assert(MC % MR == 0 && NC % NR == 0, "cache blocks must hold whole micro-panels");
  const int64_t kc_max = k_block_size(g.K, Kernel::kKC);
  const int64_t k_blocks = (g.K + kc_max - 1) / kc_max;
  const int64_t mc_max = std::min(MC, (m1 - m0 + MR - 1) / MR * MR);
  T* a_block =
      g.trans_a ? static_cast<T*>(pack_buffer(kPackA, static_cast<size_t>(mc_max * kc_max) * sizeof(T))) : nullptr;

  // C[ic:+mc, jc:+nc] (+)= op(A)[ic:+mc, pc:+kc] * B block; with pack_b, the B block is packed
  // into b_block on the way (B not transposed; see macro_kernel).
  auto multiply = [&](int64_t ic, int64_t jc, int64_t nc, int64_t pc, T* b_block, bool pack_b) {
    const int64_t mc = std::min(MC, m1 - ic), kc = std::min(kc_max, g.K - pc);
    const T beta = pc == 0 ? g.beta : T(1);
    T* c = g.C + ic * g.ldc + jc;
    const T* b_src = pack_b ? g.B + pc * g.ldb + jc : nullptr;
    if (g.trans_a) {
      pack_a_transposed<Kernel>(g, ic, mc, pc, kc, a_block);
      macro_kernel<Kernel, true>(mc, nc, kc, a_block, 0, b_block, b_src, g.ldb, c, g.ldc, g.alpha, beta);
    } else {
      macro_kernel<Kernel, false>(mc, nc, kc, g.A + ic * g.lda + pc, g.lda, b_block, b_src, g.ldb, c, g.ldc,
                                  g.alpha, beta);
    }
  };
  // All K blocks of B at hand (or packed by the first MC block when pack_b): K blocks innermost.
  auto multiply_all_blocks = [&](int64_t jc, int64_t nc, PackedB<T> b, bool pack_b) {
    for (int64_t ic = m0; ic < m1; ic += MC)
      for (int64_t pb = b.first_block; pb < b.end_block; ++pb) {
        const int64_t pc = pb * kc_max;
        T* block = b.data + (pb - b.first_block) * b.block_stride + (jc - b.first_column) * std::min(kc_max, g.K - pc);
        multiply(ic, jc, nc, pc, block, pack_b && ic == m0);
      }
  };

  if (shared.data) {
    for (int64_t jc = n0; jc < n1; jc += NC) multiply_all_blocks(jc, std::min(NC, n1 - jc), shared, false);
    return;
  }
  const int64_t nc_max = std::min(NC, (n1 - n0 + NR - 1) / NR * NR);
  const int64_t b_block_size = kc_max * nc_max;
  const bool whole_b = k_blocks > 1 && k_blocks * b_block_size * static_cast<int64_t>(sizeof(T)) <= kWholeBBytes;
  T* b_packed = static_cast<T*>(
      pack_buffer(kPackB, static_cast<size_t>((whole_b ? k_blocks : 1) * b_block_size) * sizeof(T)));
  for (int64_t jc = n0; jc < n1; jc += NC) {
    const int64_t nc = std::min(NC, n1 - jc);
    // A transposed B is packed ahead; otherwise the first MC block's tiles pack it.
    const bool pack_on_the_fly = !g.trans_b;
    if (whole_b) {
      if (g.trans_b)
        for (int64_t pb = 0; pb < k_blocks; ++pb)
          pack_b_transposed_block<Kernel>(g, pb * kc_max, std::min(kc_max, g.K - pb * kc_max), jc, nc,
                                          b_packed + pb * b_block_size);
      multiply_all_blocks(jc, nc, PackedB<T>{b_packed, b_block_size, jc, 0, k_blocks}, pack_on_the_fly);
    } else {
      for (int64_t pc = 0; pc < g.K; pc += kc_max) {
        if (g.trans_b) pack_b_transposed_block<Kernel>(g, pc, std::min(kc_max, g.K - pc), jc, nc, b_packed);
        for (int64_t ic = m0; ic < m1; ic += MC) multiply(ic, jc, nc, pc, b_packed, pack_on_the_fly && ic == m0);
      }
    }
  }
}

// Shared packed B: packed by all threads together, then read by all tasks, a group of K blocks
// of at most this size at a time. Long reductions (weight gradients, K = batch rows) thus go in
// several rounds, each packing a slice that is still in cache when the tasks read it.
constexpr int64_t kSharedGroupBytes = int64_t(1) << 20;
// Below this many flops the extra parallel region that packs a shared B costs more than it saves.
constexpr double kMinSharedBFlops = 16e6;

// Runs a whole GEMM (M, N, K > 0) on the pool. C is cut into m_parts x n_parts rectangles on
// micro-tile boundaries, one task each (one per thread; two per thread when each still gets many
// micro-panels, so that a briefly descheduled thread does not hold up the others). Each rectangle
// needs all of op(A)'s rows and op(B)'s columns that it covers, packed (B always, A when transposed):
// - Each task packs what it needs (B on the fly, if not transposed): cutting M repeats B's packing
//   and cutting N A's, so the larger of M and N is cut.
// - Except that a transposed B (the transposing copy is a pass of its own) of a larger problem
//   with M >= N is packed once, by all threads in a parallel region, into a buffer all tasks then
//   read: cutting M then repeats nothing.
// With `prepacked` (op(B) of a transposed B packed beforehand by pack_b_whole, same kernel): no
// packing at all; every task reads those panels, and whichever of M and N is larger is cut.
// The per-element arithmetic is the same either way.
template <class Kernel>
void gemm_blocked(const GemmProblem<typename Kernel::T>& g, const typename Kernel::T* prepacked = nullptr) {
  using T = typename Kernel::T;
  constexpr int64_t MR = Kernel::kMR, NR = Kernel::kNR;
  const int64_t m_panels = (g.M + MR - 1) / MR, n_panels = (g.N + NR - 1) / NR;
  const double flops = 2.0 * static_cast<double>(g.M) * static_cast<double>(g.N) * static_cast<double>(g.K);
  const int64_t threads = ThreadPool::in_task() ? 1 : num_threads();
  const bool shared_b = !prepacked && g.trans_b && threads > 1 && flops >= kMinSharedBFlops && g.M >= g.N &&
                        g.N <= Kernel::kNC && m_panels >= 2;

  int64_t m_parts = 1, n_parts = 1;
  if (threads > 1 && flops >= kMinParallelFlops) {
    const bool split_m = shared_b || g.M >= g.N;
    const int64_t panels = split_m ? m_panels : n_panels;
    const int64_t want = panels >= 32 * threads ? 2 * threads : threads;
    if (split_m) {
      m_parts = std::min(m_panels, want);
      n_parts = std::min(n_panels, (want + m_parts - 1) / m_parts);
    } else {
      n_parts = std::min(n_panels, want);
      m_parts = std::min(m_panels, (want + n_parts - 1) / n_parts);
    }
  }
  const int64_t tasks = m_parts * n_parts;
  auto run_tasks = [&](PackedB<T> packed) {
    auto run_rectangle = [&](int64_t t) {
      const int64_t mi = t / n_parts, ni = t % n_parts;
      const int64_t m0 = m_panels * mi / m_parts * MR, m1 = std::min(g.M, m_panels * (mi + 1) / m_parts * MR);
      const int64_t n0 = n_panels * ni / n_parts * NR, n1 = std::min(g.N, n_panels * (ni + 1) / n_parts * NR);
      gemm_rectangle<Kernel>(g, m0, m1, n0, n1, packed);
    };
    if (tasks == 1) {
      run_rectangle(0);
      return;
    }
    parallel_for(tasks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) run_rectangle(t);
    });
  };
  if (prepacked) {
    const int64_t kc_max = k_block_size(g.K, Kernel::kKC);
    run_tasks(PackedB<T>{const_cast<T*>(prepacked), kc_max * n_panels * NR, 0, 0, (g.K + kc_max - 1) / kc_max});
    return;
  }
  if (!shared_b || m_parts == 1) {
    run_tasks(PackedB<T>{});
    return;
  }

  const int64_t kc_max = k_block_size(g.K, Kernel::kKC);
  const int64_t k_blocks = (g.K + kc_max - 1) / kc_max;
  const int64_t block_stride = kc_max * n_panels * NR;
  const int64_t group_blocks =
      std::max<int64_t>(1, kSharedGroupBytes / (block_stride * static_cast<int64_t>(sizeof(T))));
  T* data = static_cast<T*>(
      pack_buffer(kPackShared, static_cast<size_t>(std::min(group_blocks, k_blocks) * block_stride) * sizeof(T)));
  // Packing units: one K block and up to 8 column panels (sequential runs of source rows).
  constexpr int64_t kPanelsPerUnit = 8;
  const int64_t panel_groups = (n_panels + kPanelsPerUnit - 1) / kPanelsPerUnit;
  for (int64_t first = 0; first < k_blocks; first += group_blocks) {
    const int64_t end = std::min(k_blocks, first + group_blocks);
    parallel_for((end - first) * panel_groups, 1, [&](int64_t begin, int64_t stop) {
      for (int64_t u = begin; u < stop; ++u) {
        const int64_t pb = first + u / panel_groups, q0 = u % panel_groups * kPanelsPerUnit;
        const int64_t pc = pb * kc_max, kc = std::min(kc_max, g.K - pc);
        const int64_t n0 = q0 * NR, n1 = std::min(g.N, (q0 + kPanelsPerUnit) * NR);
        pack_b_transposed_block<Kernel>(g, pc, kc, n0, n1 - n0, data + (pb - first) * block_stride + n0 * kc);
      }
    });
    run_tasks(PackedB<T>{data, block_stride, 0, first, end});
  }
}

// Floats of op(B) = W^T (W [N, K], row-major) packed whole for `Kernel`: every K block, every
// NR-column panel, in the layout gemm_blocked reads as `prepacked`.
template <class Kernel>
int64_t packed_b_floats(int64_t N, int64_t K) {
  const int64_t kc_max = k_block_size(K, Kernel::kKC);
  return (K + kc_max - 1) / kc_max * kc_max * ((N + Kernel::kNR - 1) / Kernel::kNR) * Kernel::kNR;
}

// Packs W^T (W [N, K], row stride ldw) into `dst` (packed_b_floats(N, K) floats, 64-byte aligned).
template <class Kernel>
void pack_b_whole(const typename Kernel::T* W, int64_t ldw, int64_t N, int64_t K, typename Kernel::T* dst) {
  GemmProblem<typename Kernel::T> g;
  g.trans_b = true;
  g.N = N;
  g.K = K;
  g.B = W;
  g.ldb = ldw;
  const int64_t kc_max = k_block_size(K, Kernel::kKC);
  const int64_t block_stride = kc_max * ((N + Kernel::kNR - 1) / Kernel::kNR) * Kernel::kNR;
  for (int64_t pc = 0, pb = 0; pc < K; pc += kc_max, ++pb)
    pack_b_transposed_block<Kernel>(g, pc, std::min(kc_max, K - pc), 0, N, dst + pb * block_stride);
}

}  // namespace vla::gemm_detail
