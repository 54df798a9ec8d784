// parse_completion_request: every field's type and range, named in the error.
#include "launch/serve/openai_protocol.h"

#include <gtest/gtest.h>

namespace slkv {
namespace {

CompletionRequest parse(const std::string& body, bool chat = false) {
  return parse_completion_request(body, chat, SamplingParams{});
}

// The status and the param of the ApiError a body gets.
std::pair<int, std::string> error_of(const std::string& body, bool chat = false) {
  try {
    parse(body, chat);
  } catch (const ApiError& e) {
    return {e.status(), e.param()};
  }
  return {0, ""};
}

TEST(OpenAiProtocol, ReadsACompletionRequest) {
  const CompletionRequest r = parse(R"({"model": "m", "prompt": "Once", "max_tokens": 7, "temperature": 0.5,
      "top_p": 0.9, "top_k": 40, "seed": 3, "stop": ["\n", "END"], "stream": true,
      "stream_options": {"include_usage": true}, "logprobs": 2, "kv_policy": "full", "lazy_threshold": 0.7})");
  EXPECT_EQ(r.prompt, "Once");
  EXPECT_EQ(r.max_tokens, 7);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9f);
  EXPECT_EQ(r.sampling.top_k, 40);
  EXPECT_EQ(r.sampling.seed, 3u);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_TRUE(r.stream && r.include_usage && r.logprobs);
  EXPECT_EQ(r.top_logprobs, 2);
  EXPECT_EQ(*r.kv_policy, "full");
  EXPECT_DOUBLE_EQ(*r.lazy_threshold, 0.7);
  EXPECT_EQ(parse(R"({"prompt": [1, 2, 3]})").prompt_ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(parse(R"({"prompt": ["one"]})").prompt, "one");
  EXPECT_EQ(parse(R"({"prompt": "x", "max_completion_tokens": 4})").max_tokens, 4);
}

TEST(OpenAiProtocol, ReadsAChatRequestWithTextParts) {
  const CompletionRequest r = parse(R"({"messages": [{"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]}],
      "session_id": "abc", "logprobs": true, "top_logprobs": 3})", true);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1]["content"], "Hi there");
  EXPECT_EQ(*r.session_id, "abc");
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 3);
}

TEST(OpenAiProtocol, EveryBadFieldIsA400NamingIt) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"prompt": 5})", "prompt"},
      {R"({})", "prompt"},
      {R"({"prompt": "x", "max_tokens": "ten"})", "max_tokens"},
      {R"({"prompt": "x", "max_tokens": 0})", "max_tokens"},
      {R"({"prompt": "x", "max_tokens": 1e300})", "max_tokens"},
      {R"({"prompt": "x", "max_tokens": 18446744073709551615})", "max_tokens"},
      {R"({"prompt": "x", "temperature": -1})", "temperature"},
      {R"({"prompt": "x", "temperature": "hot"})", "temperature"},
      {R"({"prompt": "x", "top_p": 0})", "top_p"},
      {R"({"prompt": "x", "n": 2})", "n"},
      {R"({"prompt": "x", "stop": 3})", "stop"},
      {R"({"prompt": "x", "stream": "yes"})", "stream"},
      {R"({"prompt": "x", "seed": 1.5})", "seed"},
      {R"({"prompt": "x", "lazy_threshold": 2})", "lazy_threshold"},
      {R"({"prompt": "x", "session_id": "s"})", "session_id"},
      {R"({"prompt": [1, -2]})", "prompt"},
      {R"({"prompt": "x", "echo": true, "logprobs": 1})", "echo"},
  };
  for (const auto& [body, param] : cases) {
    const auto [status, got] = error_of(body);
    EXPECT_EQ(status, 400) << body;
    EXPECT_EQ(got, param) << body;
  }
  EXPECT_EQ(error_of(R"({"messages": []})", true).second, "messages");
  EXPECT_EQ(error_of(R"({"messages": [{"content": "x"}]})", true).second, "messages[0].role");
  EXPECT_EQ(error_of(R"({"messages": [{"role": "user", "content": 7}]})", true).second, "messages[0].content");
  EXPECT_EQ(error_of("{not json").first, 400);
  EXPECT_EQ(error_of("[1, 2]").first, 400);
}

TEST(OpenAiProtocol, ErrorsAreOpenAiErrorObjects) {
  const ApiError error(429, "slow down");
  const nlohmann::json body = error.body();
  EXPECT_EQ(body["error"]["message"], "slow down");
  EXPECT_EQ(body["error"]["type"], "rate_limit_error");
  EXPECT_TRUE(body["error"]["param"].is_null());
  EXPECT_EQ(body["error"]["code"], 429);
  EXPECT_EQ(ApiError(401, "key").type(), "authentication_error");
  EXPECT_EQ(ApiError(400, "bad", "stop").body()["error"]["param"], "stop");
}

}  // namespace
}  // namespace slkv
