#pragma once
// What a caller hands the Engine (EngineRequest) and what it gets back each
// step (EngineEvent).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/kv/kv_cache.h"
#include "runtime/kv/kv_policy_config.h"
#include "runtime/kv/kv_report.h"
#include "runtime/sampler.h"

namespace slkv {

struct EngineRequest {
  std::vector<int32_t> prompt;  // token ids (BOS included when the tokenizer adds it)
  SamplingParams sampling;
  int64_t max_new_tokens = 128;
  std::vector<int32_t> stop_ids;            // a generated id in this list ends the request (not included)
  std::vector<std::string> stop_strings;    // text that ends the request, across token boundaries (needs the tokenizer)
  std::optional<KvPolicyConfig> kv_policy;  // this request's policy; default: the engine's
  bool keep = false;                        // keep the sequence's KV after it finishes (extend, fork, release)
  std::vector<int32_t> forced_tokens;       // teacher forcing: generate these ids instead of sampling
};

enum class FinishReason {
  Stop,       // a stop id or stop string
  Length,     // max new tokens, or the model's context
  Cancelled,  // Engine::cancel
  Error,      // could not run (message in EngineEvent::error)
};
std::string finish_reason_name(FinishReason reason);

struct EngineEvent {
  enum class Kind { Token, Finished } kind = Kind::Token;
  SequenceId sequence = 0;
  int32_t token = -1;  // Token
  // Finished:
  FinishReason reason = FinishReason::Length;
  std::string error;
  std::string stop_string;  // the stop string that matched, if any
  KvReport kv;              // the sequence's KV at the end (whole model, all ranks)
  double queue_seconds = 0;    // submitted (or extended) -> admitted
  double prefill_seconds = 0;  // admitted -> first token
  double decode_seconds = 0;   // first token -> finished
  int64_t reprefilled_tokens = 0;  // the sequence's history tokens prefilled again (its KV had been evicted)
};

}  // namespace slkv
