// Registrations: embedding and its backward op.
#include "ops/embedding.h"
#include "registry/input_checks.h"
#include "registry/op_registry.h"

namespace vla {

namespace {

// table: [V, D]; ids: any rank up to 5, every id in [0, V). Returns the output shape [..., D].
Shape check_embedding_inputs(const OpCall& c, int64_t* V, int64_t* D) {
  c.expect_rank("table", 2);
  *V = c.shape("table")[0];
  *D = c.shape("table")[1];
  const Shape& ids = c.shape("ids");
  if (ids.rank() >= Shape::kMaxRank)
    c.fail_shape("ids", "rank <= " + std::to_string(Shape::kMaxRank - 1) + " (the output appends D)");
  check_int_range(c, "ids", *V, "V");
  Shape out = ids;
  out.push_back(*D);
  return out;
}

void add_embedding(std::vector<OpDef>& ops) {
  const InputDef ids{"ids", ArgKind::kInt32, "[...], each in [0, V)"};
  const InputDef table{"table", ArgKind::kFloat, "[V, D]"};

  OpDef f;
  f.name = "embedding";
  f.summary = "out[..., :] = table[ids[...], :]";
  f.inputs = {ids, table};
  f.outputs = {{"out", ArgKind::kFloat, "[..., D]"}};
  f.backward = "embedding_backward";
  f.infer = [](const OpCall& c) {
    int64_t V, D;
    return std::vector<Shape>{check_embedding_inputs(c, &V, &D)};
  };
  f.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    int64_t V, D;
    check_embedding_inputs(c, &V, &D);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      embedding_forward<T>(c.in("ids").ptr<int32_t>(), c.in("table").ptr<T>(), out[0].ptr<T>(), c.in("ids").numel(),
                           V, D);
    });
  };
  ops.push_back(f);

  OpDef b;
  b.name = "embedding_backward";
  b.summary = "gradient of embedding: dtable[ids[n], :] += dout[n, :] (deterministic scatter-add)";
  b.inputs = {ids, {"table", ArgKind::kFloat, "[V, D] (only its shape is used)"},
              {"dout", ArgKind::kFloat, "[..., D]"}};
  b.outputs = {{"dtable", ArgKind::kFloat, "[V, D]"}};
  b.infer = [](const OpCall& c) {
    int64_t V, D;
    const Shape out = check_embedding_inputs(c, &V, &D);
    if (c.shape("dout") != out) c.fail_shape("dout", out.str() + " (the shape of embedding's output)");
    return std::vector<Shape>{c.shape("table")};
  };
  b.run = [](const OpCall& c, const std::vector<AnyTensor>& out) {
    int64_t V, D;
    check_embedding_inputs(c, &V, &D);
    dispatch_float(c.float_dtype, [&](auto tag) {
      using T = decltype(tag);
      embedding_backward<T>(c.in("ids").ptr<int32_t>(), c.in("dout").ptr<T>(), out[0].ptr<T>(), c.in("ids").numel(),
                            V, D);
    });
  };
  ops.push_back(b);
}

}  // namespace

void register_embedding_ops(std::vector<OpDef>& ops) { add_embedding(ops); }

}  // namespace vla
