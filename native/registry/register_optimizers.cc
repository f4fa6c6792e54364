// Registrations: adamw (no backward; updates its state in place).
#include "ops/adamw.h"
#include "registry/input_checks.h"
#include "registry/op_registry.h"

namespace vla {

namespace {

AdamWHyper adamw_hyper(const OpCall& c) {
  AdamWHyper h;
  h.lr = c.attr("lr");
  h.beta1 = c.attr("beta1");
  h.beta2 = c.attr("beta2");
  h.eps = c.attr("eps");
  h.weight_decay = c.attr("weight_decay");
  h.step = c.attr_int("step");
  return h;
}

void add_adamw(std::vector<OpDef>& ops) {
  OpDef f;
  f.name = "adamw";
  f.summary =
      "AdamW step in place: m, v moments, bias-corrected, p -= lr * (mhat / (sqrt(vhat) + eps) + weight_decay * p); "
      "elements with mask 0 are left untouched; no outputs";
  f.inputs = {{"params", ArgKind::kFloat, "any shape of n elements", false, true},
              {"grads", ArgKind::kFloat, "n elements", false, false, true},
              {"m", ArgKind::kFloat, "n elements: first moment", false, true},
              {"v", ArgKind::kFloat, "n elements: second moment", false, true},
              {"mask", ArgKind::kUInt8, "n elements: 1 = train, 0 = frozen (absent: all 1)", true}};
  f.attrs = {{"lr", std::numeric_limits<double>::quiet_NaN(), "learning rate, >= 0"},
             {"beta1", 0.9, "first-moment decay, in [0, 1)"},
             {"beta2", 0.999, "second-moment decay, in [0, 1)"},
             {"eps", 1e-8, "added to sqrt(vhat), > 0"},
             {"weight_decay", 0.01, "decoupled weight decay, >= 0"},
             {"step", std::numeric_limits<double>::quiet_NaN(), "1-based step number for bias correction, >= 1",
              /*is_integer=*/true}};
  f.outputs = {};  // params, m and v are the results
  f.infer = [](const OpCall& c) {
    const int64_t n = c.in("params").numel();
    for (const char* name : {"grads", "m", "v", "mask"}) {
      if (!c.has(name)) continue;
      if (c.in(name).numel() != n)
        c.fail_shape(name, std::to_string(n) + " elements (as many as params " + c.shape("params").str() + ")");
    }
    if (c.has("mask")) check_zero_one(c, "mask", "1 = train, 0 = frozen");
    validate_adamw_hyper(adamw_hyper(c), "adamw");
    return std::vector<Shape>{};
  };
  f.run = [](const OpCall& c, const std::vector<AnyTensor>&) {
    const AdamWHyper h = adamw_hyper(c);
    const uint8_t* mask = c.has("mask") ? c.in("mask").ptr<uint8_t>() : nullptr;
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      adamw_step<T>(c.in("params").ptr<T>(), c.in("grads").ptr<T>(), c.in("m").ptr<T>(), c.in("v").ptr<T>(), mask,
                    c.in("params").numel(), h);
    });
  };
  ops.push_back(f);
}

}  // namespace

void register_optimizer_ops(std::vector<OpDef>& ops) { add_adamw(ops); }

}  // namespace vla
