#pragma once
// Model: the weights of a Llama/Mistral/Qwen2 decoder and its forward pass,
// written once against the Backend interface. Weights stay in the mmap'ed
// safetensors files (zero copy); only the small norm/bias vectors are widened
// to fp32 at load.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "kernels/backend.h"
#include "runtime/kv_cache.h"
#include "runtime/model_config.h"
#include "runtime/weight_store.h"

namespace slkv {

struct LayerWeights {
  WeightMatrix q_proj, k_proj, v_proj, o_proj;
  WeightMatrix gate_proj, up_proj, down_proj;
  std::vector<float> input_norm, post_attention_norm;
  std::vector<float> q_bias, k_bias, v_bias;  // empty unless attention_bias
};

// New tokens of one sequence for one forward pass, at consecutive positions.
struct SequenceChunk {
  SequenceId sequence = 0;
  std::span<const int32_t> tokens;
  int64_t first_position = 0;  // absolute position of tokens[0]
};

enum class LogitsFor { LastToken, AllTokens };

// Sees every layer's attention inputs during a forward pass; SimLayerKV uses
// it to score layers without materialising the attention matrix.
class AttentionObserver {
 public:
  virtual ~AttentionObserver() = default;
  // queries: the chunk's rotated queries [n][n_heads][head_dim]; lse: their
  // log-sum-exp over the keys each could see [n][n_heads]; the chunk's keys
  // are already in `cache`.
  virtual void observe(int64_t layer, const SequenceChunk& chunk, const float* queries, const float* lse,
                       const KvCache& cache, const AttentionShape& shape) = 0;
};

class Model {
 public:
  static std::unique_ptr<Model> load(const std::filesystem::path& model_dir);

  const ModelConfig& config() const { return config_; }
  const WeightStore& weights() const { return weights_; }
  AttentionShape attention_shape() const;
  // Bytes of weights read by one decode step (every matrix once).
  int64_t weight_bytes_per_token() const;

  // Runs all chunks as one batched pass: their new K/V are appended to
  // `cache`, and logits [rows][vocab] are written, one row per chunk
  // (LastToken) or per token (AllTokens), in chunk order.
  void forward(std::span<const SequenceChunk> chunks, KvCache& cache, Backend& backend, LogitsFor which,
               std::vector<float>& logits, AttentionObserver* observer = nullptr);

 private:
  Model(ModelConfig config, WeightStore weights);

  ModelConfig config_;
  WeightStore weights_;
  WeightMatrix embed_tokens_;
  WeightMatrix lm_head_;
  std::vector<float> final_norm_;
  std::vector<LayerWeights> layers_;
  std::vector<float> inv_freq_;

  // Scratch activations reused across calls (one forward at a time).
  std::vector<float> hidden_, normed_, q_, k_, v_, attn_out_, lse_, proj_, gate_, up_, last_rows_;
  std::vector<int32_t> token_ids_, positions_;
};

}  // namespace slkv
