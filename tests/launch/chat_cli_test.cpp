// slkv chat, render-chat and generate --prompt-ids through the binary:
// scripted sessions against from-scratch runs over the same token history,
// host-memory eviction, the same conversation under mpirun --tp 2 / --pp 2,
// and the errors a user can make.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/parallel/mpi_job.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

using testing::run_slkv;

std::string stories() { return testing::stories_dir().string(); }

// Writes a chat script (one JSON value per line) and returns its path.
std::string script_file(const std::string& name, const std::vector<nlohmann::json>& lines) {
  const std::filesystem::path path = testing::temp_path(name);
  std::ofstream out(path);
  for (const nlohmann::json& line : lines) out << line.dump() << "\n";
  return path.string();
}

// The three user turns of a stories260K conversation.
std::vector<nlohmann::json> three_turns(const std::string& session = "") {
  std::vector<nlohmann::json> turns;
  for (const char* text : {"Once upon a time, there was a little girl named Lily. She loved to play outside in the park.",
                           "Tom had a big red ball. He liked to throw it high in the sky.",
                           "One day, Sue went to the lake with her mom and saw a duck."}) {
    if (session.empty())
      turns.push_back(text);
    else
      turns.push_back({{"session", session}, {"role", "user"}, {"content", text}});
  }
  return turns;
}

// The history a reply was generated from: prompt_ids without the reply.
std::vector<int32_t> input_history(const nlohmann::json& reply) {
  std::vector<int32_t> ids = reply["prompt_ids"].get<std::vector<int32_t>>();
  ids.resize(ids.size() - reply["tokens"].size());
  return ids;
}

// `generate --prompt-ids` over `ids` with `flags`: the from-scratch reply.
std::vector<int32_t> from_scratch(const std::vector<int32_t>& ids, const std::string& flags) {
  const std::filesystem::path path = testing::temp_path("ids.json");
  std::ofstream(path) << nlohmann::json(ids).dump();
  const auto result = run_slkv("generate --model " + stories() + " --prompt-ids " + path.string() + " --json " + flags);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  return nlohmann::json::parse(result.output)["tokens"].get<std::vector<int32_t>>();
}

std::vector<nlohmann::json> json_lines(const std::string& output) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] == '{') lines.push_back(nlohmann::json::parse(line));
  return lines;
}

const std::string kGreedy = " --temperature 0 --max-new-tokens 20 --threads 1";
const std::string kLazy = " --sink 4 --recent 32 --obs-window 8 --lazy-threshold 0.9";

TEST(ChatCli, WithoutLazyLayersEveryReplyEqualsAFromScratchFullRun) {
  SLKV_REQUIRE_SHARED();
  const std::string script = script_file("chat_plain.jsonl", three_turns());
  const auto result = run_slkv("chat --model " + stories() + " --script " + script + kGreedy + " --lazy-threshold 1");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto replies = json_lines(result.output);
  ASSERT_EQ(replies.size(), 3u);
  for (size_t t = 0; t < replies.size(); ++t) {
    EXPECT_EQ(replies[t]["tokens"].get<std::vector<int32_t>>(),
              from_scratch(input_history(replies[t]), kGreedy + " --kv-policy full"))
        << "turn " << t + 1;
    EXPECT_EQ(replies[t]["offload"]["bytes_parked"], 0);
    EXPECT_FALSE(replies[t]["text"].get<std::string>().empty());
  }
  // Each turn extends the last one's history verbatim.
  const auto first = replies[0]["prompt_ids"].get<std::vector<int32_t>>();
  const auto second = input_history(replies[1]);
  ASSERT_GT(second.size(), first.size());
  EXPECT_TRUE(std::equal(first.begin(), first.end(), second.begin()));
}

TEST(ChatCli, LazyLayersParkAndTheNextTurnRestores) {
  SLKV_REQUIRE_SHARED();
  const std::string script = script_file("chat_lazy.jsonl", three_turns());
  const auto result = run_slkv("chat --model " + stories() + " --script " + script + kGreedy + kLazy);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto replies = json_lines(result.output);
  ASSERT_EQ(replies.size(), 3u);
  // Turn 1 is a plain run of its prompt.
  EXPECT_EQ(replies[0]["tokens"].get<std::vector<int32_t>>(), from_scratch(input_history(replies[0]), kGreedy + kLazy));
  const nlohmann::json& kv = replies[0]["kv"];
  EXPECT_EQ(replies[0]["offload"]["bytes_parked"], kv["kv_bytes_full"].get<int64_t>() - kv["kv_bytes"].get<int64_t>());
  if (replies[0]["offload"]["bytes_parked"] > 0)
    EXPECT_EQ(replies[1]["offload"]["bytes_restored"], replies[0]["offload"]["bytes_parked"]);
}

TEST(ChatCli, ASmallHostPoolEvictsSessionsThatAreThenRePrefilledFromTheirHistory) {
  SLKV_REQUIRE_SHARED();
  std::vector<nlohmann::json> lines;
  const auto a = three_turns("a"), b = three_turns("b");
  for (size_t t = 0; t < 2; ++t) {  // a and b take turns
    lines.push_back(a[t]);
    lines.push_back(b[t]);
  }
  const std::string script = script_file("chat_evict.jsonl", lines);
  const std::string flags = kGreedy + " --sink 4 --recent 16 --obs-window 8 --lazy-threshold 0.5";
  const auto result =
      run_slkv("chat --model " + stories() + " --script " + script + flags + " --offload-capacity 40KiB");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto replies = json_lines(result.output);
  ASSERT_EQ(replies.size(), 4u);
  int64_t reprefilled = 0;
  for (const nlohmann::json& reply : replies) {
    reprefilled += reply["offload"]["reprefilled_tokens"].get<int64_t>();
    // Re-prefilled or not, every reply is what a from-scratch run over its history gives
    // when it was re-prefilled; the evicted session shows it.
    if (reply["offload"]["reprefilled_tokens"].get<int64_t>() > 0)
      EXPECT_EQ(reply["tokens"].get<std::vector<int32_t>>(), from_scratch(input_history(reply), flags))
          << reply.dump();
  }
  EXPECT_GT(reprefilled, 0) << "a 40 KiB host pool should not hold both sessions' parked KV";
}

TEST(ChatCli, TheSameConversationUnderTensorAndPipelineParallelism) {
  SLKV_REQUIRE_SHARED();
  const std::string script = script_file("chat_dist.jsonl", three_turns());
  const std::string args = "--model " + stories() + " --script " + script + kGreedy + kLazy;
  const auto single = testing::run(0, args, "", "chat");
  ASSERT_EQ(single.exit_code, 0) << single.output;
  ASSERT_EQ(single.results.size(), 3u);
  for (const char* layout : {"--tp 2", "--pp 2"}) {
    const auto job = testing::run(2, args + " " + layout, "", "chat");
    ASSERT_EQ(job.exit_code, 0) << layout << "\n" << job.output;
    ASSERT_EQ(job.results.size(), 3u) << layout;
    for (size_t t = 0; t < 3; ++t) {
      EXPECT_EQ(job.results[t]["tokens"], single.results[t]["tokens"]) << layout << " turn " << t + 1;
      EXPECT_EQ(job.results[t]["kv"]["lazy_layers"], single.results[t]["kv"]["lazy_layers"]) << layout;
      for (const char* field : {"bytes_parked", "bytes_restored", "bytes_evicted", "host_bytes_held"})
        EXPECT_EQ(job.results[t]["offload"][field], single.results[t]["offload"][field]) << layout << " " << field;
    }
  }
}

TEST(ChatCli, ScriptErrorsNameTheFileAndLine) {
  SLKV_REQUIRE_SHARED();
  const std::filesystem::path path = testing::temp_path("bad_script.jsonl");
  std::ofstream(path) << "\"hello\"\n{\"role\": \"user\"\n";
  const auto result = run_slkv("chat --model " + stories() + " --script " + path.string(), true);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find(path.string() + ":2"), std::string::npos) << result.output;
  std::ofstream(path) << "42\n";
  const auto wrong = run_slkv("chat --model " + stories() + " --script " + path.string(), true);
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.output.find("expected a JSON string or an object"), std::string::npos) << wrong.output;
}

TEST(ChatCli, ATurnPastTheContextIsAnErrorNotACrash) {
  SLKV_REQUIRE_SHARED();
  std::string long_text;
  for (int i = 0; i < 80; ++i) long_text += "The cat sat on the mat. ";
  const std::string script = script_file("chat_long.jsonl", {long_text, long_text});
  const auto result = run_slkv("chat --model " + stories() + " --script " + script + kGreedy, true);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("context"), std::string::npos) << result.output;
}

TEST(RenderChatCli, PrintsTheGoldenRenderExactly) {
  SLKV_REQUIRE_SHARED();
  std::ifstream golden(testing::shared_dir() / "tokenizers" / "golden" / "chat_llama3.jsonl");
  std::string line;
  int checked = 0;
  while (std::getline(golden, line) && checked < 3) {
    const nlohmann::json row = nlohmann::json::parse(line);
    if (!row.contains("rendered")) continue;
    const std::string flag = row["add_generation_prompt"].get<bool>() ? " --add-generation-prompt" : "";
    const auto result = run_slkv("render-chat --model " + (testing::shared_dir() / "tokenizers" / "llama3").string() + flag,
                                 false, row["messages"].dump());
    ASSERT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.output, row["rendered"].get<std::string>());
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

TEST(RenderChatCli, ATemplateErrorGoesToStderrWithANonZeroExit) {
  SLKV_REQUIRE_SHARED();
  const std::string llama2 = (testing::shared_dir() / "tokenizers" / "llama2").string();
  const std::string messages = R"([{"role": "assistant", "content": "I start."}, {"role": "user", "content": "ok"}])";
  const auto quiet = run_slkv("render-chat --model " + llama2, false, messages);
  EXPECT_NE(quiet.exit_code, 0);
  EXPECT_EQ(quiet.output, "");  // nothing on stdout
  const auto loud = run_slkv("render-chat --model " + llama2, true, messages);
  EXPECT_NE(loud.output.find("Conversation roles must alternate"), std::string::npos) << loud.output;
  const auto bad = run_slkv("render-chat --model " + llama2, true, "{not json");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("not valid JSON"), std::string::npos) << bad.output;
}

TEST(RenderChatCli, KeysKeepTheInputsOrderAndDeepJsonIsRefused) {
  // transformers renders tool call arguments with `tojson` in the order the
  // caller wrote them; nlohmann::json alone would sort them.
  SLKV_REQUIRE_SHARED();
  const std::string qwen3 = (testing::shared_dir() / "tokenizers" / "qwen3").string();
  const std::string call = R"([{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": "", "tool_calls": )"
                           R"([{"type": "function", "function": {"name": "get_weather", "arguments": )"
                           R"({"unit": "celsius", "location": "Paris"}}}]}])";
  const auto rendered = run_slkv("render-chat --model " + qwen3, true, call);
  ASSERT_EQ(rendered.exit_code, 0) << rendered.output;
  EXPECT_NE(rendered.output.find(R"({"unit": "celsius", "location": "Paris"})"), std::string::npos) << rendered.output;
  std::string deep = R"([{"role": "user", "content": "hi", "x": )";
  for (int i = 0; i < 100000; ++i) deep += '[';
  for (int i = 0; i < 100000; ++i) deep += ']';
  deep += "}]";
  const auto refused = run_slkv("render-chat --model " + qwen3, true, deep);
  EXPECT_EQ(refused.exit_code, 1) << refused.output.substr(0, 300);
  EXPECT_NE(refused.output.find("levels deep"), std::string::npos) << refused.output.substr(0, 300);
  const std::filesystem::path script = testing::temp_path("deep_script.jsonl");
  std::ofstream(script) << deep.substr(1, deep.size() - 2) << "\n";
  const auto chat = run_slkv("chat --model " + stories() + " --script " + script.string(), true);
  EXPECT_EQ(chat.exit_code, 1) << chat.output.substr(0, 300);
  EXPECT_NE(chat.output.find("levels deep"), std::string::npos) << chat.output.substr(0, 300);
}

TEST(GenerateCli, PromptIdsAreCheckedAndNamed) {
  SLKV_REQUIRE_SHARED();
  const std::filesystem::path path = testing::temp_path("bad_ids.json");
  std::ofstream(path) << "[1, 403, \"x\"]";
  auto result = run_slkv("generate --model " + stories() + " --prompt-ids " + path.string(), true);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("element 2 is not a token id"), std::string::npos) << result.output;
  std::ofstream(path) << "[1, 99999]";
  result = run_slkv("generate --model " + stories() + " --prompt-ids " + path.string(), true);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("outside the vocabulary"), std::string::npos) << result.output;
  result = run_slkv("generate --model " + stories() + " --prompt-ids - --json --max-new-tokens 3 --temperature 0", false,
                    "[1, 403, 407]");
  ASSERT_EQ(result.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(result.output)["prompt_token_ids"], nlohmann::json({1, 403, 407}));
}

}  // namespace
}  // namespace slkv

namespace slkv {
namespace {

TEST(ChatCli, InteractiveTurnsStatsSaveAndReset) {
  SLKV_REQUIRE_SHARED();
  const std::filesystem::path saved = testing::temp_path("saved_chat.json");
  const std::string input = "Once upon a time\n/stats\n/save " + saved.string() + "\n/reset\n/stats\nTom had a ball\n/quit\n";
  const auto result = testing::run_slkv("chat --model " + testing::stories_dir().string() +
                                            " --temperature 0 --max-new-tokens 8 --threads 1",
                                        false, input);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // Two /stats objects: two messages (the turn and its reply), then none after /reset.
  const size_t first = result.output.find("\"messages\": 2");
  EXPECT_NE(first, std::string::npos) << result.output;
  EXPECT_NE(result.output.find("\"messages\": 0", first), std::string::npos) << result.output;
  std::ifstream file(saved);
  const nlohmann::json conversation = nlohmann::json::parse(file);
  ASSERT_EQ(conversation["messages"].size(), 2u);
  EXPECT_EQ(conversation["messages"][0]["content"], "Once upon a time");
  EXPECT_EQ(conversation["messages"][1]["role"], "assistant");
  EXPECT_FALSE(conversation["prompt_ids"].empty());
}

}  // namespace
}  // namespace slkv
