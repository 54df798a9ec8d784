#pragma once
// Writes a random-weight Hugging Face model directory (config.json,
// generation_config.json, model.safetensors or shards + index,
// tokenizer.json, tokenizer_config.json) for tests and benchmarks that need
// a model of a chosen shape. Weights are deterministic from the seed.
#include <cstdint>
#include <filesystem>

#include "core/dtype.h"
#include "runtime/checkpoint/model_config.h"

namespace slkv {

struct TestModelSpec {
  int64_t hidden_size = 64;
  int64_t intermediate_size = 172;
  int64_t num_layers = 2;
  int64_t num_heads = 4;
  int64_t num_kv_heads = 2;
  int64_t head_dim = 0;  // 0 = hidden_size / num_heads
  int64_t vocab_size = 512;  // at least 259: 3 specials + 256 byte-fallback tokens
  int64_t max_position_embeddings = 2048;
  DType dtype = DType::F32;
  // Llama2/Llama3 write LlamaForCausalLM (Llama3 adds "llama3" rope_scaling
  // and theta 5e5), Mistral MistralForCausalLM, Qwen2 Qwen2ForCausalLM (with
  // q/k/v biases).
  ModelFamily architecture = ModelFamily::Llama2;
  bool tie_word_embeddings = false;
  uint64_t seed = 0;
  int shards = 1;  // > 1: model-0000k-of-0000n.safetensors + model.safetensors.index.json
};

// Creates out_dir if needed and writes the model into it (overwriting).
// Matrices and biases are normal-ish with std 0.02, norm weights 1.0.
// Throws slkv::Error for an impossible spec.
void make_test_model(const TestModelSpec& spec, const std::filesystem::path& out_dir);

// The config make_test_model writes for `spec`, as ModelConfig::load reads it.
ModelConfig test_model_config(const TestModelSpec& spec);

}  // namespace slkv
