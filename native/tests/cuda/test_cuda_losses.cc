// Loss kernels (cuda/losses_cuda.h) against the CPU references (ops/mse_loss.h,
// ops/flow_matching.h) on random inputs: fp32 relative error < 1e-4 for the scalar loss, the
// per-sample losses and every gradient, with and without weights and dper_sample, with some
// gradient outputs null, B = 1 and J = 1, J wider than a block; backwards start from nonzero
// gradients.
#include "core/random.h"
#include "cuda/losses_cuda.h"
#include "ops/flow_matching.h"
#include "ops/mse_loss.h"
#include "tests/cuda/cuda_test_support.h"

namespace vla::test {
namespace {

using gpu::testing::to_device;
using gpu::testing::to_host;

void check(const char* what, int64_t B, int64_t J, const std::vector<float>& device, const std::vector<float>& ref) {
  double e = max_rel_error(device, ref);
  VLA_EXPECT(e < 1e-4) << what << " (B " << B << ", J " << J << "): relative error " << e;
}

std::vector<float> positive_floats(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.range(0.05, 2.0));
  return v;
}

void run_mse(int64_t B, int64_t J, bool weighted, bool with_dper_sample, uint64_t seed) {
  auto pred = random_floats(B * J, seed), target = random_floats(B * J, seed + 1);
  auto w = positive_floats(B, seed + 2);
  auto dps = random_floats(B, seed + 3);
  auto dpred0 = random_floats(B * J, seed + 4), dtarget0 = random_floats(B * J, seed + 5);
  const float* wp = weighted ? w.data() : nullptr;
  const float dloss = 0.75f;

  std::vector<float> loss(1), ps(B);
  mse_loss_forward(pred.data(), target.data(), wp, loss.data(), ps.data(), B, J);
  auto d_pred = to_device(pred), d_target = to_device(target), d_w = to_device(w), d_dps = to_device(dps);
  const float* d_wp = weighted ? d_w.as<float>() : nullptr;
  gpu::DeviceBuffer d_loss(sizeof(float)), d_ps(B * sizeof(float));
  gpu::mse_loss_forward(d_pred.as<float>(), d_target.as<float>(), d_wp, d_loss.as<float>(), d_ps.as<float>(), B, J);
  check("mse loss", B, J, to_host<float>(d_loss, 1), loss);
  check("mse per_sample", B, J, to_host<float>(d_ps, B), ps);

  std::vector<float> dpred = dpred0, dtarget = dtarget0;
  const float* dps_p = with_dper_sample ? dps.data() : nullptr;
  mse_loss_backward(pred.data(), target.data(), wp, dloss, dps_p, dpred.data(), dtarget.data(), B, J);
  auto d_dpred = to_device(dpred0), d_dtarget = to_device(dtarget0);
  gpu::mse_loss_backward(d_pred.as<float>(), d_target.as<float>(), d_wp, dloss,
                         with_dper_sample ? d_dps.as<float>() : nullptr, d_dpred.as<float>(), d_dtarget.as<float>(),
                         B, J);
  check("mse dpred", B, J, to_host<float>(d_dpred, B * J), dpred);
  check("mse dtarget", B, J, to_host<float>(d_dtarget, B * J), dtarget);

  // Only dtarget: dpred stays as it was.
  dtarget = dtarget0;
  mse_loss_backward(pred.data(), target.data(), wp, dloss, dps_p, static_cast<float*>(nullptr), dtarget.data(), B, J);
  d_dpred.upload(dpred0.data(), B * J * sizeof(float));
  d_dtarget.upload(dtarget0.data(), B * J * sizeof(float));
  gpu::mse_loss_backward(d_pred.as<float>(), d_target.as<float>(), d_wp, dloss,
                         with_dper_sample ? d_dps.as<float>() : nullptr, nullptr, d_dtarget.as<float>(), B, J);
  check("mse dtarget only", B, J, to_host<float>(d_dtarget, B * J), dtarget);
  VLA_EXPECT(to_host<float>(d_dpred, B * J) == dpred0) << "mse: a null dpred was written";
}

void run_flow(int64_t B, int64_t J, bool weighted, bool with_dper_sample, uint64_t seed) {
  auto v = random_floats(B * J, seed), eps = random_floats(B * J, seed + 1), act = random_floats(B * J, seed + 2);
  auto w = positive_floats(B, seed + 3);
  auto dps = random_floats(B, seed + 4);
  auto t = positive_floats(B, seed + 5);
  for (auto& x : t) x *= 0.5f;  // in (0, 1)
  auto dx_t = random_floats(B * J, seed + 6);
  auto g0 = random_floats(B * J, seed + 7), g1 = random_floats(B * J, seed + 8), g2 = random_floats(B * J, seed + 9);
  auto dt0 = random_floats(B, seed + 10);
  const float* wp = weighted ? w.data() : nullptr;
  const float dloss = 1.25f;

  auto d_v = to_device(v), d_eps = to_device(eps), d_act = to_device(act), d_w = to_device(w),
       d_dps = to_device(dps), d_t = to_device(t), d_dxt = to_device(dx_t);
  const float* d_wp = weighted ? d_w.as<float>() : nullptr;

  std::vector<float> loss(1), ps(B);
  flow_matching_loss_forward(v.data(), eps.data(), act.data(), wp, loss.data(), ps.data(), B, J);
  gpu::DeviceBuffer d_loss(sizeof(float)), d_ps(B * sizeof(float));
  gpu::flow_matching_loss_forward(d_v.as<float>(), d_eps.as<float>(), d_act.as<float>(), d_wp, d_loss.as<float>(),
                                  d_ps.as<float>(), B, J);
  check("flow loss", B, J, to_host<float>(d_loss, 1), loss);
  check("flow per_sample", B, J, to_host<float>(d_ps, B), ps);

  std::vector<float> dv = g0, deps = g1, dact = g2;
  const float* dps_p = with_dper_sample ? dps.data() : nullptr;
  flow_matching_loss_backward(v.data(), eps.data(), act.data(), wp, dloss, dps_p, dv.data(), deps.data(), dact.data(),
                              B, J);
  auto d_dv = to_device(g0), d_deps = to_device(g1), d_dact = to_device(g2);
  gpu::flow_matching_loss_backward(d_v.as<float>(), d_eps.as<float>(), d_act.as<float>(), d_wp, dloss,
                                   with_dper_sample ? d_dps.as<float>() : nullptr, d_dv.as<float>(),
                                   d_deps.as<float>(), d_dact.as<float>(), B, J);
  check("flow dv", B, J, to_host<float>(d_dv, B * J), dv);
  check("flow deps", B, J, to_host<float>(d_deps, B * J), deps);
  check("flow dactions", B, J, to_host<float>(d_dact, B * J), dact);

  // Only dv: deps and dactions stay as they were.
  dv = g0;
  flow_matching_loss_backward(v.data(), eps.data(), act.data(), wp, dloss, dps_p, dv.data(),
                              static_cast<float*>(nullptr), static_cast<float*>(nullptr), B, J);
  d_dv.upload(g0.data(), B * J * sizeof(float));
  d_deps.upload(g1.data(), B * J * sizeof(float));
  d_dact.upload(g2.data(), B * J * sizeof(float));
  gpu::flow_matching_loss_backward(d_v.as<float>(), d_eps.as<float>(), d_act.as<float>(), d_wp, dloss,
                                   with_dper_sample ? d_dps.as<float>() : nullptr, d_dv.as<float>(), nullptr,
                                   nullptr, B, J);
  check("flow dv only", B, J, to_host<float>(d_dv, B * J), dv);
  VLA_EXPECT(to_host<float>(d_deps, B * J) == g1 && to_host<float>(d_dact, B * J) == g2)
      << "flow matching: a null gradient was written";

  // flow_interpolate.
  std::vector<float> x_t(B * J);
  flow_interpolate_forward(eps.data(), act.data(), t.data(), x_t.data(), B, J);
  gpu::DeviceBuffer d_xt(B * J * sizeof(float));
  gpu::flow_interpolate_forward(d_eps.as<float>(), d_act.as<float>(), d_t.as<float>(), d_xt.as<float>(), B, J);
  check("interpolate x_t", B, J, to_host<float>(d_xt, B * J), x_t);

  deps = g1, dact = g2;
  std::vector<float> dt = dt0;
  flow_interpolate_backward(eps.data(), act.data(), t.data(), dx_t.data(), deps.data(), dact.data(), dt.data(), B, J);
  d_deps.upload(g1.data(), B * J * sizeof(float));
  d_dact.upload(g2.data(), B * J * sizeof(float));
  auto d_dt = to_device(dt0);
  gpu::flow_interpolate_backward(d_eps.as<float>(), d_act.as<float>(), d_t.as<float>(), d_dxt.as<float>(),
                                 d_deps.as<float>(), d_dact.as<float>(), d_dt.as<float>(), B, J);
  check("interpolate deps", B, J, to_host<float>(d_deps, B * J), deps);
  check("interpolate dactions", B, J, to_host<float>(d_dact, B * J), dact);
  check("interpolate dt", B, J, to_host<float>(d_dt, B), dt);

  // Only dt.
  dt = dt0;
  flow_interpolate_backward(eps.data(), act.data(), t.data(), dx_t.data(), static_cast<float*>(nullptr),
                            static_cast<float*>(nullptr), dt.data(), B, J);
  d_deps.upload(g1.data(), B * J * sizeof(float));
  d_dt.upload(dt0.data(), B * sizeof(float));
  gpu::flow_interpolate_backward(d_eps.as<float>(), d_act.as<float>(), d_t.as<float>(), d_dxt.as<float>(), nullptr,
                                 nullptr, d_dt.as<float>(), B, J);
  check("interpolate dt only", B, J, to_host<float>(d_dt, B), dt);
  VLA_EXPECT(to_host<float>(d_deps, B * J) == g1) << "flow_interpolate: a null deps was written";
}

VLA_CUDA_TEST(mse_loss) {
  VLA_REQUIRE_CUDA_DEVICE();
  run_mse(5, 333, true, true, 10);    // J wider than a block, ragged
  run_mse(7, 50, false, false, 20);   // unweighted, no dper_sample
  run_mse(1, 1, true, false, 30);     // B = J = 1
  run_mse(300, 3, false, true, 40);   // more samples than a block's threads in the batch mean
}

VLA_CUDA_TEST(flow_matching) {
  VLA_REQUIRE_CUDA_DEVICE();
  run_flow(4, 350, true, true, 10);
  run_flow(6, 31, false, false, 20);
  run_flow(1, 1, false, true, 30);
  run_flow(260, 2, true, false, 40);
}

}  // namespace
}  // namespace vla::test
