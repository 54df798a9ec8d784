// slkv serve over real HTTP on 127.0.0.1 (an ephemeral port), the server a
// child process started and stopped by each test: answers equal `slkv
// generate`, streaming, stop strings, concurrency, sessions, every error
// status, disconnects, malformed requests, graceful shutdown, mpirun --tp 2.
#include <gtest/gtest.h>

#include <latch>
#include <random>
#include <set>
#include <thread>

#include "tests/launch/serve/serve_process.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

using testing::post;
using testing::ServeProcess;

std::string stories() { return testing::stories_dir().string(); }
const std::string kServe = " --threads 1 --kv-policy full";

const char* const kPrompts[] = {"Once upon a time", "Tom had a big red ball", "Lily went to the park",
                                "The cat sat on the mat", "One day, a little bird"};

std::string greedy_generate(const std::string& prompt, int64_t tokens) {
  const auto result = testing::run_slkv("generate --model " + stories() + " --json --temperature 0 --kv-policy full --threads 1 "
                                        "--max-new-tokens " + std::to_string(tokens) + " --prompt '" + prompt + "'");
  EXPECT_EQ(result.exit_code, 0);
  return nlohmann::json::parse(result.output)["text"].get<std::string>();
}

nlohmann::json completion(const std::string& prompt, int64_t tokens) {
  return {{"prompt", prompt}, {"max_tokens", tokens}, {"temperature", 0}};
}

int64_t metric(int port, const std::string& name) {
  const auto reply = testing::http(port, "GET", "/metrics");
  std::istringstream in(reply.body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + " ", 0) == 0) return static_cast<int64_t>(std::stod(line.substr(name.size() + 1)));
  return -1;
}

TEST(Serve, GreedyCompletionsEqualGenerateAndStreamsJoinToTheSameText) {
  SLKV_REQUIRE_SHARED();
  ServeProcess server("--model " + stories() + kServe);
  ASSERT_TRUE(server.ok()) << server.log();
  for (const char* prompt : {kPrompts[0], kPrompts[2]}) {
    const auto reply = post(server.port(), "/v1/completions", completion(prompt, 24));
    ASSERT_EQ(reply.status, 200) << reply.body;
    const nlohmann::json body = nlohmann::json::parse(reply.body);
    const std::string text = body["choices"][0]["text"];
    EXPECT_EQ(text, greedy_generate(prompt, 24)) << prompt;
    EXPECT_EQ(body["usage"]["completion_tokens"], 24);
    EXPECT_EQ(body["object"], "text_completion");
    EXPECT_TRUE(body.contains("kv"));

    nlohmann::json streamed = completion(prompt, 24);
    streamed["stream"] = true;
    streamed["stream_options"] = {{"include_usage", true}};
    const auto stream = post(server.port(), "/v1/completions", streamed);
    ASSERT_EQ(stream.status, 200);
    EXPECT_EQ(stream.headers.at("Content-Type"), "text/event-stream");
    const auto payloads = testing::sse_payloads(stream.body);
    ASSERT_GE(payloads.size(), 3u);
    EXPECT_EQ(payloads.back(), "[DONE]");
    std::string joined;
    bool usage = false;
    for (size_t i = 0; i + 1 < payloads.size(); ++i) {
      const nlohmann::json chunk = nlohmann::json::parse(payloads[i]);
      if (chunk.contains("usage")) {
        usage = true;
        EXPECT_EQ(chunk["usage"]["completion_tokens"], 24);
        continue;
      }
      joined += chunk["choices"][0]["text"].get<std::string>();
    }
    EXPECT_TRUE(usage);
    EXPECT_EQ(joined, text);
  }
}

TEST(Serve, StopStringsCutExactlyStreamedOrNot) {
  SLKV_REQUIRE_SHARED();
  ServeProcess server("--model " + stories() + kServe);
  ASSERT_TRUE(server.ok()) << server.log();
  const std::string full = greedy_generate(kPrompts[0], 40);
  const std::string stop = full.substr(full.size() / 2, 5);
  const std::string expected = full.substr(0, full.find(stop));
  nlohmann::json request = completion(kPrompts[0], 40);
  request["stop"] = {stop};
  const auto reply = post(server.port(), "/v1/completions", request);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const nlohmann::json body = nlohmann::json::parse(reply.body);
  EXPECT_EQ(body["choices"][0]["text"], expected);
  EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
  request["stream"] = true;
  const auto stream = post(server.port(), "/v1/completions", request);
  std::string joined;
  for (const std::string& payload : testing::sse_payloads(stream.body))
    if (payload != "[DONE]") joined += nlohmann::json::parse(payload)["choices"][0].value("text", "");
  EXPECT_EQ(joined, expected);
}

TEST(Serve, ChatCompletionsAndASessionOverThreeTurns) {
  SLKV_REQUIRE_SHARED();
  ServeProcess server("--model " + stories() + kServe);
  ASSERT_TRUE(server.ok()) << server.log();
  nlohmann::json messages = nlohmann::json::array({{{"role", "user"}, {"content", "Once upon a time"}}});
  nlohmann::json request = {{"messages", messages}, {"max_tokens", 12}, {"temperature", 0}, {"session_id", "s1"}};
  std::vector<std::string> replies;
  for (int turn = 0; turn < 3; ++turn) {
    const auto reply = post(server.port(), "/v1/chat/completions", request);
    ASSERT_EQ(reply.status, 200) << reply.body;
    const nlohmann::json body = nlohmann::json::parse(reply.body);
    EXPECT_EQ(body["object"], "chat.completion");
    EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
    replies.push_back(body["choices"][0]["message"]["content"]);
    // Only the new message: the session holds the rest.
    request["messages"] = {{{"role", "user"}, {"content", kPrompts[turn + 1]}}};
    if (turn > 0) {
      EXPECT_GT(body["usage"]["prompt_tokens"].get<int64_t>(), 12);  // the history counts
    }
  }
  // Without a session the same first turn gives the same reply.
  const auto plain = post(server.port(), "/v1/chat/completions",
                          {{"messages", messages}, {"max_tokens", 12}, {"temperature", 0}});
  EXPECT_EQ(nlohmann::json::parse(plain.body)["choices"][0]["message"]["content"], replies[0]);
}

TEST(Serve, ASessionWithAStopStringHoldsTheReplyAsTheClientSawIt) {
  // The reply is cut before its stop string; a client that sends the whole
  // conversation back must match the session's history, not have it
  // appended a second time: the turn equals the same conversation sent
  // without a session, in reply and in prompt tokens.
  SLKV_REQUIRE_SHARED();
  ServeProcess server("--model " + stories() + kServe);
  ASSERT_TRUE(server.ok()) << server.log();
  nlohmann::json messages = nlohmann::json::array({{{"role", "user"}, {"content", "Hi"}}});
  const auto unstopped = post(server.port(), "/v1/chat/completions",
                              {{"messages", messages}, {"max_tokens", 16}, {"temperature", 0}});
  ASSERT_EQ(unstopped.status, 200) << unstopped.body;
  const std::string full = nlohmann::json::parse(unstopped.body)["choices"][0]["message"]["content"];
  ASSERT_GT(full.size(), 8u);
  const std::string stop = full.substr(full.size() / 2, 3);
  nlohmann::json first = {{"messages", messages}, {"max_tokens", 16}, {"temperature", 0}, {"session_id", "stop"},
                          {"stop", stop}};
  const auto reply = post(server.port(), "/v1/chat/completions", first);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const std::string content = nlohmann::json::parse(reply.body)["choices"][0]["message"]["content"];
  EXPECT_EQ(content, full.substr(0, full.find(stop)));
  messages.push_back({{"role", "assistant"}, {"content", content}});
  messages.push_back({{"role", "user"}, {"content", "Who are you?"}});
  const nlohmann::json second = {{"messages", messages}, {"max_tokens", 8}, {"temperature", 0}};
  nlohmann::json in_session = second;
  in_session["session_id"] = "stop";
  const auto with_session = post(server.port(), "/v1/chat/completions", in_session);
  const auto without = post(server.port(), "/v1/chat/completions", second);
  ASSERT_EQ(with_session.status, 200) << with_session.body;
  ASSERT_EQ(without.status, 200) << without.body;
  const nlohmann::json a = nlohmann::json::parse(with_session.body), b = nlohmann::json::parse(without.body);
  EXPECT_EQ(a["usage"]["prompt_tokens"], b["usage"]["prompt_tokens"]);
  EXPECT_EQ(a["choices"][0]["message"]["content"], b["choices"][0]["message"]["content"]);
}

TEST(Serve, LogprobTokensJoinIntoTheText) {
  // Each token as it reads inside the text (" there", not "there").
  SLKV_REQUIRE_SHARED();
  ServeProcess server("--model " + stories() + kServe);
  ASSERT_TRUE(server.ok()) << server.log();
  nlohmann::json request = completion(kPrompts[0], 16);
  request["logprobs"] = 5;
  const auto reply = post(server.port(), "/v1/completions", request);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const nlohmann::json choice = nlohmann::json::parse(reply.body)["choices"][0];
  std::string joined;
  for (const auto& token : choice["logprobs"]["tokens"]) joined += token.get<std::string>();
  EXPECT_EQ(joined, choice["text"]);
  const auto chat = post(server.port(), "/v1/chat/completions",
                         {{"messages", {{{"role", "user"}, {"content", "Hi"}}}},
                          {"max_tokens", 12},
                          {"temperature", 0},
                          {"logprobs", true}});
  ASSERT_EQ(chat.status, 200) << chat.body;
  const nlohmann::json chat_choice = nlohmann::json::parse(chat.body)["choices"][0];
  std::string bytes;
  for (const auto& entry : chat_choice["logprobs"]["content"])
    for (int byte : entry["bytes"]) bytes += static_cast<char>(byte);
  EXPECT_EQ(bytes, chat_choice["message"]["content"]);
}

TEST(Serve, EchoRepeatsThePromptStreamedOrNotAndForTokenIds) {
  SLKV_REQUIRE_SHARED();
  ServeProcess server("--model " + stories() + kServe);
  ASSERT_TRUE(server.ok()) << server.log();
  const std::string prompt = kPrompts[0];
  const std::string completion_text =
      nlohmann::json::parse(post(server.port(), "/v1/completions", completion(prompt, 8)).body)["choices"][0]["text"];
  nlohmann::json request = completion(prompt, 8);
  request["echo"] = true;
  const auto echoed = post(server.port(), "/v1/completions", request);
  ASSERT_EQ(echoed.status, 200) << echoed.body;
  EXPECT_EQ(nlohmann::json::parse(echoed.body)["choices"][0]["text"], prompt + completion_text);
  request["stream"] = true;
  const auto stream = post(server.port(), "/v1/completions", request);
  std::string joined;
  for (const std::string& payload : testing::sse_payloads(stream.body))
    if (payload != "[DONE]") joined += nlohmann::json::parse(payload)["choices"][0].value("text", "");
  EXPECT_EQ(joined, prompt + completion_text);
  // The same prompt as token ids (BOS first): echoed as its text.
  const auto ids = testing::run_slkv("tokenize --model " + stories(), false, prompt);
  ASSERT_EQ(ids.exit_code, 0);
  request = completion(prompt, 8);
  request["prompt"] = nlohmann::json::parse(ids.output);
  request["echo"] = true;
  const auto by_ids = post(server.port(), "/v1/completions", request);
  ASSERT_EQ(by_ids.status, 200) << by_ids.body;
  EXPECT_EQ(nlohmann::json::parse(by_ids.body)["choices"][0]["text"], prompt + completion_text);
}

TEST(Serve, DeeplyNestedBodiesAre400AndTheServerGoesOn) {
  SLKV_REQUIRE_SHARED();
  ServeProcess server("--model " + stories() + kServe);
  ASSERT_TRUE(server.ok()) << server.log();
  std::string deep;
  for (int i = 0; i < 200000; ++i) deep += '[';
  for (int i = 0; i < 200000; ++i) deep += ']';
  const std::string body = R"({"messages": [{"role": "user", "content": "hi", "x": )" + deep + R"(}], "max_tokens": 2})";
  const auto reply = testing::http(server.port(), "POST", "/v1/chat/completions", body);
  EXPECT_EQ(reply.status, 400) << reply.body.substr(0, 300);
  EXPECT_NE(reply.body.find("levels deep"), std::string::npos) << reply.body.substr(0, 300);
  const auto after = post(server.port(), "/v1/completions", completion(kPrompts[0], 2));
  EXPECT_EQ(after.status, 200) << "the server must still answer";
}

TEST(Serve, ResponseIdsDifferAcrossServerStarts) {
  SLKV_REQUIRE_SHARED();
  std::vector<std::string> ids;
  for (int start = 0; start < 2; ++start) {
    ServeProcess server("--model " + stories() + kServe);
    ASSERT_TRUE(server.ok()) << server.log();
    for (int request = 0; request < 2; ++request) {
      const auto reply = post(server.port(), "/v1/completions", completion(kPrompts[0], 2));
      ASSERT_EQ(reply.status, 200) << reply.body;
      ids.push_back(nlohmann::json::parse(reply.body)["id"]);
      EXPECT_EQ(ids.back().rfind("cmpl-", 0), 0u) << ids.back();
    }
  }
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "ids repeat";
}

TEST(Serve, ConcurrentRequestsEachGetTheirSequentialResult) {
  SLKV_REQUIRE_SHARED();
  ServeProcess server("--model " + stories() + kServe);
  ASSERT_TRUE(server.ok()) << server.log();
  const int n = 32;
  std::vector<std::string> sequential(n), concurrent(n);
  for (int i = 0; i < n; ++i) {
    const auto reply = post(server.port(), "/v1/completions", completion(kPrompts[i % 5], 8 + i % 7 * 4));
    sequential[i] = nlohmann::json::parse(reply.body)["choices"][0]["text"];
  }
  const int64_t steps_before = metric(server.port(), "slkv_engine_steps_total");
  const int64_t tokens_before = metric(server.port(), "slkv_generation_tokens_total");
  std::latch start(n);  // all clients post at once
  std::vector<std::thread> clients;
  for (int i = 0; i < n; ++i)
    clients.emplace_back([&, i] {
      start.arrive_and_wait();
      const auto reply = post(server.port(), "/v1/completions", completion(kPrompts[i % 5], 8 + i % 7 * 4));
      if (reply.status == 200) concurrent[i] = nlohmann::json::parse(reply.body)["choices"][0]["text"];
    });
  for (auto& client : clients) client.join();
  EXPECT_EQ(concurrent, sequential);
  // One at a time, every generated token would take an engine step of its
  // own. The step count can lag the replies by the last step, hence the 1.
  // (Polling slkv_requests_running instead missed the overlap on a loaded
  // machine.)
  const int64_t steps = metric(server.port(), "slkv_engine_steps_total") - steps_before;
  const int64_t tokens = metric(server.port(), "slkv_generation_tokens_total") - tokens_before;
  EXPECT_LT(steps + 1, tokens) << "the engine never ran two requests in one step";
}

TEST(Serve, EveryErrorHasItsStatusAndErrorObjectAndTheServerGoesOn) {
  SLKV_REQUIRE_SHARED();
  ServeProcess server("--model " + stories() + kServe + " --api-key secret --max-body-bytes 4000");
  ASSERT_TRUE(server.ok()) << server.log();
  const std::map<std::string, std::string> key = {{"Authorization", "Bearer secret"}};
  auto expect_error = [&](const testing::HttpReply& reply, int status) {
    EXPECT_EQ(reply.status, status) << reply.body;
    const nlohmann::json body = nlohmann::json::parse(reply.body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body.contains("error")) << reply.body;
    EXPECT_TRUE(body["error"].contains("message") && body["error"].contains("type") && body["error"].contains("param") &&
                body["error"].contains("code"));
  };
  expect_error(post(server.port(), "/v1/completions", completion("x", 4)), 401);
  expect_error(post(server.port(), "/v1/completions", completion("x", 4), {{"Authorization", "Bearer wrong"}}), 401);
  expect_error(testing::http(server.port(), "POST", "/v1/completions", "{bad json", key), 400);
  const auto typed = post(server.port(), "/v1/completions", {{"prompt", "x"}, {"max_tokens", "many"}}, key);
  expect_error(typed, 400);
  EXPECT_EQ(nlohmann::json::parse(typed.body)["error"]["param"], "max_tokens");
  expect_error(post(server.port(), "/v1/completions", completion("Once", 600), key), 400);  // beyond the 512 context
  expect_error(testing::http(server.port(), "POST", "/v1/completions", std::string(5000, ' '), key), 413);
  expect_error(testing::http(server.port(), "GET", "/v1/nothing", "", key), 404);
  const auto method = testing::http(server.port(), "GET", "/v1/completions", "", key);
  expect_error(method, 405);
  EXPECT_EQ(method.headers.at("Allow"), "POST");
  const auto good = post(server.port(), "/v1/completions", completion(kPrompts[0], 8), key);
  EXPECT_EQ(good.status, 200) << good.body;
  EXPECT_EQ(testing::http(server.port(), "GET", "/health").status, 200);  // no key needed
  const auto models = testing::http(server.port(), "GET", "/v1/models", "", key);
  EXPECT_EQ(nlohmann::json::parse(models.body)["data"][0]["id"], "stories260K");
  const auto metrics = testing::http(server.port(), "GET", "/metrics");
  EXPECT_EQ(metrics.headers.at("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
  EXPECT_NE(metrics.body.find("slkv_time_to_first_token_seconds_bucket"), std::string::npos);
}

TEST(Serve, AnOverloadedQueueAnswers429) {
  SLKV_REQUIRE_SHARED();
  ServeProcess server("--model " + stories() + kServe + " --max-batch 1 --max-queue 0");
  ASSERT_TRUE(server.ok()) << server.log();
  std::vector<int> statuses(6);
  std::vector<std::thread> clients;
  for (int i = 0; i < 6; ++i)
    clients.emplace_back([&, i] { statuses[i] = post(server.port(), "/v1/completions", completion(kPrompts[0], 200)).status; });
  for (auto& client : clients) client.join();
  EXPECT_NE(std::count(statuses.begin(), statuses.end(), 429), 0);
  EXPECT_NE(std::count(statuses.begin(), statuses.end(), 200), 0);
}

TEST(Serve, ADisconnectMidStreamCancelsTheRequestAndFreesItsBlocks) {
  SLKV_REQUIRE_SHARED();
  ServeProcess server("--model " + stories() + kServe);
  ASSERT_TRUE(server.ok()) << server.log();
  nlohmann::json request = completion(kPrompts[0], 400);
  request["stream"] = true;
  const std::string body = request.dump();
  const std::string bytes = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body;
  // stories260K may finish 400 tokens before the server's next write sees the
  // closed socket: a run that completed is no failure, so try a few times.
  bool freed = false, cancelled = false;
  for (int attempt = 0; attempt < 5 && !cancelled; ++attempt) {
    {
      boost::asio::io_context context;
      boost::asio::ip::tcp::socket socket(context);
      socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server.port())});
      boost::asio::write(socket, boost::asio::buffer(bytes));
      char buffer[512];
      socket.read_some(boost::asio::buffer(buffer));  // the stream has started
    }  // closed mid-stream
    freed = false;
    for (int i = 0; i < 200 && !freed; ++i) {
      freed = metric(server.port(), "slkv_kv_blocks_used") == 0 && metric(server.port(), "slkv_requests_running") == 0;
      if (!freed) usleep(50000);
    }
    cancelled = testing::http(server.port(), "GET", "/metrics").body.find("slkv_requests_total{status=\"cancelled\"}") !=
                std::string::npos;
  }
  EXPECT_TRUE(freed);
  EXPECT_TRUE(cancelled) << testing::http(server.port(), "GET", "/metrics").body;
}

// Requests of every kind of wrongness, generated from a fixed seed.
std::vector<std::string> malformed_requests(int count) {
  std::mt19937 rng(12345);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto http_post = [](const std::string& target, const std::string& body, const std::string& extra = "") {
    return "POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
  };
  const std::vector<std::string> fields = {"prompt", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop",
                                           "stream", "logprobs", "n", "messages", "stream_options", "session_id"};
  const std::vector<std::string> values = {"null", "true", "-1", "0", "1e999", "18446744073709551616", "-9223372036854775809",
                                           "\"\"", "\"x\"", "[]", "{}", "[[[]]]", "3.5", "\"\xff\xfe\"", "[1, \"a\"]",
                                           "{\"include_usage\": 3}", "[{\"role\": 1}]"};
  std::vector<std::string> out;
  while (static_cast<int>(out.size()) < count) {
    switch (pick(8)) {
      case 0: {  // broken HTTP
        const std::vector<std::string> broken = {"GARBAGE\r\n\r\n", "POST\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
                                                 "POST /v1/completions HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                                                 "POST /v1/completions HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                                                 "POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
                                                 std::string("\x00\x01\x02\x03", 4), "\r\n\r\n\r\n",
                                                 "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n"};
        out.push_back(broken[pick(static_cast<int>(broken.size()))]);
        break;
      }
      case 1: {  // a truncated body
        const std::string body = completion("Once", 4).dump();
        out.push_back("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size() + 50) +
                      "\r\n\r\n" + body);
        break;
      }
      case 2: {  // a field of the wrong type or out of range
        const std::string field = fields[pick(static_cast<int>(fields.size()))];
        const std::string value = values[pick(static_cast<int>(values.size()))];
        out.push_back(http_post(pick(2) ? "/v1/completions" : "/v1/chat/completions",
                                "{\"prompt\": \"Once\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 2, \"" +
                                    field + "\": " + value + "}"));
        break;
      }
      case 3: {  // deep nesting
        const int depth = 100 + pick(5000);
        out.push_back(http_post("/v1/completions", std::string(depth, '[') + std::string(depth, ']')));
        break;
      }
      case 4: {  // invalid UTF-8 in strings
        std::string junk;
        for (int i = 0; i < 8; ++i) junk += static_cast<char>(0x80 + pick(0x7f));
        out.push_back(http_post("/v1/completions", "{\"prompt\": \"" + junk + "\", \"max_tokens\": 2}"));
        break;
      }
      case 5: {  // random bytes as a body
        std::string junk;
        for (int i = 0, n = pick(300); i < n; ++i) junk += static_cast<char>(pick(256));
        out.push_back(http_post("/v1/chat/completions", junk));
        break;
      }
      case 6:  // huge numbers, too long a prompt
        out.push_back(http_post("/v1/completions", pick(2) ? "{\"prompt\": \"x\", \"max_tokens\": 99999999999999999999999}"
                                                           : "{\"prompt\": \"" + std::string(6000, 'a') + "\", \"max_tokens\": 2}"));
        break;
      default: {  // wrong methods and routes
        const std::vector<std::string> targets = {"/v1/completions", "/v1/models", "/metrics", "/nope", "/v1/chat/completions"};
        const std::vector<std::string> methods = {"PUT", "DELETE", "PATCH", "GET", "OPTIONS"};
        out.push_back(methods[pick(5)] + " " + targets[pick(5)] + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
      }
    }
  }
  return out;
}

TEST(Serve, AThousandMalformedRequestsAreAnsweredOrClosedAndTheServerStillServes) {
  SLKV_REQUIRE_SHARED();
  ServeProcess server("--model " + stories() + kServe + " --max-body-bytes 100000");
  ASSERT_TRUE(server.ok()) << server.log();
  const std::string expected = nlohmann::json::parse(post(server.port(), "/v1/completions", completion(kPrompts[1], 10)).body)
                                   ["choices"][0]["text"];
  int answered = 0;
  for (const std::string& bytes : malformed_requests(1000)) {
    std::string answer;
    ASSERT_TRUE(testing::raw_exchange(server.port(), bytes, &answer)) << "the server hung on: " << bytes.substr(0, 200);
    if (!answer.empty()) ++answered;
  }
  EXPECT_GT(answered, 900);
  const auto good = post(server.port(), "/v1/completions", completion(kPrompts[1], 10));
  ASSERT_EQ(good.status, 200) << server.log();
  EXPECT_EQ(nlohmann::json::parse(good.body)["choices"][0]["text"], expected);
}

TEST(Serve, SigtermLetsInFlightRequestsFinishAndExitsZero) {
  SLKV_REQUIRE_SHARED();
  auto server = std::make_unique<ServeProcess>("--model " + stories() + kServe);
  ASSERT_TRUE(server->ok()) << server->log();
  testing::HttpReply reply;
  std::thread client([&] { reply = post(server->port(), "/v1/completions", completion(kPrompts[0], 150)); });
  usleep(200000);
  EXPECT_EQ(server->terminate(), 0) << server->log();
  client.join();
  EXPECT_EQ(reply.status, 200);
}

TEST(Serve, UnderMpirunTensorParallelGivesTheSameAnswers) {
  SLKV_REQUIRE_SHARED();
  ServeProcess server("--model " + stories() + kServe + " --tp 2", 2);
  ASSERT_TRUE(server.ok()) << server.log();
  for (const char* prompt : {kPrompts[0], kPrompts[3]}) {
    const auto reply = post(server.port(), "/v1/completions", completion(prompt, 16));
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(nlohmann::json::parse(reply.body)["choices"][0]["text"], greedy_generate(prompt, 16)) << prompt;
  }
  // mpirun passes SIGTERM on to every rank: rank 0 shuts the job down (the
  // others ignore it) and every process exits; mpirun itself reports the
  // signal in its own exit status, which is OpenMPI's.
  EXPECT_NE(server.terminate(), -1) << "the job did not exit";
  EXPECT_NE(server.log().find("shutting down"), std::string::npos) << server.log();
}

}  // namespace
}  // namespace slkv
