#include "launch/serve/generation_stream.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <numeric>

#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv {

GenerationStream::GenerationStream(const Tokenizer& tokenizer, const CompletionRequest& request, std::string id,
                                   std::string model, std::span<const int32_t> prompt)
    : tokenizer_(tokenizer),
      request_(request),
      id_(std::move(id)),
      model_(std::move(model)),
      created_(static_cast<int64_t>(std::time(nullptr))),
      prompt_tokens_(static_cast<int64_t>(prompt.size())),
      decoder_(tokenizer) {
  for (int32_t id : prompt) decoder_.push(id);
  // Echo repeats the prompt as text: a token-id prompt decoded (special tokens
  // dropped, as the completion's text drops them).
  if (!request_.chat && request_.echo)
    echo_text_ = request_.prompt_ids ? tokenizer_.decode(prompt, /*skip_special_tokens=*/true) : request_.prompt;
  for (const std::string& stop : request_.stop) holdback_ = std::max(holdback_, stop.size() - 1);
}

void GenerationStream::logits(std::span<const float> row) {
  if (!request_.logprobs) return;
  const float max = *std::max_element(row.begin(), row.end());
  double sum = 0;
  for (float x : row) sum += std::exp(static_cast<double>(x - max));
  const float log_sum = max + static_cast<float>(std::log(sum));
  pending_log_softmax_.resize(row.size());
  for (size_t i = 0; i < row.size(); ++i) pending_log_softmax_[i] = row[i] - log_sum;
}

std::string GenerationStream::token(int32_t id) {
  tokens_.push_back(id);
  if (request_.logprobs && static_cast<size_t>(id) < pending_log_softmax_.size()) {
    TokenLogprob entry{id, pending_log_softmax_[id], {}};
    std::vector<int32_t> order(pending_log_softmax_.size());
    std::iota(order.begin(), order.end(), 0);
    const size_t k = std::min<size_t>(static_cast<size_t>(request_.top_logprobs), order.size());
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int32_t a, int32_t b) { return pending_log_softmax_[a] > pending_log_softmax_[b]; });
    for (size_t i = 0; i < k; ++i) entry.top.emplace_back(order[i], pending_log_softmax_[order[i]]);
    logprobs_.push_back(std::move(entry));
  }
  text_ += decoder_.push(id);
  // Hold back what a stop string could still start with; never split a UTF-8 character.
  size_t safe = text_.size() > holdback_ ? text_.size() - holdback_ : 0;
  // A stop string complete in the text (the engine ends the request next) is never released.
  const size_t from = released_ > holdback_ ? released_ - holdback_ : 0;
  for (const std::string& stop : request_.stop) safe = std::min(safe, text_.find(stop, from));
  while (safe > released_ && safe < text_.size() && (static_cast<unsigned char>(text_[safe]) & 0xC0) == 0x80) --safe;
  if (safe <= released_) return "";
  std::string out = text_.substr(released_, safe - released_);
  released_ = safe;
  return out;
}

std::string GenerationStream::finish(const EngineEvent& finished) {
  finished_ = true;
  text_ += decoder_.finish();
  if (!finished.stop_string.empty()) {
    const size_t at = text_.find(finished.stop_string);
    if (at != std::string::npos) text_.resize(at);
  }
  finish_reason_ = api_finish_reason(finished.reason == FinishReason::Stop);
  kv_ = finished.kv;
  std::string out = released_ < text_.size() ? text_.substr(released_) : "";
  released_ = std::max(released_, text_.size());
  return out;
}

nlohmann::json GenerationStream::usage() const {
  return {{"prompt_tokens", prompt_tokens_},
          {"completion_tokens", generated()},
          {"total_tokens", prompt_tokens_ + generated()}};
}

nlohmann::json GenerationStream::logprobs_json(size_t first, size_t count) const {
  if (!request_.logprobs) return nullptr;
  count = std::min(count, logprobs_.size() - std::min(first, logprobs_.size()));
  // A token as it reads inside the text (" there", not "there"), so the
  // tokens join into the completion; chat's `bytes` are exact where the text
  // is a partial character (U+FFFD in `token`).
  auto piece = [&](const std::string& raw) {
    std::string text;
    append_complete_utf8(text, raw, /*final=*/true);
    return text;
  };
  if (request_.chat) {
    auto entry_json = [&](int32_t token, double logprob) {
      const std::string raw = tokenizer_.token_bytes(token);
      std::vector<int> bytes(raw.begin(), raw.end());
      for (int& b : bytes) b &= 0xFF;
      return nlohmann::json{{"token", piece(raw)}, {"logprob", logprob}, {"bytes", bytes}};
    };
    nlohmann::json content = nlohmann::json::array();
    for (size_t i = first; i < first + count; ++i) {
      const TokenLogprob& entry = logprobs_[i];
      nlohmann::json top = nlohmann::json::array();
      for (const auto& [token, logprob] : entry.top) top.push_back(entry_json(token, logprob));
      nlohmann::json item = entry_json(entry.token, entry.logprob);
      item["top_logprobs"] = std::move(top);
      content.push_back(std::move(item));
    }
    return {{"content", content}};
  }
  nlohmann::json tokens = nlohmann::json::array(), token_logprobs = nlohmann::json::array(),
                 top_logprobs = nlohmann::json::array();
  for (size_t i = first; i < first + count; ++i) {
    const TokenLogprob& entry = logprobs_[i];
    tokens.push_back(piece(tokenizer_.token_bytes(entry.token)));
    token_logprobs.push_back(entry.logprob);
    nlohmann::json top = nlohmann::json::object();
    for (const auto& [token, logprob] : entry.top) top[piece(tokenizer_.token_bytes(token))] = logprob;
    top_logprobs.push_back(top);
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top_logprobs}};
}

nlohmann::json GenerationStream::chunk(const std::string& delta, bool first) {
  nlohmann::json choice = {{"index", 0}, {"finish_reason", nullptr}};
  if (request_.chat) {
    nlohmann::json message = {{"content", delta}};
    if (first) message["role"] = "assistant";
    choice["delta"] = message;
  } else {
    choice["text"] = first ? echo_text_ + delta : delta;  // a stream echoes the prompt in its first chunk
  }
  choice["logprobs"] = logprobs_json(logprobs_released_, logprobs_.size());
  logprobs_released_ = logprobs_.size();
  return {{"id", id_},
          {"object", request_.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created_},
          {"model", model_},
          {"choices", nlohmann::json::array({choice})}};
}

nlohmann::json GenerationStream::final_chunk() const {
  nlohmann::json choice = {{"index", 0}, {"finish_reason", finish_reason_}, {"logprobs", nullptr}};
  if (request_.chat)
    choice["delta"] = nlohmann::json::object();
  else
    choice["text"] = "";
  return {{"id", id_},
          {"object", request_.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created_},
          {"model", model_},
          {"choices", nlohmann::json::array({choice})},
          {"kv", to_json(kv_)}};
}

nlohmann::json GenerationStream::usage_chunk() const {
  return {{"id", id_},
          {"object", request_.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created_},
          {"model", model_},
          {"choices", nlohmann::json::array()},
          {"usage", usage()}};
}

nlohmann::json GenerationStream::response() const {
  nlohmann::json choice = {{"index", 0}, {"finish_reason", finish_reason_}, {"logprobs", logprobs_json(0, logprobs_.size())}};
  if (request_.chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text_}};
  } else {
    choice["text"] = echo_text_ + text_;
  }
  return {{"id", id_},
          {"object", request_.chat ? "chat.completion" : "text_completion"},
          {"created", created_},
          {"model", model_},
          {"choices", nlohmann::json::array({choice})},
          {"usage", usage()},
          {"kv", to_json(kv_)}};
}

}  // namespace slkv
