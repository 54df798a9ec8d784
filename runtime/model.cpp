#include "runtime/model.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>

#include "core/error.h"
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

Model::Model(ModelConfig config, WeightStore weights, const ModelShard& shard, Backend* backend)
    : shard_(shard), config_(std::move(config)), weights_(std::move(weights)) {
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
  inv_freq_ = own_vector(rope_inverse_frequencies(c));
  if (backend) copy_parameters_to(*backend);
}

WeightVector Model::own_vector(std::vector<float> values) {
  owned_vectors_.push_back(std::move(values));
  return WeightVector{owned_vectors_.back().data(), static_cast<int64_t>(owned_vectors_.back().size())};
}

void Model::copy_parameters_to(Backend& device) {
  if (!device.uses_host_memory()) device_ = &device;
  std::map<const void*, const void*> copies;  // host -> device, so tied embeddings are copied once
  auto copy = [&](const void* host, int64_t bytes) -> const void* {
    if (!host) return nullptr;
    auto [it, fresh] = copies.emplace(host, nullptr);
    if (fresh) {
      device_copies_.emplace_back(device, bytes);
      device.copy_from_host(device_copies_.back().data(), host, bytes);
      it->second = device_copies_.back().data();
      // Nothing reads the file's pages again: drop them now, so that resident
      // memory holds one copy of the weights even while loading.
      if (auto mapped = mapped_sources_.find(host); mapped != mapped_sources_.end())
        release_mapped_pages(mapped->second);
    }
    return it->second;
  };
  auto place_matrix = [&](WeightMatrix& w) { w.data = copy(w.data, matrix_bytes(w)); };
  auto place_vector = [&](WeightVector& v) {
    v.data = static_cast<const float*>(copy(v.data, v.size * static_cast<int64_t>(sizeof(float))));
  };
  place_matrix(embed_tokens_);
  place_matrix(lm_head_);
  place_vector(final_norm_);
  place_vector(inv_freq_);
  for (int64_t i = shard_.layers.begin; i < shard_.layers.end; ++i) {
    LayerWeights& layer = layers_[i];
    for (WeightMatrix* w : {&layer.q_proj, &layer.k_proj, &layer.v_proj, &layer.o_proj, &layer.gate_proj,
                            &layer.up_proj, &layer.down_proj})
      place_matrix(*w);
    for (WeightVector* v : {&layer.input_norm, &layer.post_attention_norm, &layer.q_bias, &layer.k_bias, &layer.v_bias})
      place_vector(*v);
  }
  // The host copies are no longer read.
  owned_.clear();
  owned_vectors_.clear();
  mapped_sources_.clear();
}

WeightMatrix Model::rows_of(const std::string& name, const std::vector<int64_t>& shape, IndexRange rows) {
  const TensorView& full = weights_.get(name, shape);
  const TensorView rows_view = row_slice(full, rows.begin, rows.end);
  WeightMatrix w = matrix_from(rows_view);
  mapped_sources_.emplace(w.data, rows_view);
  loaded_bytes_ += matrix_bytes(w);
  return w;
}

WeightMatrix Model::columns_of(const std::string& name, const std::vector<int64_t>& shape, IndexRange columns) {
  const TensorView& full = weights_.get(name, shape);
  WeightMatrix w;
  if (columns.begin == 0 && columns.end == shape[1]) {
    w = matrix_from(full);  // unsplit: zero copy
    mapped_sources_.emplace(w.data, full);
  } else {
    owned_.emplace_back();
    w = matrix_from(column_slice(full, columns.begin, columns.end, owned_.back()));
    release_mapped_pages(full);  // the strided copy touched every page of the full tensor
  }
  loaded_bytes_ += matrix_bytes(w);
  return w;
}

WeightVector Model::vector_of(const std::string& name, const std::vector<int64_t>& shape, IndexRange part) {
  const TensorView view = row_slice(weights_.get(name, shape), part.begin, part.end);
  loaded_bytes_ += static_cast<int64_t>(view.nbytes);
  return own_vector(widen_vector(view));
}

std::unique_ptr<Model> Model::load(const std::filesystem::path& model_dir, const ModelShard& shard, Backend* backend) {
  ModelConfig config = ModelConfig::load(model_dir);
  WeightStore weights = WeightStore::open(model_dir);
  return std::unique_ptr<Model>(new Model(std::move(config), std::move(weights), shard, backend));
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

Model::~Model() {
  if (device_) device_->forget_recordings(this);
}

void Model::all_reduce_tp(float* data, int64_t count) {
  if (shard_.tp > 1) shard_.tp_comm->all_reduce_sum(data, count);
}

// The batch's ids/positions where the backend can read them: the host vector
// itself for a host backend, else a copy in `buffer`.
const int32_t* Model::ids_on(Backend& backend, const std::vector<int32_t>& ids, BackendBuffer& buffer) {
  if (backend.uses_host_memory()) return ids.data();
  const int64_t bytes = static_cast<int64_t>(ids.size() * sizeof(int32_t));
  buffer.reserve(backend, bytes);
  backend.copy_from_host(buffer.data(), ids.data(), bytes);
  return buffer.ints();
}

void Model::reserve_scratch(Backend& backend, BackendBuffer& buffer, int64_t bytes) {
  const void* before = buffer.data();
  buffer.reserve(backend, bytes);
  // Recorded layer segments (run_recorded) point at the old buffer.
  if (buffer.data() != before) backend.forget_recordings(this);
}

void Model::prepare_scratch(Backend& backend, int64_t n, int64_t n_rows) {
  const ModelConfig& c = config_;
  const AttentionShape shape = attention_shape();
  const int64_t q_dim = shape.n_heads * c.head_dim;
  const int64_t kv_dim = shape.n_kv_heads * c.head_dim;
  const int64_t ffn = slice_.ffn.size();
  auto floats = [&](BackendBuffer& buffer, int64_t count) {
    reserve_scratch(backend, buffer, count * static_cast<int64_t>(sizeof(float)));
  };
  floats(hidden_, n * c.hidden_size);
  floats(normed_, n * c.hidden_size);
  floats(q_, n * q_dim);
  floats(k_, n * kv_dim);
  floats(v_, n * kv_dim);
  floats(attn_out_, n * q_dim);
  floats(lse_, n * shape.n_heads);
  floats(proj_, n * c.hidden_size);
  floats(gate_, n * ffn);
  floats(up_, n * ffn);
  floats(last_rows_, n_rows * c.hidden_size);
}

// hidden_ rows = embedding rows of the batch's ids; under TP each rank looks
// up the ids in its vocabulary rows, zeros the others, and the all-reduce
// completes them.
void Model::embed(Backend& backend, int64_t n) {
  const int64_t hidden = config_.hidden_size;
  float* out = hidden_.floats();
  if (shard_.tp == 1) {
    backend.embedding(embed_tokens_, ids_on(backend, host_token_ids_, token_ids_), n, out);
    return;
  }
  host_local_ids_.clear();
  std::vector<int64_t> rows;
  for (int64_t t = 0; t < n; ++t)
    if (slice_.vocab.contains(host_token_ids_[t])) {
      host_local_ids_.push_back(static_cast<int32_t>(host_token_ids_[t] - slice_.vocab.begin));
      rows.push_back(t);
    }
  const int64_t row_bytes = hidden * static_cast<int64_t>(sizeof(float));
  backend.fill_zero(out, n * row_bytes);
  if (!rows.empty()) {
    gathered_.reserve(backend, static_cast<int64_t>(rows.size()) * row_bytes);
    backend.embedding(embed_tokens_, ids_on(backend, host_local_ids_, local_ids_), static_cast<int64_t>(rows.size()),
                      gathered_.floats());
    row_copies_.clear();
    for (size_t i = 0; i < rows.size(); ++i)
      row_copies_.push_back({out + rows[i] * hidden, gathered_.floats() + i * hidden, row_bytes});
    backend.copy_regions(row_copies_);
  }
  all_reduce_tp(out, n * hidden);
}

void Model::forward(std::span<const SequenceChunk> chunks, KvCache& cache, Backend& backend, LogitsFor which,
                    std::vector<float>& logits, AttentionObserver* observer) {
  const float* in_backend = forward_in_backend(chunks, cache, backend, which, observer);
  if (!in_backend) {
    logits.clear();
    return;
  }
  logits.resize(logits_rows_ * config_.vocab_size);
  backend.copy_to_host(logits.data(), in_backend, static_cast<int64_t>(logits.size() * sizeof(float)));
}

const float* Model::forward_in_backend(std::span<const SequenceChunk> chunks, KvCache& cache, Backend& backend,
                                       LogitsFor which, AttentionObserver* observer) {
  const ModelConfig& c = config_;
  const int64_t hidden = c.hidden_size;
  const AttentionShape shape = attention_shape();  // this rank's heads
  const int64_t q_dim = shape.n_heads * c.head_dim;
  const int64_t kv_dim = shape.n_kv_heads * c.head_dim;
  const int64_t ffn = slice_.ffn.size();
  const float eps = static_cast<float>(c.rms_norm_eps);
  constexpr int kHiddenTag = 100;
  if (device_)
    SLKV_CHECK(&backend == device_ && &cache.memory() == device_,
               "the model's parameters and the KV cache live in " << device_->name() << " memory: run it there");
  else
    SLKV_CHECK(backend.uses_host_memory() && cache.memory().uses_host_memory(),
               "the model and its KV cache are in host memory; " << backend.name() << " cannot run them");

  // One chunk per sequence: a layer appends every chunk's keys before any
  // chunk attends, so a second chunk of a sequence would be seen too early.
  batch_sequences_.clear();
  for (const SequenceChunk& chunk : chunks) batch_sequences_.push_back(chunk.sequence);
  std::sort(batch_sequences_.begin(), batch_sequences_.end());
  SLKV_CHECK(std::adjacent_find(batch_sequences_.begin(), batch_sequences_.end()) == batch_sequences_.end(),
             "a forward pass holds two chunks of one sequence");

  // Flatten the chunks into one token batch so every matmul is one GEMM.
  host_token_ids_.clear();
  host_positions_.clear();
  for (const SequenceChunk& chunk : chunks) {
    SLKV_CHECK(!chunk.tokens.empty(), "empty chunk");
    for (size_t i = 0; i < chunk.tokens.size(); ++i) {
      SLKV_CHECK(chunk.tokens[i] >= 0 && chunk.tokens[i] < c.vocab_size, "token id " << chunk.tokens[i]);
      host_token_ids_.push_back(chunk.tokens[i]);
      host_positions_.push_back(static_cast<int32_t>(chunk.first_position + static_cast<int64_t>(i)));
    }
  }
  const int64_t n = static_cast<int64_t>(host_token_ids_.size());
  const int64_t n_rows = which == LogitsFor::LastToken ? static_cast<int64_t>(chunks.size()) : n;
  prepare_scratch(backend, n, n_rows);
  const void* recorded_positions = positions_.data();
  const int32_t* positions = ids_on(backend, host_positions_, positions_);
  // The recorded segments read the positions (the token ids only embed, outside them).
  if (positions_.data() != recorded_positions) backend.forget_recordings(this);
  float* const hidden_states = hidden_.floats();
  float* const normed = normed_.floats();
  float* const q = q_.floats();
  float* const k = k_.floats();
  float* const v = v_.floats();
  float* const attn_out = attn_out_.floats();
  float* const proj = proj_.floats();
  float* const gate = gate_.floats();
  float* const up = up_.floats();

  const int64_t hidden_bytes = n * hidden * static_cast<int64_t>(sizeof(float));
  if (shard_.first_stage())
    embed(backend, n);
  else
    shard_.pp_comm->recv(hidden_states, hidden_bytes, shard_.pp_rank - 1, kHiddenTag);

  // A decode pass (one token per chunk) runs each layer's two dense segments
  // as recorded sequences (CUDA graphs on a GPU): their ops, pointers and
  // sizes depend only on (n, layer). Attention sits between them: its KV
  // spans change every step.
  const bool decode = n == static_cast<int64_t>(chunks.size());
  auto run_segment = [&](int64_t layer_index, int segment, const std::function<void()>& ops) {
    if (decode)
      backend.run_recorded(this, (n * c.num_layers + layer_index) * 2 + segment, ops);
    else
      ops();
  };
  for (int64_t layer_index = shard_.layers.begin; layer_index < shard_.layers.end; ++layer_index) {
    const LayerWeights& layer = layers_[layer_index];
    // Attention block: projections and RoPE.
    run_segment(layer_index, 0, [&] {
      backend.rmsnorm(hidden_states, layer.input_norm.data, n, hidden, eps, normed);
      const MatmulOutput qkv[] = {{layer.q_proj, q}, {layer.k_proj, k}, {layer.v_proj, v}};
      backend.matmul_group(normed, n, qkv);
      if (c.attention_bias) {
        backend.add_bias(q, layer.q_bias.data, n, q_dim);
        backend.add_bias(k, layer.k_bias.data, n, kv_dim);
        backend.add_bias(v, layer.v_bias.data, n, kv_dim);
      }
      backend.rope(q, positions, n, shape.n_heads, c.head_dim, inv_freq_.data);
      backend.rope(k, positions, n, shape.n_kv_heads, c.head_dim, inv_freq_.data);
    });

    // The batch's new keys and values into the cache, as one batched copy.
    kv_appends_.clear();
    int64_t row = 0;
    for (const SequenceChunk& chunk : chunks) {
      const int64_t count = static_cast<int64_t>(chunk.tokens.size());
      kv_appends_.push_back({chunk.sequence, layer_index, k + row * kv_dim, v + row * kv_dim, count});
      row += count;
    }
    cache.append_all(kv_appends_);
    // Attention of every sequence over its own KV, as one batch.
    float* const lse = observer ? lse_.floats() : nullptr;
    attention_jobs_.clear();
    spans_.resize(chunks.size());
    row = 0;
    for (size_t i = 0; i < chunks.size(); ++i) {
      const int64_t count = static_cast<int64_t>(chunks[i].tokens.size());
      spans_[i] = cache.spans(chunks[i].sequence, layer_index);
      attention_jobs_.push_back({q + row * q_dim, count, spans_[i], attn_out + row * q_dim,
                                 lse ? lse + row * shape.n_heads : nullptr});
      row += count;
    }
    backend.attention_batch(attention_jobs_, shape);
    if (observer) {
      row = 0;
      for (const SequenceChunk& chunk : chunks) {
        observer->observe(layer_index, chunk, q + row * q_dim, lse + row * shape.n_heads, cache, shape);
        row += static_cast<int64_t>(chunk.tokens.size());
      }
    }

    // Output projection, then the feed-forward block (SwiGLU).
    run_segment(layer_index, 1, [&] {
      backend.matmul(attn_out, n, layer.o_proj, proj);
      all_reduce_tp(proj, n * hidden);
      backend.add(hidden_states, proj, n * hidden);
      backend.rmsnorm(hidden_states, layer.post_attention_norm.data, n, hidden, eps, normed);
      const MatmulOutput gate_up[] = {{layer.gate_proj, gate}, {layer.up_proj, up}};
      backend.matmul_group(normed, n, gate_up);
      backend.swiglu(gate, up, n * ffn, gate);
      backend.matmul(gate, n, layer.down_proj, proj);
      all_reduce_tp(proj, n * hidden);
      backend.add(hidden_states, proj, n * hidden);
    });
  }

  if (!shard_.last_stage()) {
    shard_.pp_comm->send(hidden_states, hidden_bytes, shard_.pp_rank + 1, kHiddenTag);
    logits_rows_ = 0;
    return nullptr;
  }

  // Final norm and lm_head only on the rows whose logits are wanted.
  const float* rows = hidden_states;
  const int64_t row_bytes = hidden * static_cast<int64_t>(sizeof(float));
  if (which == LogitsFor::LastToken) {
    row_copies_.clear();
    int64_t end = 0;
    for (size_t i = 0; i < chunks.size(); ++i) {
      end += static_cast<int64_t>(chunks[i].tokens.size());
      row_copies_.push_back({last_rows_.floats() + i * hidden, hidden_states + (end - 1) * hidden, row_bytes});
    }
    backend.copy_regions(row_copies_);
    rows = last_rows_.floats();
  }
  backend.rmsnorm(rows, final_norm_.data, n_rows, hidden, eps, normed);
  logits_rows_ = n_rows;
  logits_.reserve(backend, n_rows * c.vocab_size * static_cast<int64_t>(sizeof(float)));
  if (shard_.tp == 1) {
    backend.matmul(normed, n_rows, lm_head_, logits_.floats());
    return logits_.floats();
  }
  // Vocabulary-parallel lm_head: gather every rank's columns of the logits
  // (rank-major), then put each rank's part of each row in place.
  const int64_t local_vocab = slice_.vocab.size();
  local_logits_.reserve(backend, n_rows * local_vocab * static_cast<int64_t>(sizeof(float)));
  backend.matmul(normed, n_rows, lm_head_, local_logits_.floats());
  std::vector<int64_t> counts(shard_.tp);
  for (int r = 0; r < shard_.tp; ++r) counts[r] = n_rows * split_evenly(c.vocab_size, shard_.tp, r).size();
  gathered_.reserve(backend, n_rows * c.vocab_size * static_cast<int64_t>(sizeof(float)));
  shard_.tp_comm->all_gather(local_logits_.floats(), gathered_.floats(), counts);
  row_copies_.clear();
  int64_t offset = 0;
  for (int r = 0; r < shard_.tp; ++r) {
    const IndexRange part = split_evenly(c.vocab_size, shard_.tp, r);
    const int64_t part_bytes = part.size() * static_cast<int64_t>(sizeof(float));
    for (int64_t i = 0; i < n_rows; ++i)
      row_copies_.push_back(
          {logits_.floats() + i * c.vocab_size + part.begin, gathered_.floats() + offset + i * part.size(), part_bytes});
    offset += n_rows * part.size();
  }
  backend.copy_regions(row_copies_);
  return logits_.floats();
}

}  // namespace slkv
