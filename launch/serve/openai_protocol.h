#pragma once
// The OpenAI API as `slkv serve` speaks it: request bodies of
// /v1/completions and /v1/chat/completions parsed and checked field by field,
// and the JSON of responses, stream chunks and error objects.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/sampler.h"

namespace slkv {

// An error the client gets as {"error": {"message", "type", "param", "code"}}.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = "", std::string type = "")
      : std::runtime_error(message), status_(status), param_(std::move(param)), type_(std::move(type)) {}
  int status() const { return status_; }
  const std::string& param() const { return param_; }
  // invalid_request_error (4xx), authentication_error (401), rate_limit_error (429), server_error (5xx).
  std::string type() const;
  nlohmann::json body() const;

 private:
  int status_;
  std::string param_;
  std::string type_;
};

struct CompletionRequest {
  bool chat = false;
  std::string model;
  std::string prompt;                            // /v1/completions: text
  std::optional<std::vector<int32_t>> prompt_ids;  // /v1/completions: token ids instead of text
  nlohmann::ordered_json messages;               // /v1/chat/completions (keys in the client's order)
  int64_t max_tokens = 16;                       // the API's default for completions; chat: until the context ends
  bool max_tokens_given = false;
  SamplingParams sampling;                       // temperature, top_p, top_k, seed (defaults from the model)
  bool seed_given = false;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;
  bool echo = false;
  bool logprobs = false;
  int64_t top_logprobs = 0;
  // Extensions:
  std::optional<std::string> session_id;
  std::optional<std::string> kv_policy;
  std::optional<double> lazy_threshold;
};

// Throws ApiError(400) naming the field of malformed JSON, a field of the
// wrong type or out of range. `defaults`: the model's sampling defaults.
CompletionRequest parse_completion_request(const std::string& body, bool chat, const SamplingParams& defaults);

// OpenAI's finish_reason: "stop" or "length".
std::string api_finish_reason(bool stopped);

}  // namespace slkv
