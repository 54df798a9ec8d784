#include "runtime/model.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "runtime/error.h"
#include "runtime/rope_frequencies.h"

namespace slkv {
namespace {

WeightMatrix matrix_from(const TensorView& view) {
  return WeightMatrix{view.data, view.dtype, view.shape[0], view.shape[1]};
}

std::vector<float> widen_vector(const TensorView& view) {
  std::vector<float> out(view.numel());
  for (int64_t i = 0; i < view.numel(); ++i) {
    switch (view.dtype) {
      case DType::F32:
        out[i] = reinterpret_cast<const float*>(view.data)[i];
        break;
      case DType::BF16:
        out[i] = bf16_to_float(reinterpret_cast<const uint16_t*>(view.data)[i]);
        break;
      case DType::F16:
        out[i] = f16_to_float(reinterpret_cast<const uint16_t*>(view.data)[i]);
        break;
    }
  }
  return out;
}

int64_t matrix_bytes(const WeightMatrix& w) { return w.rows * w.cols * static_cast<int64_t>(dtype_size(w.dtype)); }

}  // namespace

Model::Model(ModelConfig config, WeightStore weights) : config_(std::move(config)), weights_(std::move(weights)) {
  const ModelConfig& c = config_;
  const int64_t q_dim = c.num_heads * c.head_dim;
  const int64_t kv_dim = c.num_kv_heads * c.head_dim;
  embed_tokens_ = matrix_from(weights_.get("model.embed_tokens.weight", {c.vocab_size, c.hidden_size}));
  lm_head_ = c.tie_word_embeddings ? embed_tokens_
                                   : matrix_from(weights_.get("lm_head.weight", {c.vocab_size, c.hidden_size}));
  final_norm_ = widen_vector(weights_.get("model.norm.weight", {c.hidden_size}));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    LayerWeights layer;
    layer.q_proj = matrix_from(weights_.get(prefix + "self_attn.q_proj.weight", {q_dim, c.hidden_size}));
    layer.k_proj = matrix_from(weights_.get(prefix + "self_attn.k_proj.weight", {kv_dim, c.hidden_size}));
    layer.v_proj = matrix_from(weights_.get(prefix + "self_attn.v_proj.weight", {kv_dim, c.hidden_size}));
    layer.o_proj = matrix_from(weights_.get(prefix + "self_attn.o_proj.weight", {c.hidden_size, q_dim}));
    layer.gate_proj = matrix_from(weights_.get(prefix + "mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size}));
    layer.up_proj = matrix_from(weights_.get(prefix + "mlp.up_proj.weight", {c.intermediate_size, c.hidden_size}));
    layer.down_proj = matrix_from(weights_.get(prefix + "mlp.down_proj.weight", {c.hidden_size, c.intermediate_size}));
    layer.input_norm = widen_vector(weights_.get(prefix + "input_layernorm.weight", {c.hidden_size}));
    layer.post_attention_norm = widen_vector(weights_.get(prefix + "post_attention_layernorm.weight", {c.hidden_size}));
    if (c.attention_bias) {
      layer.q_bias = widen_vector(weights_.get(prefix + "self_attn.q_proj.bias", {q_dim}));
      layer.k_bias = widen_vector(weights_.get(prefix + "self_attn.k_proj.bias", {kv_dim}));
      layer.v_bias = widen_vector(weights_.get(prefix + "self_attn.v_proj.bias", {kv_dim}));
    }
    layers_.push_back(std::move(layer));
  }
  inv_freq_ = rope_inverse_frequencies(c);
}

std::unique_ptr<Model> Model::load(const std::filesystem::path& model_dir) {
  ModelConfig config = ModelConfig::load(model_dir);
  WeightStore weights = WeightStore::open(model_dir);
  return std::unique_ptr<Model>(new Model(std::move(config), std::move(weights)));
}

AttentionShape Model::attention_shape() const {
  return AttentionShape{config_.num_heads, config_.num_kv_heads, config_.head_dim,
                        1.0f / std::sqrt(static_cast<float>(config_.head_dim))};
}

int64_t Model::weight_bytes_per_token() const {
  int64_t bytes = matrix_bytes(lm_head_);
  for (const LayerWeights& layer : layers_) {
    for (const WeightMatrix* w : {&layer.q_proj, &layer.k_proj, &layer.v_proj, &layer.o_proj, &layer.gate_proj,
                                  &layer.up_proj, &layer.down_proj})
      bytes += matrix_bytes(*w);
  }
  return bytes;
}

void Model::forward(std::span<const SequenceChunk> chunks, KvCache& cache, Backend& backend, LogitsFor which,
                    std::vector<float>& logits, AttentionObserver* observer) {
  const ModelConfig& c = config_;
  const int64_t hidden = c.hidden_size;
  const int64_t q_dim = c.num_heads * c.head_dim;
  const int64_t kv_dim = c.num_kv_heads * c.head_dim;
  const AttentionShape shape = attention_shape();

  // Flatten the chunks into one token batch so every matmul is one GEMM.
  token_ids_.clear();
  positions_.clear();
  for (const SequenceChunk& chunk : chunks) {
    SLKV_CHECK(!chunk.tokens.empty(), "empty chunk");
    for (size_t i = 0; i < chunk.tokens.size(); ++i) {
      SLKV_CHECK(chunk.tokens[i] >= 0 && chunk.tokens[i] < c.vocab_size, "token id " << chunk.tokens[i]);
      token_ids_.push_back(chunk.tokens[i]);
      positions_.push_back(static_cast<int32_t>(chunk.first_position + static_cast<int64_t>(i)));
    }
  }
  const int64_t n = static_cast<int64_t>(token_ids_.size());
  hidden_.resize(n * hidden);
  normed_.resize(n * hidden);
  q_.resize(n * q_dim);
  k_.resize(n * kv_dim);
  v_.resize(n * kv_dim);
  attn_out_.resize(n * q_dim);
  lse_.resize(n * c.num_heads);
  proj_.resize(n * hidden);
  gate_.resize(n * c.intermediate_size);
  up_.resize(n * c.intermediate_size);

  backend.embedding(embed_tokens_, token_ids_.data(), n, hidden_.data());
  for (int64_t layer_index = 0; layer_index < c.num_layers; ++layer_index) {
    const LayerWeights& layer = layers_[layer_index];
    // Attention block.
    backend.rmsnorm(hidden_.data(), layer.input_norm.data(), n, hidden, static_cast<float>(c.rms_norm_eps),
                    normed_.data());
    backend.matmul(normed_.data(), n, layer.q_proj, q_.data());
    backend.matmul(normed_.data(), n, layer.k_proj, k_.data());
    backend.matmul(normed_.data(), n, layer.v_proj, v_.data());
    if (c.attention_bias) {
      backend.add_bias(q_.data(), layer.q_bias.data(), n, q_dim);
      backend.add_bias(k_.data(), layer.k_bias.data(), n, kv_dim);
      backend.add_bias(v_.data(), layer.v_bias.data(), n, kv_dim);
    }
    backend.rope(q_.data(), positions_.data(), n, c.num_heads, c.head_dim, inv_freq_.data());
    backend.rope(k_.data(), positions_.data(), n, c.num_kv_heads, c.head_dim, inv_freq_.data());

    int64_t row = 0;
    for (const SequenceChunk& chunk : chunks) {
      const int64_t count = static_cast<int64_t>(chunk.tokens.size());
      cache.append(chunk.sequence, layer_index, &k_[row * kv_dim], &v_[row * kv_dim], count);
      std::vector<KvSpan> spans = cache.spans(chunk.sequence, layer_index);
      float* lse = observer ? &lse_[row * c.num_heads] : nullptr;
      backend.attention(&q_[row * q_dim], count, spans, shape, &attn_out_[row * q_dim], lse);
      if (observer) observer->observe(layer_index, chunk, &q_[row * q_dim], lse, cache, shape);
      row += count;
    }
    backend.matmul(attn_out_.data(), n, layer.o_proj, proj_.data());
    backend.add(hidden_.data(), proj_.data(), n * hidden);

    // Feed-forward block (SwiGLU).
    backend.rmsnorm(hidden_.data(), layer.post_attention_norm.data(), n, hidden, static_cast<float>(c.rms_norm_eps),
                    normed_.data());
    backend.matmul(normed_.data(), n, layer.gate_proj, gate_.data());
    backend.matmul(normed_.data(), n, layer.up_proj, up_.data());
    backend.swiglu(gate_.data(), up_.data(), n * c.intermediate_size, gate_.data());
    backend.matmul(gate_.data(), n, layer.down_proj, proj_.data());
    backend.add(hidden_.data(), proj_.data(), n * hidden);
  }

  // Final norm and lm_head only on the rows whose logits are wanted.
  const float* rows = hidden_.data();
  int64_t n_rows = n;
  if (which == LogitsFor::LastToken) {
    n_rows = static_cast<int64_t>(chunks.size());
    last_rows_.resize(n_rows * hidden);
    int64_t end = 0;
    for (size_t i = 0; i < chunks.size(); ++i) {
      end += static_cast<int64_t>(chunks[i].tokens.size());
      std::copy_n(&hidden_[(end - 1) * hidden], hidden, &last_rows_[i * hidden]);
    }
    rows = last_rows_.data();
  }
  backend.rmsnorm(rows, final_norm_.data(), n_rows, hidden, static_cast<float>(c.rms_norm_eps), normed_.data());
  logits.resize(n_rows * c.vocab_size);
  backend.matmul(normed_.data(), n_rows, lm_head_, logits.data());
}

}  // namespace slkv
