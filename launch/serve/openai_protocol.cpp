#include "launch/serve/openai_protocol.h"

#include <cmath>
#include <limits>

#include "core/json_nesting.h"

namespace slkv {

std::string ApiError::type() const {
  if (!type_.empty()) return type_;
  if (status_ == 401) return "authentication_error";
  if (status_ == 429) return "rate_limit_error";
  if (status_ >= 500) return "server_error";
  return "invalid_request_error";
}

nlohmann::json ApiError::body() const {
  return {{"error",
           {{"message", what()},
            {"type", type()},
            {"param", param_.empty() ? nlohmann::json(nullptr) : nlohmann::json(param_)},
            {"code", status_}}}};
}

std::string api_finish_reason(bool stopped) { return stopped ? "stop" : "length"; }

namespace {

// The body keeps its keys in order: messages reach the chat template as the
// client wrote them (`tojson` of tool call arguments), as Python reads JSON.
using Json = nlohmann::ordered_json;

[[noreturn]] void bad(const std::string& field, const std::string& what) {
  throw ApiError(400, "'" + field + "' " + what, field);
}

const Json* field(const Json& body, const std::string& name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

double number(const Json& body, const std::string& name, double low, double high) {
  const Json& value = body.at(name);
  if (!value.is_number()) bad(name, "must be a number, got " + std::string(value.type_name()));
  const double x = value.get<double>();
  if (!std::isfinite(x) || x < low || x > high)
    bad(name, "must be between " + Json(low).dump() + " and " + Json(high).dump());
  return x;
}

int64_t integer(const Json& body, const std::string& name, int64_t low, int64_t high) {
  const Json& value = body.at(name);
  if (!value.is_number_integer()) bad(name, "must be an integer, got " + std::string(value.type_name()));
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(high))
    bad(name, "must be at most " + std::to_string(high));
  const int64_t x = value.get<int64_t>();
  if (x < low || x > high) bad(name, "must be between " + std::to_string(low) + " and " + std::to_string(high));
  return x;
}

bool boolean(const Json& body, const std::string& name) {
  const Json& value = body.at(name);
  if (!value.is_boolean()) bad(name, "must be a boolean, got " + std::string(value.type_name()));
  return value.get<bool>();
}

std::string string(const Json& body, const std::string& name) {
  const Json& value = body.at(name);
  if (!value.is_string()) bad(name, "must be a string, got " + std::string(value.type_name()));
  return value.get<std::string>();
}

// A message's content: a string, or an array of {"type": "text", "text"} parts.
Json message_content(const Json& content, const std::string& where) {
  if (content.is_string()) return content;
  if (!content.is_array()) bad(where, "must be a string or an array of text parts");
  std::string text;
  for (const Json& part : content) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
      bad(where, "parts must be {\"type\": \"text\", \"text\": string}");
    text += part["text"].get<std::string>();
  }
  return text;
}

}  // namespace

CompletionRequest parse_completion_request(const std::string& body_text, bool chat, const SamplingParams& defaults) {
  // Before parsing: nlohmann::ordered_json's parser itself overflows the stack on deep input.
  if (json_text_nesting_depth(body_text) > kMaxJsonNesting)
    throw ApiError(400, json_too_deep_message("the body"));
  Json body;
  try {
    body = Json::parse(body_text);
  } catch (const nlohmann::json::exception& e) {
    throw ApiError(400, std::string("the body is not valid JSON: ") + e.what());
  }
  if (!body.is_object()) throw ApiError(400, "the body must be a JSON object");
  CompletionRequest request;
  request.chat = chat;
  request.sampling = defaults;
  if (field(body, "model")) request.model = string(body, "model");
  if (chat) {
    const Json* messages = field(body, "messages");
    if (!messages) bad("messages", "is required");
    if (!messages->is_array() || messages->empty()) bad("messages", "must be a non-empty array");
    request.messages = Json::array();
    for (size_t i = 0; i < messages->size(); ++i) {
      const Json& m = (*messages)[i];
      const std::string where = "messages[" + std::to_string(i) + "]";
      if (!m.is_object()) bad(where, "must be an object");
      if (!m.contains("role") || !m["role"].is_string()) bad(where + ".role", "must be a string");
      Json message = m;
      message["content"] = m.contains("content") && !m["content"].is_null()
                               ? message_content(m["content"], where + ".content")
                               : Json("");
      request.messages.push_back(std::move(message));
    }
  } else {
    const Json* prompt = field(body, "prompt");
    if (!prompt) bad("prompt", "is required");
    if (prompt->is_string()) {
      request.prompt = prompt->get<std::string>();
    } else if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
      request.prompt = (*prompt)[0].get<std::string>();
    } else if (prompt->is_array() && !prompt->empty() && (*prompt)[0].is_number_integer()) {
      std::vector<int32_t> ids;
      for (const Json& id : *prompt) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > std::numeric_limits<int32_t>::max())
          bad("prompt", "token ids must be non-negative integers");
        ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
      }
      request.prompt_ids = std::move(ids);
    } else {
      bad("prompt", "must be a string, an array of one string, or an array of token ids");
    }
    if (field(body, "echo")) request.echo = boolean(body, "echo");
  }
  constexpr int64_t kMaxTokens = int64_t{1} << 30;
  if (field(body, "max_completion_tokens")) {
    request.max_tokens = integer(body, "max_completion_tokens", 1, kMaxTokens);
    request.max_tokens_given = true;
  } else if (field(body, "max_tokens")) {
    request.max_tokens = integer(body, "max_tokens", 1, kMaxTokens);
    request.max_tokens_given = true;
  }
  if (field(body, "temperature")) request.sampling.temperature = static_cast<float>(number(body, "temperature", 0, 2));
  if (field(body, "top_p")) request.sampling.top_p = static_cast<float>(number(body, "top_p", 0, 1));
  if (request.sampling.top_p <= 0) bad("top_p", "must be greater than 0");
  if (field(body, "top_k")) {
    const int64_t k = integer(body, "top_k", -1, int64_t{1} << 31);
    request.sampling.top_k = k < 0 ? 0 : k;  // -1 (vLLM's "off") = 0 here
  }
  if (field(body, "seed")) {
    const Json& seed = body["seed"];
    if (!seed.is_number_integer()) bad("seed", "must be an integer");
    request.sampling.seed = seed.is_number_unsigned() ? seed.get<uint64_t>() : static_cast<uint64_t>(seed.get<int64_t>());
    request.seed_given = true;
  }
  if (field(body, "n") && integer(body, "n", 1, 1) != 1) bad("n", "must be 1");
  if (const Json* stop = field(body, "stop")) {
    if (stop->is_string()) {
      request.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array() && stop->size() <= 16) {
      for (const Json& s : *stop) {
        if (!s.is_string()) bad("stop", "must be a string or an array of strings");
        if (!s.get<std::string>().empty()) request.stop.push_back(s.get<std::string>());
      }
    } else {
      bad("stop", "must be a string or an array of at most 16 strings");
    }
  }
  if (field(body, "stream")) request.stream = boolean(body, "stream");
  if (const Json* options = field(body, "stream_options")) {
    if (!options->is_object()) bad("stream_options", "must be an object");
    if (field(*options, "include_usage")) request.include_usage = boolean(*options, "include_usage");
  }
  if (field(body, "logprobs")) {
    const Json& value = body["logprobs"];
    if (chat) {
      request.logprobs = boolean(body, "logprobs");
    } else {  // completions: an integer, the number of top logprobs
      request.top_logprobs = integer(body, "logprobs", 0, 20);
      request.logprobs = true;
    }
    (void)value;
  }
  // OpenAI's echo with logprobs also scores the prompt's tokens. The engine
  // computes logits for generated tokens only: refused rather than half answered.
  if (request.echo && request.logprobs)
    bad("echo", "with \"logprobs\" is not supported: the prompt's tokens are not scored");
  if (chat && field(body, "top_logprobs")) {
    request.top_logprobs = integer(body, "top_logprobs", 0, 20);
    if (!request.logprobs) bad("top_logprobs", "needs \"logprobs\": true");
  }
  if (field(body, "session_id")) {
    request.session_id = string(body, "session_id");
    if (!chat) bad("session_id", "is a /v1/chat/completions extension");
    if (request.session_id->empty() || request.session_id->size() > 256) bad("session_id", "must be 1 to 256 bytes long (UTF-8)");
  }
  if (field(body, "kv_policy")) request.kv_policy = string(body, "kv_policy");
  if (field(body, "lazy_threshold")) request.lazy_threshold = number(body, "lazy_threshold", 0, 1);
  return request;
}

}  // namespace slkv
