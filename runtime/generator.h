#pragma once
// Generator: runs a batch of requests to completion on one Model: one batched
// prefill of every prompt, then a decode loop that feeds each unfinished
// sequence its last token in one batched step, until EOS or max tokens. The
// KV policy (SimLayerKV and baselines) observes and trims around those passes.
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "runtime/distributed_sync.h"
#include "runtime/kv/kv_cache.h"
#include "runtime/kv/kv_policy_config.h"
#include "runtime/kv/kv_report.h"
#include "runtime/model.h"
#include "runtime/sampler.h"

namespace slkv {

struct GenerationRequest {
  std::vector<int32_t> prompt_tokens;
  int64_t max_new_tokens = 128;
  SamplingParams sampling;
};

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated ids; a stop token (EOS) ends the run and is not included
  std::string finish_reason;    // "stop" (EOS), "length" (max tokens or context full)
  double prefill_seconds = 0;   // the whole batch's prefill
  double decode_seconds = 0;    // the whole batch's decode loop
  SequenceId sequence = -1;     // its id in the KvCache
  KvReport kv;                  // the cache at the end of generation and the policy's decisions
};

// Called as each token is produced: (request index, token id).
using TokenCallback = std::function<void(size_t, int32_t)>;
// Called with the logits each token was sampled from: (request index, logits row).
using LogitsCallback = std::function<void(size_t, std::span<const float>)>;

class Generator {
 public:
  // stop_tokens: ids that end a sequence (EOS); the cache must be empty-capable
  // of holding every request's prompt + max_new_tokens.
  Generator(Model& model, Backend& backend, KvCache& cache, std::vector<int32_t> stop_tokens,
            const KvPolicyConfig& policy = {});

  // Throws slkv::Error for an empty prompt, a prompt at or beyond the model's
  // context, or bad sampling parameters, before any work is done.
  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& requests,
                                         const TokenCallback& on_token = {}, const LogitsCallback& on_logits = {});

  // When true (default), sequences are removed from the cache at the end.
  void set_release_sequences(bool release) { release_sequences_ = release; }
  // Distributed runs: every rank calls generate() with the same requests in
  // lockstep; the coordinator samples (its on_token/on_logits fire) and the
  // tokens are broadcast so every rank feeds the same ones. Null = one process.
  void set_sync(DistributedSync* sync) { sync_ = sync; }
  // Splits every forward into this many micro-batches of sequences (pipeline
  // overlap under PP); 1 (default) = one batched pass.
  void set_micro_batches(int64_t micro_batches) { micro_batches_ = micro_batches; }

 private:
  Model& model_;
  Backend& backend_;
  KvCache& cache_;
  std::vector<int32_t> stop_tokens_;
  KvPolicyConfig policy_;
  bool release_sequences_ = true;
  DistributedSync* sync_ = nullptr;
  int64_t micro_batches_ = 1;
  std::vector<float> part_logits_;

  void forward(std::span<const SequenceChunk> chunks, std::vector<float>& logits, AttentionObserver* observer);
};

}  // namespace slkv
