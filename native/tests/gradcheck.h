// The generic gradient check, run on every forward op that names a backward op.
//
// With every float input in float64: L = sum_k <R_k, y_k> over the differentiable outputs y_k,
// with R_k random. The backward op, given d<y_k> = R_k, returns d<x> for each float input x;
// each is compared with central finite differences of L on probed elements. Then the same call
// in float32 is compared with the float64 results (outputs and gradients), which checks the
// production fp32 path against the float64 reference.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "registry/op_registry.h"

namespace vla::test {

// One input of a case: values are stored as double whatever the dtype (ints and masks too).
// Float inputs are given as kF64; the harness makes the float32 copy itself.
struct CaseInput {
  std::string name;
  DType dtype = DType::kF64;
  Shape shape;
  std::vector<double> values;
};

struct GradCase {
  std::vector<CaseInput> inputs;
  std::vector<std::pair<std::string, double>> attrs;
};

struct GradCheckOptions {
  double h = 1e-5;            // finite-difference step (float64)
  double rtol = 1e-5;         // |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|)
  double atol = 1e-7;
  int max_probes = 48;        // elements probed per input (all if fewer)
  double f32_tol = 2e-4;      // max|f32 - f64| / max(1e-3, max|f64|) per tensor
};

struct GradCheckReport {
  double max_grad_error = 0;   // worst |a - n| / (atol + rtol * max(|a|, |n|)); <= 1 passes
  double max_f32_error = 0;    // worst relative f32-vs-f64 deviation; <= f32_tol passes
  int probes = 0;
  std::vector<std::string> failures;
};

// Runs the check; failures are listed in the report (the caller turns them into test failures).
GradCheckReport gradcheck(const std::string& forward_op, const GradCase& c, uint64_t seed,
                          const GradCheckOptions& opts = {});

// Helpers for writing cases.
CaseInput random_input(Rng& rng, const std::string& name, Shape shape, double scale = 1.0);
CaseInput int_input(const std::string& name, Shape shape, std::vector<double> values);
CaseInput mask_input(const std::string& name, Shape shape, std::vector<double> values);

// Runs gradcheck and records failures in the running test; returns the report for printing.
GradCheckReport expect_gradcheck(const std::string& forward_op, const GradCase& c, uint64_t seed,
                                 const GradCheckOptions& opts = {});

// Every registered forward op with a backward must have been gradient-checked by some test;
// tests call mark_checked and a final test compares against the registry.
void mark_checked(const std::string& op);
std::vector<std::string> checked_ops();

}  // namespace vla::test
