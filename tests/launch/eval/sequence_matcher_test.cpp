// difflib.SequenceMatcher and fuzz.ratio: hand-checked cases, then Python's
// difflib itself as the oracle on a few hundred random pairs.
#include "launch/eval/sequence_matcher.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "runtime/tokenizer/unicode_utf8.h"
#include "tests/test_support.h"

namespace slkv::eval {
namespace {

double ratio(const std::string& a, const std::string& b) {
  return SequenceMatcher(to_code_points(a), to_code_points(b)).ratio();
}

TEST(EvalSequenceMatcher, DifflibDocumentationExamples) {
  EXPECT_EQ(ratio("abcd", "bcde"), 0.75);
  const SequenceMatcher longest(to_code_points(" abcd"), to_code_points("abcd abcd"));
  const SequenceMatcher::Match m = longest.find_longest_match(0, 5, 0, 9);
  EXPECT_EQ(m.a, 0u);
  EXPECT_EQ(m.b, 4u);
  EXPECT_EQ(m.size, 5u);
  const std::vector<SequenceMatcher::Match> blocks =
      SequenceMatcher(to_code_points("abxcd"), to_code_points("abcd")).matching_blocks();
  ASSERT_EQ(blocks.size(), 3u);
  const size_t expected[3][3] = {{0, 0, 2}, {3, 2, 2}, {5, 4, 0}};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(blocks[i].a, expected[i][0]) << i;
    EXPECT_EQ(blocks[i].b, expected[i][1]) << i;
    EXPECT_EQ(blocks[i].size, expected[i][2]) << i;
  }
}

TEST(EvalSequenceMatcher, EmptyAndUnicode) {
  EXPECT_EQ(ratio("", ""), 1.0);
  EXPECT_EQ(ratio("abc", ""), 0.0);
  // Code points, not bytes: 日本 matches 2 of 3 + 2 characters.
  EXPECT_EQ(ratio("日本語", "日本"), 0.8);
  EXPECT_EQ(ratio("😀a", "a😀"), 0.5);
}

TEST(EvalSequenceMatcher, PopularElementsAreNotIndexedButStillExtendAMatch) {
  // 200 'a's: 'a' is popular (more than 1 + 200/100 times), so no match is
  // found through the index; difflib still extends the empty match at (0, 0).
  EXPECT_EQ(ratio("a", std::string(200, 'a')), 2.0 / 201.0);
  // With 199 elements autojunk is off: 'a' is indexed, one match either way.
  EXPECT_EQ(ratio("a", std::string(199, 'a')), 2.0 / 200.0);
  // A popular element in the middle of b: "xay" in b = "x" + 200 'a' + "y"
  // matches x then y (the walk from x extends over one 'a').
  EXPECT_EQ(ratio("xay", "x" + std::string(200, 'a') + "y"), 2.0 * 3 / 205.0);
}

TEST(EvalFuzzRatio, RulesAndRounding) {
  EXPECT_EQ(fuzz_ratio("", ""), 100);  // equal is checked before empty
  EXPECT_EQ(fuzz_ratio("same", "same"), 100);
  EXPECT_EQ(fuzz_ratio("", "a"), 0);
  EXPECT_EQ(fuzz_ratio("a", ""), 0);
  EXPECT_EQ(fuzz_ratio("abcd", "bcde"), 75);
  EXPECT_EQ(fuzz_ratio("y = 2;", "y = 3;"), 83);  // 83.33
  // Python's round: ties to even. 2*1/16 -> 12.5 -> 12; 2*3/16 -> 37.5 -> 38.
  EXPECT_EQ(fuzz_ratio("abcdefgh", "aijklmno"), 12);
  EXPECT_EQ(fuzz_ratio("abcdefgh", "abcijklm"), 38);
}

// Random strings that exercise difflib: tiny alphabets (many repeats), long
// strings (autojunk), non-ASCII and astral code points, and mutated copies.
std::string random_text(std::mt19937& rng, size_t length, int alphabet_kind) {
  static const std::vector<std::u32string> alphabets = {U"ab", U"abcdefghij ", U"aé日本😀 x", U"abc\n#/ "};
  const std::u32string& alphabet = alphabets[static_cast<size_t>(alphabet_kind)];
  std::string out;
  for (size_t i = 0; i < length; ++i) append_utf8(out, alphabet[rng() % alphabet.size()]);
  return out;
}

std::string mutate(std::mt19937& rng, const std::string& text, int alphabet_kind) {
  std::u32string cps = to_code_points(text);
  const std::u32string extra = to_code_points(random_text(rng, 1 + rng() % 8, alphabet_kind));
  if (!cps.empty()) cps.erase(rng() % cps.size(), rng() % 5);
  cps.insert(cps.empty() ? 0 : rng() % cps.size(), extra);
  std::string out;
  for (char32_t c : cps) append_utf8(out, c);
  return out;
}

TEST(EvalSequenceMatcher, AgreesWithPythonDifflib) {
  if (std::system("python3 -c 'import difflib' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 is needed for the difflib oracle";
  std::mt19937 rng(20240607);
  nlohmann::json pairs = nlohmann::json::array();
  for (int i = 0; i < 400; ++i) {
    const int kind = static_cast<int>(rng() % 4);
    const bool long_text = i % 3 == 0;
    const size_t length = long_text ? 200 + rng() % 250 : rng() % 30;
    const std::string a = random_text(rng, length, kind);
    const std::string b = i % 2 == 0 ? mutate(rng, a, kind) : random_text(rng, long_text ? 190 + rng() % 250 : rng() % 30, kind);
    pairs.push_back({a, b});
  }
  testing::ScratchDir dir("difflib_oracle");
  std::ofstream(dir.path() / "pairs.json", std::ios::binary) << pairs.dump();
  std::ofstream(dir.path() / "oracle.py") << "import difflib, json, sys\n"
                                             "pairs = json.load(open(sys.argv[1], encoding='utf-8'))\n"
                                             "out = []\n"
                                             "for a, b in pairs:\n"
                                             "    m = difflib.SequenceMatcher(None, a, b)\n"
                                             "    out.append({'ratio': m.ratio(), 'blocks': [list(x) for x in m.get_matching_blocks()]})\n"
                                             "json.dump(out, open(sys.argv[2], 'w'))\n";
  const std::string command = "python3 '" + (dir.path() / "oracle.py").string() + "' '" +
                              (dir.path() / "pairs.json").string() + "' '" + (dir.path() / "out.json").string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::ifstream in(dir.path() / "out.json");
  const nlohmann::json expected = nlohmann::json::parse(in);
  ASSERT_EQ(expected.size(), pairs.size());
  int mismatches = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const SequenceMatcher matcher(to_code_points(pairs[i][0].get<std::string>()),
                                  to_code_points(pairs[i][1].get<std::string>()));
    nlohmann::json blocks = nlohmann::json::array();
    for (const SequenceMatcher::Match& m : matcher.matching_blocks()) blocks.push_back({m.a, m.b, m.size});
    const bool same = matcher.ratio() == expected[i]["ratio"].get<double>() && blocks == expected[i]["blocks"];
    if (!same && ++mismatches <= 3)
      ADD_FAILURE() << "pair " << i << ": " << pairs[i].dump() << "\n ours " << matcher.ratio() << " " << blocks.dump()
                    << "\n difflib " << expected[i].dump();
  }
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace slkv::eval
