#pragma once
// ModelConfig: the architecture facts slkv needs, read from a Hugging Face
// config.json. Unsupported architectures or settings are refused with an
// slkv::Error that names the field.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace slkv {

// Family decides the default SimLayerKV preset (configs/) and small
// architecture differences (Qwen2 has q/k/v biases).
enum class ModelFamily { Llama2, Llama3, Mistral, Qwen2 };

// RoPE frequency scaling. Only Llama-3's "llama3" type (and none) is supported.
struct RopeScaling {
  enum class Type { None, Llama3 } type = Type::None;
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string architecture;  // e.g. "LlamaForCausalLM"
  std::string model_type;    // e.g. "llama"
  ModelFamily family = ModelFamily::Llama2;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // config "head_dim" or hidden_size / num_heads
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v projections carry a bias (always true for Qwen2)
  int32_t bos_token_id = -1;    // -1 when absent
  std::vector<int32_t> eos_token_ids;  // config.json plus generation_config.json, deduplicated
  std::string torch_dtype;             // informational only

  // Parses dir/config.json (and dir/generation_config.json when present).
  static ModelConfig load(const std::filesystem::path& model_dir);
  // Parses config.json text; `source` names the file in error messages.
  static ModelConfig parse(const std::string& json_text, const std::string& source);
  // Adds bos/eos ids from generation_config.json text (eos int or list;
  // bos only when config.json had none); `source` names the file in errors.
  void merge_generation_config(const std::string& json_text, const std::string& source);

  int64_t parameter_count() const;  // from the dimensions, embedding and lm_head included
};

std::string family_name(ModelFamily family);

}  // namespace slkv
