#include "runtime/checkpoint/tensor_names.h"

namespace slkv {

int64_t ExpectedTensor::numel() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

std::string layer_tensor_name(int64_t layer, const std::string& suffix) {
  return "model.layers." + std::to_string(layer) + "." + suffix;
}

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config) {
  const int64_t hidden = config.hidden_size;
  const int64_t q_rows = config.num_heads * config.head_dim;
  const int64_t kv_rows = config.num_kv_heads * config.head_dim;
  const int64_t ffn = config.intermediate_size;

  std::vector<ExpectedTensor> tensors;
  tensors.push_back({"model.embed_tokens.weight", {config.vocab_size, hidden}});
  for (int64_t layer = 0; layer < config.num_layers; ++layer) {
    auto add = [&](const std::string& suffix, std::vector<int64_t> shape) {
      tensors.push_back({layer_tensor_name(layer, suffix), std::move(shape)});
    };
    add("input_layernorm.weight", {hidden});
    add("self_attn.q_proj.weight", {q_rows, hidden});
    add("self_attn.k_proj.weight", {kv_rows, hidden});
    add("self_attn.v_proj.weight", {kv_rows, hidden});
    if (config.attention_bias) {
      add("self_attn.q_proj.bias", {q_rows});
      add("self_attn.k_proj.bias", {kv_rows});
      add("self_attn.v_proj.bias", {kv_rows});
    }
    add("self_attn.o_proj.weight", {hidden, q_rows});
    add("post_attention_layernorm.weight", {hidden});
    add("mlp.gate_proj.weight", {ffn, hidden});
    add("mlp.up_proj.weight", {ffn, hidden});
    add("mlp.down_proj.weight", {hidden, ffn});
  }
  tensors.push_back({"model.norm.weight", {hidden}});
  if (!config.tie_word_embeddings) tensors.push_back({"lm_head.weight", {config.vocab_size, hidden}});
  return tensors;
}

}  // namespace slkv
