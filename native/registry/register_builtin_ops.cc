// The list of op groups. Each group lives in native/registry/register_<group>.cc.
#include "registry/op_registry.h"

namespace vla {

void register_activation_ops(std::vector<OpDef>& ops);
void register_linear_ops(std::vector<OpDef>& ops);
void register_normalization_ops(std::vector<OpDef>& ops);
void register_attention_ops(std::vector<OpDef>& ops);
void register_embedding_ops(std::vector<OpDef>& ops);
void register_loss_ops(std::vector<OpDef>& ops);
void register_optimizer_ops(std::vector<OpDef>& ops);

void register_builtin_ops(std::vector<OpDef>& ops) {
  register_activation_ops(ops);
  register_linear_ops(ops);
  register_normalization_ops(ops);
  register_attention_ops(ops);
  register_embedding_ops(ops);
  register_loss_ops(ops);
  register_optimizer_ops(ops);
}

}  // namespace vla
