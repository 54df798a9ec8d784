#pragma once
// The tensors a Hugging Face Llama/Mistral/Qwen2 checkpoint must contain, with
// the shapes config.json implies. One list shared by the weight loader, the
// WeightStore validation, parameter_count() and the test-model maker.
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/checkpoint/model_config.h"

namespace slkv {

struct ExpectedTensor {
  std::string name;            // HF name, e.g. "model.layers.0.self_attn.q_proj.weight"
  std::vector<int64_t> shape;  // row-major, as stored in safetensors

  int64_t numel() const;
};

// "model.layers.{layer}.{suffix}", e.g. layer_tensor_name(3, "mlp.up_proj.weight").
std::string layer_tensor_name(int64_t layer, const std::string& suffix);

// Every tensor in checkpoint order: embeddings, then per layer the attention
// (q/k/v biases when attention_bias), MLP and norms, then the final norm and
// lm_head (omitted when tie_word_embeddings).
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config);

}  // namespace slkv
