// slkv eval needle: the original's needle insertion (depth, sentence ends),
// prompts of exactly the requested length, the word-recall score, and the
// command through the binary on stories260K (files, heat maps, resume,
// refusals).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/text_file.h"
#include "launch/eval/needle_haystack.h"
#include "tests/parallel/mpi_job.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

using testing::run_slkv;

std::string stories() { return testing::stories_dir().string(); }
std::filesystem::path essays() { return testing::shared_dir() / "data" / "paul-graham-essays"; }

std::filesystem::path fresh_dir(const std::string& name) {
  const std::filesystem::path dir = testing::temp_path(name);
  std::filesystem::remove_all(dir);
  return dir;
}

std::vector<nlohmann::json> file_lines(const std::filesystem::path& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// Where `needle` starts in `ids` (ids.size() when absent).
size_t find_needle(const std::vector<int32_t>& ids, const std::vector<int32_t>& needle) {
  return static_cast<size_t>(std::search(ids.begin(), ids.end(), needle.begin(), needle.end()) - ids.begin());
}

// 99 ends a sentence: [1 2 . 3 4 5 . 6 7 8].
const std::vector<int32_t> kContext = {1, 2, 99, 3, 4, 5, 99, 6, 7, 8};
const std::vector<int32_t> kNeedle = {50, 51};
const std::vector<int32_t> kEnds = {99};

TEST(NeedleInsertion, DepthZeroPutsTheNeedleFirst) {
  const auto ids = insert_needle(kContext, kNeedle, 0, kEnds);
  EXPECT_EQ(ids, (std::vector<int32_t>{50, 51, 1, 2, 99, 3, 4, 5, 99, 6, 7, 8}));
}

TEST(NeedleInsertion, MiddleDepthsMoveBackToTheLastSentenceEnd) {
  // 50%: point 5 -> back past 5 and 4 and 3 to just after the first '.'.
  EXPECT_EQ(insert_needle(kContext, kNeedle, 50, kEnds), (std::vector<int32_t>{1, 2, 99, 50, 51, 3, 4, 5, 99, 6, 7, 8}));
  // 90%: point 9 -> just after the second '.'.
  EXPECT_EQ(insert_needle(kContext, kNeedle, 90, kEnds), (std::vector<int32_t>{1, 2, 99, 3, 4, 5, 99, 50, 51, 6, 7, 8}));
  // 20%: point 2 -> nothing ends a sentence before it: the start.
  EXPECT_EQ(insert_needle(kContext, kNeedle, 20, kEnds), (std::vector<int32_t>{50, 51, 1, 2, 99, 3, 4, 5, 99, 6, 7, 8}));
}

TEST(NeedleInsertion, DepthHundredAppendsTheNeedle) {
  EXPECT_EQ(insert_needle(kContext, kNeedle, 100, kEnds), (std::vector<int32_t>{1, 2, 99, 3, 4, 5, 99, 6, 7, 8, 50, 51}));
}

TEST(NeedleInsertion, RealHaystackNeedleFollowsTheNearestSentenceEnd) {
  SLKV_REQUIRE_SHARED();
  const Tokenizer tokenizer = Tokenizer::load(testing::stories_dir());
  const std::vector<int32_t> ends = sentence_end_ids(tokenizer);
  ASSERT_FALSE(ends.empty());
  const std::vector<int32_t> period = tokenizer.encode(".", false);
  EXPECT_NE(std::find(ends.begin(), ends.end(), period.back()), ends.end()) << "the id of '.' ends a sentence";
  const std::vector<int32_t> haystack = haystack_tokens(haystack_files(essays()), tokenizer, 400);
  ASSERT_GE(haystack.size(), 400u);
  const std::vector<int32_t> context(haystack.begin(), haystack.begin() + 400);
  const std::vector<int32_t> needle = tokenizer.encode(kNeedleText, false);
  auto is_end = [&](int32_t id) { return std::find(ends.begin(), ends.end(), id) != ends.end(); };
  for (double depth : {25.0, 50.0, 75.0}) {
    const auto ids = insert_needle(context, needle, depth, ends);
    ASSERT_EQ(ids.size(), context.size() + needle.size());
    const size_t at = find_needle(ids, needle);
    const auto point = static_cast<size_t>(400 * depth / 100);
    ASSERT_GT(at, 0u) << depth;
    ASSERT_LE(at, point) << depth;
    EXPECT_TRUE(is_end(ids[at - 1])) << "depth " << depth << ": after '" << tokenizer.decode(std::vector{ids[at - 1]}) << "'";
    EXPECT_TRUE(tokenizer.decode(std::vector{ids[at - 1]}).ends_with('.'));
    for (size_t i = at; i < point; ++i) EXPECT_FALSE(is_end(context[i])) << "a nearer sentence end at " << i;
    // The context around it is unchanged.
    EXPECT_TRUE(std::equal(context.begin(), context.begin() + static_cast<std::ptrdiff_t>(at), ids.begin()));
    EXPECT_TRUE(std::equal(context.begin() + static_cast<std::ptrdiff_t>(at), context.end(),
                           ids.begin() + static_cast<std::ptrdiff_t>(at + needle.size())));
  }
}

TEST(NeedlePrompts, HaveExactlyTheRequestedTokenCount) {
  SLKV_REQUIRE_SHARED();
  const Tokenizer tokenizer = Tokenizer::load(testing::stories_dir());
  const ChatTemplate chat_template = ChatTemplate::load(testing::stories_dir());
  const NeedlePrompts prompts(tokenizer, chat_template, kNeedleText, kNeedleQuestion);
  const std::vector<int32_t> haystack = haystack_tokens(haystack_files(essays()), tokenizer, 480);
  const std::vector<int32_t> needle = tokenizer.encode(kNeedleText, false);
  for (int64_t length : {256, 300, 384, 480})
    for (double depth : {0.0, 50.0, 100.0}) {
      const std::vector<int32_t> ids = prompts.build(haystack, length, depth);
      EXPECT_EQ(static_cast<int64_t>(ids.size()), length) << "depth " << depth;
      const std::string text = tokenizer.decode(ids, /*skip_special_tokens=*/true);
      EXPECT_NE(text.find("San Francisco is eat a sandwich"), std::string::npos);
      EXPECT_TRUE(text.starts_with("system: You are a helpful AI bot")) << text.substr(0, 60);
      EXPECT_TRUE(text.ends_with("What is the best thing to do in San Francisco? Don't give information outside the "
                                 "document or repeat your findings\nassistant: "))
          << text.substr(text.size() - 120);
    }
  // The fixed part alone leaves no room for 128 tokens.
  EXPECT_GT(prompts.fixed_tokens(), 128);
  EXPECT_THROW(prompts.build(haystack, 128, 50), Error);
}

TEST(NeedleHaystack, ContextIsTheHaystacksFirstTokens) {
  SLKV_REQUIRE_SHARED();
  const Tokenizer tokenizer = Tokenizer::load(testing::stories_dir());
  const auto files = haystack_files(essays());
  EXPECT_TRUE(std::is_sorted(files.begin(), files.end()));
  for (const auto& file : files) EXPECT_FALSE(file.filename().string().starts_with("LICENSE"));
  const std::vector<int32_t> haystack = haystack_tokens(files, tokenizer, 300);
  const std::vector<int32_t> first = tokenizer.encode(read_text_file(files.front()), false);
  const size_t n = std::min<size_t>(300, first.size());
  EXPECT_TRUE(std::equal(first.begin(), first.begin() + static_cast<std::ptrdiff_t>(n), haystack.begin()));
  EXPECT_THROW(haystack_files(testing::temp_path("no_such_haystack")), Error);
}

TEST(NeedleScore, IsTheAnswersWordRecall) {
  EXPECT_DOUBLE_EQ(needle_score(kNeedleAnswer, kNeedleAnswer), 100.0);
  EXPECT_DOUBLE_EQ(needle_score("Eat a SANDWICH! And sit in Dolores Park, on a sunny day.", kNeedleAnswer), 100.0);
  // eat, a, sandwich and the answer's second "a": 4 of its 12 words.
  EXPECT_NEAR(needle_score("You should eat a sandwich.", kNeedleAnswer), 100.0 * 4 / 12, 1e-9);
  EXPECT_DOUBLE_EQ(needle_score("", kNeedleAnswer), 0.0);
  EXPECT_DOUBLE_EQ(needle_score("I cannot tell.", kNeedleAnswer), 0.0);
  EXPECT_DOUBLE_EQ(needle_score("anything", "?!"), 0.0);  // no answer word
  EXPECT_EQ(score_words("Dolores Park's, sunny-day!"), (std::vector<std::string>{"dolores", "parks", "sunnyday"}));
}

TEST(NeedleDefaults, LengthsSpanTheContextLeftForGeneration) {
  // A 4096-token model: 1/8 of 4064 up to 4064, evenly.
  EXPECT_EQ(default_needle_lengths(4096, 32, 150),
            (std::vector<int64_t>{508, 1016, 1524, 2032, 2540, 3048, 3556, 4064}));
  // stories260K: the fixed part (205 tokens) is past 480 / 8, so the grid starts past it.
  const auto small = default_needle_lengths(512, 32, 205);
  ASSERT_EQ(small.size(), 8u);
  EXPECT_GT(small.front(), 205);
  EXPECT_EQ(small.back(), 480);
  EXPECT_EQ(default_needle_depths(), (std::vector<double>{0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100}));
}

const std::string kSmall = " --threads 1 --sink 4 --recent 32";

TEST(NeedleCli, WritesCellsGridAndHeatMapsPerPolicyAndResumes) {
  SLKV_REQUIRE_SHARED();
  const std::filesystem::path out = fresh_dir("needle_cli");
  // stories260K's template, system message, question and needle take about
  // 205 tokens: 256 and 384 are the small grid its 512-token context allows.
  const std::string command = "eval needle --model " + stories() + " --haystack " + essays().string() +
                              " --lengths 256,384 --depths 0,50,100 --kv-policy full,simlayerkv --out " +
                              out.string() + kSmall;
  const auto run = run_slkv(command, /*merge_stderr=*/true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("needle [full]: mean score"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("depth% \\ length    256    384"), std::string::npos) << run.output;
  const nlohmann::json grid = nlohmann::json::parse(read_text_file(out / "needle_grid.json"));
  for (const std::string policy : {"full", "simlayerkv"}) {
    const auto lines = file_lines(out / policy / "needle.jsonl");
    ASSERT_EQ(lines.size(), 6u) << policy;
    for (size_t i = 0; i < lines.size(); ++i) {
      EXPECT_EQ(lines[i]["index"], i);
      EXPECT_EQ(lines[i]["length"], i < 3 ? 256 : 384);
      EXPECT_EQ(lines[i]["prompt_tokens"], lines[i]["length"]);
      EXPECT_EQ(lines[i]["depth"].get<double>(), std::vector<double>({0, 50, 100})[i % 3]);
      EXPECT_TRUE(lines[i]["pred"].is_string());
      EXPECT_DOUBLE_EQ(lines[i]["score"].get<double>(),
                       needle_score(lines[i]["pred"].get<std::string>(), kNeedleAnswer));
      EXPECT_EQ(lines[i]["kv"]["policy"], policy);
    }
    const nlohmann::json& g = grid.at(policy);
    EXPECT_EQ(g["lengths"], nlohmann::json({256, 384}));
    EXPECT_EQ(g["depths"], nlohmann::json({0.0, 50.0, 100.0}));
    ASSERT_EQ(g["scores"].size(), 2u);
    EXPECT_EQ(g["scores"][1][2], lines[5]["score"]);
    EXPECT_TRUE(g["mean"].is_number());
    EXPECT_GE(g["compression_ratio"].get<double>(), 1.0);
    const std::string png = read_text_file(out / policy / ("needle_" + policy + ".png"));
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << policy;
  }
  EXPECT_GT(grid["simlayerkv"]["compression_ratio"].get<double>(), 1.0);
  // A second run finds every cell done: nothing more in the files.
  const auto again = run_slkv(command, /*merge_stderr=*/true);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(file_lines(out / "full" / "needle.jsonl").size(), 6u);
  EXPECT_EQ(nlohmann::json::parse(read_text_file(out / "needle_grid.json")), grid);
}

TEST(NeedleCli, RefusesBadGridsAndMissingHaystacks) {
  SLKV_REQUIRE_SHARED();
  const std::string base = "eval needle --model " + stories() + " --out " + fresh_dir("needle_bad").string() + kSmall;
  const std::string haystack = " --haystack " + essays().string();
  auto depth = run_slkv(base + haystack + " --depths 0,120", true);
  EXPECT_EQ(depth.exit_code, 1);
  EXPECT_NE(depth.output.find("--depths: 120"), std::string::npos) << depth.output;
  EXPECT_NE(depth.output.find("outside 0..100"), std::string::npos) << depth.output;
  auto missing = run_slkv(base + " --haystack " + testing::temp_path("no_essays_here").string(), true);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("no_essays_here is not a directory"), std::string::npos) << missing.output;
  auto past = run_slkv(base + haystack + " --lengths 256,512", true);
  EXPECT_EQ(past.exit_code, 1);
  EXPECT_NE(past.output.find("512 tokens is at or past the model's context (512 tokens"), std::string::npos)
      << past.output;
  auto short_length = run_slkv(base + haystack + " --lengths 128", true);
  EXPECT_EQ(short_length.exit_code, 1);
  EXPECT_NE(short_length.output.find("needle length 128 leaves no room for the haystack"), std::string::npos)
      << short_length.output;
}

}  // namespace
}  // namespace slkv
