#pragma once
// Model: the weights of a Llama/Mistral/Qwen2 decoder and its forward pass,
// written once against the Backend interface. For a backend that reads host
// memory (CPU) the weights stay in the mmap'ed safetensors files (zero copy)
// and only the small norm/bias vectors are widened to fp32; for a GPU backend
// every parameter is copied into its memory at load. Activations live in the
// backend's memory; only token ids go in, and logits or sampled ids come out.
#include <cstdint>
#include <deque>
#include <map>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "kernels/backend.h"
#include "kernels/backend_buffer.h"
#include "runtime/kv/kv_cache.h"
#include "runtime/checkpoint/model_config.h"
#include "runtime/model_shard.h"
#include "runtime/checkpoint/weight_store.h"

namespace slkv {

// A parameter vector (norm weight, bias, RoPE frequencies) in fp32.
struct WeightVector {
  const float* data = nullptr;
  int64_t size = 0;
};

struct LayerWeights {
  WeightMatrix q_proj, k_proj, v_proj, o_proj;
  WeightMatrix gate_proj, up_proj, down_proj;
  WeightVector input_norm, post_attention_norm;
  WeightVector q_bias, k_bias, v_bias;  // size 0 unless attention_bias
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
  // Loads only this rank's slices: its stage's layers, its heads / FFN rows /
  // vocabulary rows (Megatron column- and row-parallel split). Throws
  // slkv::Error when the heads cannot be split shard.tp ways. `backend`: the
  // backend forward() will run on; one that does not read host memory gets a
  // copy of every parameter now (null: a host backend); such a GPU backend
  // must outlive the model.
  static std::unique_ptr<Model> load(const std::filesystem::path& model_dir, const ModelShard& shard = {},
                                     Backend* backend = nullptr);

  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return config_; }
  const WeightStore& weights() const { return weights_; }
  const ModelShard& shard() const { return shard_; }
  // This rank's heads (all of them on one process).
  AttentionShape attention_shape() const;
  // Bytes of weights this rank holds (mapped slices it reads plus owned copies).
  int64_t loaded_bytes() const { return loaded_bytes_; }
  // Bytes of weights read by one decode step (every matrix once).
  int64_t weight_bytes_per_token() const;

  // Runs all chunks (one per sequence) as one batched pass on `backend` (the one given to load(),
  // or any host backend): their new K/V are appended to `cache` (which must
  // live in that backend's memory), and logits [rows][vocab] are written to
  // the host vector `logits`, one row per chunk
  // (LastToken) or per token (AllTokens), in chunk order. Sharded: collective
  // over the shard's groups; a stage receives the hidden states from the one
  // before and sends its own on; only the last stage writes logits (others
  // leave `logits` empty); the cache holds this rank's KV heads.
  void forward(std::span<const SequenceChunk> chunks, KvCache& cache, Backend& backend, LogitsFor which,
               std::vector<float>& logits, AttentionObserver* observer = nullptr);
  // The same pass, leaving the logits in the backend's memory (on a GPU they
  // then never cross to the host; Backend::sample_tokens reads them there):
  // returns [rows][vocab], valid until the next pass, or null on a stage that
  // is not the last.
  const float* forward_in_backend(std::span<const SequenceChunk> chunks, KvCache& cache, Backend& backend,
                                  LogitsFor which, AttentionObserver* observer = nullptr);

 private:
  Model(ModelConfig config, WeightStore weights, const ModelShard& shard, Backend* backend);
  WeightMatrix rows_of(const std::string& name, const std::vector<int64_t>& shape, IndexRange rows);
  WeightMatrix columns_of(const std::string& name, const std::vector<int64_t>& shape, IndexRange columns);
  WeightVector vector_of(const std::string& name, const std::vector<int64_t>& shape, IndexRange part);
  WeightVector own_vector(std::vector<float> values);
  // Copies every parameter into the backend's memory and points at the
  // copies, dropping the file pages they came from. Host backends too: their
  // large allocations are huge pages, which decode streams at up to twice the
  // bandwidth of the mapping's 4 KiB page-cache pages (a 1.26B F32 model read
  // 54-63 GB/s against 21-40 on a 2-core EPYC; docs/BENCHMARKS.md).
  void copy_parameters_to(Backend& device);
  void prepare_scratch(Backend& backend, int64_t n_tokens, int64_t n_rows);
  // buffer.reserve, forgetting the recorded segments when the buffer moves.
  void reserve_scratch(Backend& backend, BackendBuffer& buffer, int64_t bytes);
  const int32_t* ids_on(Backend& backend, const std::vector<int32_t>& ids, BackendBuffer& buffer);
  void embed(Backend& backend, int64_t n);
  void all_reduce_tp(float* data, int64_t count);

  ModelShard shard_;
  TensorSlice slice_;
  int64_t loaded_bytes_ = 0;
  std::deque<std::vector<std::byte>> owned_;  // row-parallel slices copied out of the mapping
  std::deque<std::vector<float>> owned_vectors_;  // parameter vectors widened to fp32
  // Zero-copy weight matrices -> the mapped views they point into, until
  // copy_parameters_to() has copied them (and dropped those pages).
  std::map<const void*, TensorView> mapped_sources_;
  Backend* device_ = nullptr;                 // set when the parameters live in a GPU backend's memory
  std::deque<BackendBuffer> device_copies_;   // the copies (in host or device memory)

  ModelConfig config_;
  WeightStore weights_;
  WeightMatrix embed_tokens_;
  WeightMatrix lm_head_;
  WeightVector final_norm_;
  std::vector<LayerWeights> layers_;
  WeightVector inv_freq_;

  // Scratch activations in the backend's memory, reused across calls (one
  // forward at a time).
  BackendBuffer hidden_, normed_, q_, k_, v_, attn_out_, lse_, proj_, gate_, up_, last_rows_;
  BackendBuffer logits_, local_logits_, gathered_, token_ids_, positions_, local_ids_;
  // Host side: the flattened batch, and its sequences (to check they are distinct).
  std::vector<SequenceId> batch_sequences_;
  std::vector<int32_t> host_token_ids_, host_positions_, host_local_ids_;
  std::vector<CopyRegion> row_copies_;  // batched row moves of one pass
  std::vector<KvAppend> kv_appends_;    // one layer's appends of one pass
  std::vector<std::vector<KvSpan>> spans_;  // and its sequences' KV spans
  std::vector<AttentionJob> attention_jobs_;
  int64_t logits_rows_ = 0;             // rows of the last pass's logits
};

}  // namespace slkv
