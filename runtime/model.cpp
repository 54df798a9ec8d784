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

Model::Model(ModelConfig config, WeightStore weights, const ModelShard& shard)
    : config_(std::move(config)), weights_(std::move(weights)), shard_(shard) {
  const ModelConfig& c = config_;
  if (shard_.layers.end < 0) shard_.layers = IndexRange{0, c.num_layers};
  SLKV_CHECK(shard_.layers.begin >= 0 && shard_.layers.end <= c.num_layers && shard_.layers.size() > 0,
             "stage layers [" << shard_.layers.begin << ", " << shard_.layers.end << ")");
  SLKV_CHECK(shard_.tp == 1 || shard_.tp_comm, "tensor parallel needs a TP communicator");
  SLKV_CHECK(shard_.pp == 1 || shard_.pp_comm, "pipeline parallel needs a PP communicator");
  slice_ = tensor_slice(c, shard_.tp, shard_.tp_rank);
  const int64_t q_dim = c.num_heads * c.head_dim;
  const int64_t kv_dim = c.num_kv_heads * c.head_dim;
  const IndexRange q_rows{slice_.q_heads.begin * c.head_dim, slice_.q_heads.end * c.head_dim};
  const IndexRange kv_rows{slice_.kv_heads.begin * c.head_dim, slice_.kv_heads.end * c.head_dim};
  const IndexRange all_hidden{0, c.hidden_size};
  // Embedding and lm_head: this rank's vocabulary rows (zero copy).
  if (shard_.first_stage() || (shard_.last_stage() && c.tie_word_embeddings))
    embed_tokens_ = rows_of("model.embed_tokens.weight", {c.vocab_size, c.hidden_size}, slice_.vocab);
  if (shard_.last_stage()) {
    lm_head_ = c.tie_word_embeddings ? embed_tokens_
                                     : rows_of("lm_head.weight", {c.vocab_size, c.hidden_size}, slice_.vocab);
    final_norm_ = vector_of("model.norm.weight", {c.hidden_size}, all_hidden);
  }
  layers_.resize(c.num_layers);
  for (int64_t i = shard_.layers.begin; i < shard_.layers.end; ++i) {
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    LayerWeights& layer = layers_[i];
    // Column-parallel: a block of output rows (this rank's heads / FFN rows).
    layer.q_proj = rows_of(prefix + "self_attn.q_proj.weight", {q_dim, c.hidden_size}, q_rows);
    layer.k_proj = rows_of(prefix + "self_attn.k_proj.weight", {kv_dim, c.hidden_size}, kv_rows);
    layer.v_proj = rows_of(prefix + "self_attn.v_proj.weight", {kv_dim, c.hidden_size}, kv_rows);
    layer.gate_proj = rows_of(prefix + "mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size}, slice_.ffn);
    layer.up_proj = rows_of(prefix + "mlp.up_proj.weight", {c.intermediate_size, c.hidden_size}, slice_.ffn);
    // Row-parallel: a block of input columns, followed by an all-reduce.
    layer.o_proj = columns_of(prefix + "self_attn.o_proj.weight", {c.hidden_size, q_dim}, q_rows);
    layer.down_proj = columns_of(prefix + "mlp.down_proj.weight", {c.hidden_size, c.intermediate_size}, slice_.ffn);
    layer.input_norm = vector_of(prefix + "input_layernorm.weight", {c.hidden_size}, all_hidden);
    layer.post_attention_norm = vector_of(prefix + "post_attention_layernorm.weight", {c.hidden_size}, all_hidden);
    if (c.attention_bias) {
      layer.q_bias = vector_of(prefix + "self_attn.q_proj.bias", {q_dim}, q_rows);
      layer.k_bias = vector_of(prefix + "self_attn.k_proj.bias", {kv_dim}, kv_rows);
      layer.v_bias = vector_of(prefix + "self_attn.v_proj.bias", {kv_dim}, kv_rows);
    }
  }
  inv_freq_ = rope_inverse_frequencies(c);
}

WeightMatrix Model::rows_of(const std::string& name, const std::vector<int64_t>& shape, IndexRange rows) {
  const TensorView& full = weights_.get(name, shape);
  WeightMatrix w = matrix_from(row_slice(full, rows.begin, rows.end));
  loaded_bytes_ += matrix_bytes(w);
  return w;
}

WeightMatrix Model::columns_of(const std::string& name, const std::vector<int64_t>& shape, IndexRange columns) {
  const TensorView& full = weights_.get(name, shape);
  WeightMatrix w;
  if (columns.begin == 0 && columns.end == shape[1]) {
    w = matrix_from(full);  // unsplit: zero copy
  } else {
    owned_.emplace_back();
    w = matrix_from(column_slice(full, columns.begin, columns.end, owned_.back()));
    release_mapped_pages(full);  // the strided copy touched every page of the full tensor
  }
  loaded_bytes_ += matrix_bytes(w);
  return w;
}

std::vector<float> Model::vector_of(const std::string& name, const std::vector<int64_t>& shape, IndexRange part) {
  const TensorView view = row_slice(weights_.get(name, shape), part.begin, part.end);
  loaded_bytes_ += static_cast<int64_t>(view.nbytes);
  return widen_vector(view);
}

std::unique_ptr<Model> Model::load(const std::filesystem::path& model_dir) { return load(model_dir, ModelShard{}); }

std::unique_ptr<Model> Model::load(const std::filesystem::path& model_dir, const ModelShard& shard) {
  ModelConfig config = ModelConfig::load(model_dir);
  WeightStore weights = WeightStore::open(model_dir);
  return std::unique_ptr<Model>(new Model(std::move(config), std::move(weights), shard));
}

AttentionShape Model::attention_shape() const {
  return AttentionShape{slice_.q_heads.size(), slice_.kv_heads.size(), config_.head_dim,
                        1.0f / std::sqrt(static_cast<float>(config_.head_dim))};
}

int64_t Model::weight_bytes_per_token() const {
  int64_t bytes = matrix_bytes(lm_head_);
  for (int64_t i = shard_.layers.begin; i < shard_.layers.end; ++i) {
    const LayerWeights& layer = layers_[i];
    for (const WeightMatrix* w : {&layer.q_proj, &layer.k_proj, &layer.v_proj, &layer.o_proj, &layer.gate_proj,
                                  &layer.up_proj, &layer.down_proj})
      bytes += matrix_bytes(*w);
  }
  return bytes;
}

void Model::all_reduce_tp(float* data, int64_t count) {
  if (shard_.tp > 1) shard_.tp_comm->all_reduce_sum(data, count);
}

// hidden_ rows = embedding rows of token_ids_; under TP each rank looks up the
// ids in its vocabulary rows, zeros the others, and the all-reduce completes them.
void Model::embed(Backend& backend, int64_t n) {
  const int64_t hidden = config_.hidden_size;
  if (shard_.tp == 1) {
    backend.embedding(embed_tokens_, token_ids_.data(), n, hidden_.data());
    return;
  }
  local_ids_.clear();
  std::vector<int64_t> rows;
  for (int64_t t = 0; t < n; ++t)
    if (slice_.vocab.contains(token_ids_[t])) {
      local_ids_.push_back(static_cast<int32_t>(token_ids_[t] - slice_.vocab.begin));
      rows.push_back(t);
    }
  std::fill(hidden_.begin(), hidden_.begin() + n * hidden, 0.f);
  if (!rows.empty()) {
    gathered_.resize(rows.size() * hidden);
    backend.embedding(embed_tokens_, local_ids_.data(), static_cast<int64_t>(rows.size()), gathered_.data());
    for (size_t i = 0; i < rows.size(); ++i)
      std::copy_n(&gathered_[i * hidden], hidden, &hidden_[rows[i] * hidden]);
  }
  all_reduce_tp(hidden_.data(), n * hidden);
}

void Model::forward(std::span<const SequenceChunk> chunks, KvCache& cache, Backend& backend, LogitsFor which,
                    std::vector<float>& logits, AttentionObserver* observer) {
  const ModelConfig& c = config_;
  const int64_t hidden = c.hidden_size;
  const AttentionShape shape = attention_shape();  // this rank's heads
  const int64_t q_dim = shape.n_heads * c.head_dim;
  const int64_t kv_dim = shape.n_kv_heads * c.head_dim;
  const int64_t ffn = slice_.ffn.size();
  constexpr int kHiddenTag = 100;

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
  lse_.resize(n * shape.n_heads);
  proj_.resize(n * hidden);
  gate_.resize(n * ffn);
  up_.resize(n * ffn);

  const int64_t hidden_bytes = n * hidden * static_cast<int64_t>(sizeof(float));
  if (shard_.first_stage())
    embed(backend, n);
  else
    shard_.pp_comm->recv(hidden_.data(), hidden_bytes, shard_.pp_rank - 1, kHiddenTag);

  for (int64_t layer_index = shard_.layers.begin; layer_index < shard_.layers.end; ++layer_index) {
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
    backend.rope(q_.data(), positions_.data(), n, shape.n_heads, c.head_dim, inv_freq_.data());
    backend.rope(k_.data(), positions_.data(), n, shape.n_kv_heads, c.head_dim, inv_freq_.data());

    int64_t row = 0;
    for (const SequenceChunk& chunk : chunks) {
      const int64_t count = static_cast<int64_t>(chunk.tokens.size());
      cache.append(chunk.sequence, layer_index, &k_[row * kv_dim], &v_[row * kv_dim], count);
      std::vector<KvSpan> spans = cache.spans(chunk.sequence, layer_index);
      float* lse = observer ? &lse_[row * shape.n_heads] : nullptr;
      backend.attention(&q_[row * q_dim], count, spans, shape, &attn_out_[row * q_dim], lse);
      if (observer) observer->observe(layer_index, chunk, &q_[row * q_dim], lse, cache, shape);
      row += count;
    }
    backend.matmul(attn_out_.data(), n, layer.o_proj, proj_.data());
    all_reduce_tp(proj_.data(), n * hidden);
    backend.add(hidden_.data(), proj_.data(), n * hidden);

    // Feed-forward block (SwiGLU).
    backend.rmsnorm(hidden_.data(), layer.post_attention_norm.data(), n, hidden, static_cast<float>(c.rms_norm_eps),
                    normed_.data());
    backend.matmul(normed_.data(), n, layer.gate_proj, gate_.data());
    backend.matmul(normed_.data(), n, layer.up_proj, up_.data());
    backend.swiglu(gate_.data(), up_.data(), n * ffn, gate_.data());
    backend.matmul(gate_.data(), n, layer.down_proj, proj_.data());
    all_reduce_tp(proj_.data(), n * hidden);
    backend.add(hidden_.data(), proj_.data(), n * hidden);
  }

  if (!shard_.last_stage()) {
    shard_.pp_comm->send(hidden_.data(), hidden_bytes, shard_.pp_rank + 1, kHiddenTag);
    logits.clear();
    return;
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
  if (shard_.tp == 1) {
    backend.matmul(normed_.data(), n_rows, lm_head_, logits.data());
    return;
  }
  // Vocabulary-parallel lm_head: gather every rank's columns of the logits.
  const int64_t local_vocab = slice_.vocab.size();
  local_logits_.resize(n_rows * local_vocab);
  backend.matmul(normed_.data(), n_rows, lm_head_, local_logits_.data());
  std::vector<int64_t> counts(shard_.tp);
  for (int r = 0; r < shard_.tp; ++r) counts[r] = n_rows * split_evenly(c.vocab_size, shard_.tp, r).size();
  gathered_.resize(n_rows * c.vocab_size);
  shard_.tp_comm->all_gather(local_logits_.data(), gathered_.data(), counts);
  int64_t offset = 0;
  for (int r = 0; r < shard_.tp; ++r) {
    const IndexRange part = split_evenly(c.vocab_size, shard_.tp, r);
    for (int64_t i = 0; i < n_rows; ++i)
      std::copy_n(&gathered_[offset + i * part.size()], part.size(), &logits[i * c.vocab_size + part.begin]);
    offset += n_rows * part.size();
  }
}

}  // namespace slkv
