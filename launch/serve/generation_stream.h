#pragma once
// GenerationStream: one HTTP request's generation as the engine produces it
// (on the engine loop's thread): the text so far, held back where a stop
// string could still begin so that a stream never shows text a stop string
// later cuts, the logprobs of each token when asked, and the OpenAI JSON of
// its stream chunks and of its final response.
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "launch/serve/openai_protocol.h"
#include "runtime/engine/engine_request.h"
#include "runtime/tokenizer/tokenizer.h"

namespace slkv {

class GenerationStream {
 public:
  // prompt: the ids the reply continues (decoding starts after them, so the
  // first token keeps its word-boundary space).
  GenerationStream(const Tokenizer& tokenizer, const CompletionRequest& request, std::string id, std::string model,
                   std::span<const int32_t> prompt);

  // The logits the next token is drawn from (when logprobs were asked).
  void logits(std::span<const float> row);
  // A generated token: returns the text it releases (may be empty).
  std::string token(int32_t id);
  // The end: the rest of the text (cut at the stop string that matched).
  std::string finish(const EngineEvent& finished);

  // OpenAI JSON.
  nlohmann::json chunk(const std::string& delta, bool first);  // a stream chunk: new text, the logprobs not sent yet
  nlohmann::json final_chunk() const;                                // finish_reason, no text
  nlohmann::json usage_chunk() const;                                // choices: [], usage
  nlohmann::json response() const;                                   // the whole (non-streamed) response

  const CompletionRequest& request() const { return request_; }
  int64_t generated() const { return static_cast<int64_t>(tokens_.size()); }
  int64_t prompt_tokens() const { return prompt_tokens_; }
  const std::string& text() const { return text_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }

  // Timing for the metrics.
  std::chrono::steady_clock::time_point arrived = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_token;

 private:
  nlohmann::json usage() const;
  nlohmann::json logprobs_json(size_t first, size_t count) const;

  const Tokenizer& tokenizer_;
  CompletionRequest request_;
  std::string id_, model_;
  int64_t created_;
  int64_t prompt_tokens_;
  IncrementalDecoder decoder_;
  std::string text_;       // decoded so far
  std::string echo_text_;  // the prompt, before the completion's text, where `echo` asks for it
  size_t released_ = 0;    // bytes of text_ handed out
  size_t holdback_ = 0;    // longest stop string - 1
  std::vector<int32_t> tokens_;
  std::string finish_reason_;
  KvReport kv_;
  bool finished_ = false;
  // Logprobs: per token, its log-probability and the top alternatives.
  std::vector<float> pending_log_softmax_;
  struct TokenLogprob {
    int32_t token;
    double logprob;
    std::vector<std::pair<int32_t, double>> top;
  };
  std::vector<TokenLogprob> logprobs_;
  size_t logprobs_released_ = 0;
};

}  // namespace slkv
