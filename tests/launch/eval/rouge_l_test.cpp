// ROUGE-L F of the rouge package, on hand-computed cases.
#include "launch/eval/rouge_l.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace slkv::eval {
namespace {

using Words = std::vector<std::string>;

// The value rouge computes from the union size and distinct word counts.
double f_of(double llcs, double reference_words, double hypothesis_words) {
  const double r = llcs / reference_words, p = llcs / hypothesis_words;
  return 2.0 * ((p * r) / (p + r + 1e-8));
}

TEST(EvalRougeL, PythonWhitespaceSplit) {
  // U+3000 and U+001C split (str.isspace); U+200B (zero width space) does not.
  EXPECT_EQ(python_split(" a\u3000b\x1c" "c\u00a0d\u200b" "e  "), (Words{"a", "b", "c", "d\u200b" "e"}));
  EXPECT_EQ(python_split(" \t\n"), Words{});
}

TEST(EvalRougeL, SentencesSplitOnDotsKeepingBlankPieces) {
  EXPECT_EQ(rouge_sentences("Hello  world. foo\tbar."), (Words{"Hello world", "foo bar"}));
  // " " is a non-empty piece: it stays, as "".
  EXPECT_EQ(rouge_sentences("a. .b"), (Words{"a", "", "b"}));
  EXPECT_EQ(rouge_sentences(""), Words{});
  EXPECT_EQ(rouge_sentences("..."), Words{});
}

TEST(EvalRougeL, LcsReconstructionBreaksTiesToTheLeft) {
  // table[1][2] == table[2][1]: rouge steps left (j - 1) and finds "b", not "a".
  EXPECT_EQ(rouge_lcs_words({"a", "b"}, {"b", "a"}), Words{"b"});
  size_t calls = 0;
  EXPECT_EQ(rouge_lcs_words({"a", "b", "c", "d"}, {"a", "x", "c", "d"}, &calls), (Words{"a", "c", "d"}));
  // (4,4) d, (3,3) c, (2,2) left, (2,1) up, (1,1) a, then the terminal call at (0,0).
  EXPECT_EQ(calls, 6u);
}

TEST(EvalRougeL, NoSentenceIsAnErrorThatLongBenchScoresZero) {
  EXPECT_FALSE(rouge_l_f("", "reference").has_value());
  EXPECT_FALSE(rouge_l_f("hypothesis", "...").has_value());
  // A blank sentence is a sentence: its only word is "".
  EXPECT_EQ(rouge_l_f("  ", "a b").value(), 0.0);
}

TEST(EvalRougeL, UnionOfLcsWordsOverHypothesisSentences) {
  // The rouge docstring's example: r = w1..w5; c1 and c2 give LCS "w1 w2" and
  // "w1 w3 w5"; union {w1, w2, w3, w5}. 5 distinct reference words, 8 hypothesis ones.
  const auto f = rouge_l_f("w1 w2 w6 w7 w8. w1 w3 w8 w9 w5", "w1 w2 w3 w4 w5");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(*f, f_of(4, 5, 8));
}

TEST(EvalRougeL, WordsCountOnceAcrossSentencesAndRepeats) {
  // Distinct words only: hypothesis {the, cat}, reference {the, cat, sat}.
  EXPECT_EQ(rouge_l_f("the cat the cat", "the cat sat").value(), f_of(2, 3, 2));
  // Two reference sentences add {a, b} then {c}: llcs 3, not 2 + 2.
  EXPECT_EQ(rouge_l_f("a b c", "a b. a c").value(), f_of(3, 3, 3));
  EXPECT_EQ(rouge_l_f("same words here", "same words here").value(), f_of(3, 3, 3));
}

// The hypothesis "r0 h1 .. h(n-1)" against the reference "r0": rouge's
// recursive walk makes n + 1 calls.
std::string long_hypothesis(size_t n) {
  std::string text = "r0";
  for (size_t i = 1; i < n; ++i) text += " h" + std::to_string(i);
  return text;
}

TEST(EvalRougeL, DeepReconstructionRaisesLikePythonsRecursionLimit) {
  // Measured with CPython 3.11 under LongBench's eval.py: 990 words score, 991 give 0.
  EXPECT_TRUE(rouge_l_f(long_hypothesis(990), "r0", kRougeReconCallsEnglish).has_value());
  EXPECT_FALSE(rouge_l_f(long_hypothesis(991), "r0", kRougeReconCallsEnglish).has_value());
  EXPECT_TRUE(rouge_l_f(long_hypothesis(989), "r0", kRougeReconCallsChinese).has_value());
  EXPECT_FALSE(rouge_l_f(long_hypothesis(990), "r0", kRougeReconCallsChinese).has_value());
  EXPECT_TRUE(rouge_l_f(long_hypothesis(5000), "r0").has_value());  // no limit by default
}

}  // namespace
}  // namespace slkv::eval
