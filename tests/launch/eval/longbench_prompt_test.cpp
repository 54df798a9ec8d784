// LongBench's prompt protocol: the pattern filled with a row's fields, the
// middle cut to exactly max_length ids, chat wrapping on the right tasks,
// and the length budget on small and large contexts.
#include "launch/eval/longbench_prompt.h"

#include <gtest/gtest.h>

#include <fstream>
#include <numeric>

#include "core/error.h"
#include "core/text_file.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

nlohmann::json first_row(const std::string& task) {
  std::ifstream in(testing::shared_dir() / "data" / "longbench" / (task + ".jsonl"));
  std::string line;
  std::getline(in, line);
  return nlohmann::json::parse(line);
}

nlohmann::json prompts() {
  return nlohmann::json::parse(read_text_file(testing::shared_dir() / "data" / "longbench" / "dataset2prompt.json"));
}

// The pattern with {context} and {input} replaced, by hand.
std::string by_hand(std::string pattern, const nlohmann::json& row) {
  for (const std::string field : {"context", "input"}) {
    const std::string key = "{" + field + "}";
    for (size_t at = pattern.find(key); at != std::string::npos; at = pattern.find(key, at + row[field].get<std::string>().size()))
      pattern.replace(at, key.size(), row[field].get<std::string>());
  }
  return pattern;
}

TEST(LongBenchPrompt, FillsThePatternAsTheTemplateAppliedByHand) {
  SLKV_REQUIRE_SHARED();
  for (const std::string task : {"multi_news", "multifieldqa_zh", "passage_retrieval_zh"}) {
    const nlohmann::json row = first_row(task);
    const std::string pattern = prompts()[task];
    EXPECT_EQ(format_longbench_prompt(pattern, row, task), by_hand(pattern, row)) << task;
  }
}

TEST(LongBenchPrompt, FormatHandlesBracesAndNamesAMissingField) {
  const nlohmann::json row = {{"context", "C"}, {"input", "I"}};
  EXPECT_EQ(format_longbench_prompt("{{x}} {context}/{input}", row, "t"), "{x} C/I");
  EXPECT_THROW(format_longbench_prompt("{question}", row, "t"), Error);
  EXPECT_THROW(format_longbench_prompt("a } b", row, "t"), Error);
  EXPECT_THROW(format_longbench_prompt("a { b", row, "t"), Error);
  try {
    format_longbench_prompt("{question}", row, "file.jsonl:3");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("file.jsonl:3"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("question"), std::string::npos);
  }
}

TEST(LongBenchPrompt, MiddleTruncationKeepsExactlyMaxLengthWithBothHalves) {
  std::vector<int32_t> ids(100);
  std::iota(ids.begin(), ids.end(), 0);
  const std::vector<int32_t> even = truncate_middle(ids, 10);
  EXPECT_EQ(even, (std::vector<int32_t>{0, 1, 2, 3, 4, 95, 96, 97, 98, 99}));
  const std::vector<int32_t> odd = truncate_middle(ids, 7);
  EXPECT_EQ(odd, (std::vector<int32_t>{0, 1, 2, 96, 97, 98, 99}));
  EXPECT_EQ(truncate_middle(ids, 100), ids);
  EXPECT_EQ(truncate_middle(ids, 500), ids);
}

TEST(LongBenchPrompt, ChatWrappingAppliesToExactlyTheRightTasks) {
  for (const std::string task : {"trec", "triviaqa", "samsum", "lsht", "lcc", "repobench-p", "trec_e", "lcc_e",
                                 "repobench-p_e", "samsum_e"})
    EXPECT_FALSE(longbench_uses_chat_template(task)) << task;
  for (const std::string task : {"narrativeqa", "qasper", "multifieldqa_en", "multifieldqa_zh", "hotpotqa", "2wikimqa",
                                 "musique", "dureader", "gov_report", "qmsum", "multi_news", "vcsum", "passage_count",
                                 "passage_retrieval_en", "passage_retrieval_zh", "hotpotqa_e", "multi_news_e"})
    EXPECT_TRUE(longbench_uses_chat_template(task)) << task;
  EXPECT_EQ(longbench_base_task("hotpotqa_e"), "hotpotqa");
  EXPECT_EQ(longbench_base_task("multi_news"), "multi_news");
}

TEST(LongBenchPrompt, BuiltIdsAreTheCutPromptRawOrWrapped) {
  SLKV_REQUIRE_SHARED();
  const Tokenizer tokenizer = Tokenizer::load(testing::stories_dir());
  const ChatTemplate chat = ChatTemplate::load(testing::stories_dir());
  const nlohmann::json row = first_row("multi_news");
  const std::string pattern = prompts()["multi_news"];
  const std::vector<int32_t> whole = tokenizer.encode(by_hand(pattern, row), true);
  ASSERT_GT(whole.size(), 400u);
  // A raw task (samsum's rule, multi_news's row): the cut ids themselves.
  const std::vector<int32_t> raw = build_longbench_prompt("samsum", pattern, row, "row", tokenizer, chat, 301);
  ASSERT_EQ(raw.size(), 301u);
  EXPECT_TRUE(std::equal(raw.begin(), raw.begin() + 150, whole.begin()));
  EXPECT_TRUE(std::equal(raw.begin() + 150, raw.end(), whole.end() - 151));
  // A chat task: the cut text rendered as one user message.
  const std::vector<int32_t> wrapped = build_longbench_prompt("multi_news", pattern, row, "row", tokenizer, chat, 301);
  const std::string text = tokenizer.decode(raw, /*skip_special_tokens=*/true);
  const std::string render =
      chat.render(nlohmann::json::array({{{"role", "user"}, {"content", text}}}), /*add_generation_prompt=*/true);
  EXPECT_EQ(wrapped, tokenizer.encode(render, false));
  EXPECT_NE(wrapped, raw);
}

TEST(LongBenchPrompt, LengthsFollowTheContext) {
  // A large model: the whole generation length, the rest for the prompt.
  LongBenchLengths large = longbench_lengths(32768, 512, std::nullopt, 10, "gov_report");
  EXPECT_EQ(large.max_new_tokens, 512);
  EXPECT_EQ(large.max_length, 32768 - 512 - 10);
  EXPECT_FALSE(large.generation_cut);
  // A 512-token model on a 512-token task: a quarter of the context.
  LongBenchLengths small = longbench_lengths(512, 512, std::nullopt, 6, "multi_news");
  EXPECT_TRUE(small.generation_cut);
  EXPECT_EQ(small.max_new_tokens, 128);
  EXPECT_EQ(small.max_length, 512 - 128 - 6);
  // Short tasks fit as they are.
  LongBenchLengths short_task = longbench_lengths(512, 32, std::nullopt, 6, "hotpotqa");
  EXPECT_FALSE(short_task.generation_cut);
  EXPECT_EQ(short_task.max_new_tokens, 32);
  EXPECT_EQ(short_task.max_length, 512 - 32 - 6);
  // --max-length: the generation cut to what is left; nothing left is an error.
  LongBenchLengths flag = longbench_lengths(512, 128, int64_t{450}, 6, "qasper");
  EXPECT_EQ(flag.max_length, 450);
  EXPECT_EQ(flag.max_new_tokens, 512 - 450 - 6);
  EXPECT_THROW(longbench_lengths(512, 128, int64_t{510}, 6, "qasper"), Error);
  EXPECT_THROW(longbench_lengths(512, 128, int64_t{0}, 6, "qasper"), Error);
}

}  // namespace
}  // namespace slkv
