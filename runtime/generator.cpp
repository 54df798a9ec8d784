#include "runtime/generator.h"

#include <algorithm>
#include <span>

#include "core/error.h"
#include "kernels/backend_buffer.h"
#include "runtime/kv/kv_policy.h"

namespace slkv {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Generator::Generator(Model& model, Backend& backend, KvCache& cache, std::vector<int32_t> stop_tokens,
                     const KvPolicyConfig& policy)
    : model_(model), backend_(backend), cache_(cache), stop_tokens_(std::move(stop_tokens)), policy_(policy) {
  policy_.validate();
}

void Generator::forward(std::span<const SequenceChunk> chunks, std::vector<float>& logits,
                        AttentionObserver* observer) {
  const int64_t parts = std::min<int64_t>(std::max<int64_t>(micro_batches_, 1), static_cast<int64_t>(chunks.size()));
  if (parts == 1) {
    model_.forward(chunks, cache_, backend_, LogitsFor::LastToken, logits, observer);
    return;
  }
  // Micro-batches: under pipeline parallelism a stage sends micro-batch m on
  // and starts m + 1 while the next stage runs m, so the stages overlap.
  logits.clear();
  const size_t n = chunks.size();
  for (int64_t part = 0; part < parts; ++part) {
    const size_t begin = n * part / parts, end = n * (part + 1) / parts;
    model_.forward(chunks.subspan(begin, end - begin), cache_, backend_, LogitsFor::LastToken, part_logits_, observer);
    logits.insert(logits.end(), part_logits_.begin(), part_logits_.end());  // empty except on the last stage
  }
}

std::vector<GenerationResult> Generator::generate(const std::vector<GenerationRequest>& requests,
                                                  const TokenCallback& on_token, const LogitsCallback& on_logits) {
  const int64_t context = model_.config().max_position_embeddings;
  const int64_t vocab = model_.config().vocab_size;
  for (size_t i = 0; i < requests.size(); ++i) {
    const GenerationRequest& request = requests[i];
    const std::string which = requests.size() > 1 ? "prompt " + std::to_string(i + 1) + ": " : "";
    if (request.prompt_tokens.empty()) throw Error(which + "the prompt is empty (and the tokenizer adds no BOS)");
    if (static_cast<int64_t>(request.prompt_tokens.size()) >= context)
      throw Error(which + "the prompt has " + std::to_string(request.prompt_tokens.size()) +
                  " tokens, the model's context (max_position_embeddings) is " + std::to_string(context) +
                  ": nothing is left to generate");
    if (request.max_new_tokens < 0) throw Error("--max-new-tokens must be >= 0");
    for (int32_t id : request.prompt_tokens)
      if (id < 0 || id >= vocab) throw Error(which + "token id " + std::to_string(id) + " is outside the vocabulary");
    request.sampling.validate();
  }

  KvPolicy policy(policy_, model_.config().num_layers, backend_);
  policy.set_sync(sync_);
  std::vector<GenerationResult> results(requests.size());
  std::vector<Sampler> samplers;
  for (size_t i = 0; i < requests.size(); ++i) {
    samplers.emplace_back(requests[i].sampling);
    results[i].sequence = cache_.add_sequence();
  }
  // Sequences still generating, and the token each feeds next.
  std::vector<size_t> active;
  std::vector<int32_t> next_token(requests.size());
  // Takes `token` as the next token of request i; returns whether the request is done.
  auto accept = [&](size_t i, int32_t token) {
    GenerationResult& result = results[i];
    if (std::find(stop_tokens_.begin(), stop_tokens_.end(), token) != stop_tokens_.end()) {
      result.finish_reason = "stop";
      return true;
    }
    result.tokens.push_back(token);
    next_token[i] = token;
    if (on_token && (!sync_ || sync_->is_coordinator())) on_token(i, token);
    const int64_t length = static_cast<int64_t>(requests[i].prompt_tokens.size() + result.tokens.size());
    if (static_cast<int64_t>(result.tokens.size()) >= requests[i].max_new_tokens || length >= context) {
      result.finish_reason = "length";
      return true;
    }
    return false;
  };
  // Tokens are drawn where the logits are (Backend::sample_tokens: on a GPU
  // only ids cross to the host) when the coordinator's own backend holds
  // them: pipeline parallelism (and its micro-batches) sends them to it
  // through the host instead, and an on_logits callback wants them there.
  const bool sample_in_backend = !on_logits && model_.shard().pp == 1 && micro_batches_ <= 1;
  std::vector<float> logits;
  std::vector<TokenDraw> draws;
  std::vector<SequenceChunk> chunks;
  // One forward of `chunks`; returns the logits when they stay in the
  // backend, else null with the host rows in `logits`.
  auto run_pass = [&](AttentionObserver* observer) -> const float* {
    if (sample_in_backend) return model_.forward_in_backend(chunks, cache_, backend_, LogitsFor::LastToken, observer);
    forward(chunks, logits, observer);
    return nullptr;
  };

  // Samples one token per row of the pass's logits for the requests `rows`
  // (on the coordinator; broadcast to the other ranks) and accepts them;
  // returns the requests still generating.
  std::vector<int32_t> sampled;
  auto sample_rows = [&](const std::vector<size_t>& rows, const float* backend_logits) {
    sampled.assign(rows.size(), 0);
    if (!backend_logits && sync_) sync_->logits_to_coordinator(logits, static_cast<int64_t>(rows.size()), vocab);
    if (!sync_ || sync_->is_coordinator()) {
      if (backend_logits) {
        draws.clear();
        for (size_t i : rows) draws.push_back(samplers[i].next_draw());
        backend_.sample_tokens(backend_logits, static_cast<int64_t>(rows.size()), vocab, draws, sampled.data());
      } else {
        for (size_t row = 0; row < rows.size(); ++row) {
          std::span<const float> logits_row = std::span<const float>(logits).subspan(row * vocab, vocab);
          if (on_logits) on_logits(rows[row], logits_row);
        }
        draws.clear();
        for (size_t i : rows) draws.push_back(samplers[i].next_draw());
        const int64_t bytes = static_cast<int64_t>(rows.size()) * vocab * static_cast<int64_t>(sizeof(float));
        BackendBuffer staged(backend_, bytes);
        backend_.copy_from_host(staged.data(), logits.data(), bytes);
        backend_.sample_tokens(staged.floats(), static_cast<int64_t>(rows.size()), vocab, draws, sampled.data());
      }
    }
    if (sync_) sync_->broadcast_tokens(sampled);
    std::vector<size_t> still_active;
    for (size_t row = 0; row < rows.size(); ++row)
      if (!accept(rows[row], sampled[row])) still_active.push_back(rows[row]);
    return still_active;
  };

  // Prefill: every prompt in one batched pass.
  auto prefill_start = std::chrono::steady_clock::now();
  std::vector<size_t> prefilled;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (requests[i].max_new_tokens == 0) {
      results[i].finish_reason = "length";
      continue;
    }
    chunks.push_back(SequenceChunk{results[i].sequence, requests[i].prompt_tokens, 0});
    prefilled.push_back(i);
  }
  if (!chunks.empty()) {
    AttentionObserver* observer = policy.begin_prefill(chunks);
    const float* backend_logits = run_pass(observer);
    policy.end_prefill(cache_);
    active = sample_rows(prefilled, backend_logits);
  }
  const double prefill_seconds = seconds_since(prefill_start);

  // Decode: one token per active sequence per step, all in one batched pass.
  auto decode_start = std::chrono::steady_clock::now();
  for (int64_t step = 0; !active.empty(); ++step) {
    if (sync_) sync_->before_decode_step(step);
    chunks.clear();
    for (size_t i : active) {
      const int64_t position = static_cast<int64_t>(requests[i].prompt_tokens.size() + results[i].tokens.size()) - 1;
      chunks.push_back(SequenceChunk{results[i].sequence, std::span<const int32_t>(&next_token[i], 1), position});
    }
    AttentionObserver* observer = policy.begin_decode_step(step, chunks);
    const float* backend_logits = run_pass(observer);
    policy.end_decode_step(step, cache_);
    active = sample_rows(active, backend_logits);
  }
  const double decode_seconds = seconds_since(decode_start);

  for (auto& result : results) {
    result.prefill_seconds = prefill_seconds;
    result.decode_seconds = decode_seconds;
    result.kv = make_kv_report(cache_, result.sequence, policy);
    if (release_sequences_) cache_.remove_sequence(result.sequence);
  }
  return results;
}

}  // namespace slkv
