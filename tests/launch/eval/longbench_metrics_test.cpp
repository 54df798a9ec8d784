// LongBench's metrics on hand-computed cases: normalisation, each metric's
// quirks, the first-line rule and the best answer.
#include "launch/eval/longbench_metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "launch/eval/chinese_segmenter.h"

namespace slkv::eval {
namespace {

using Words = std::vector<std::string>;

// A stand-in for jieba: words are separated by '|'.
Words cut_on_bars(const std::string& text) {
  Words words;
  size_t start = 0;
  for (size_t bar = text.find('|'); bar != std::string::npos; bar = text.find('|', start)) {
    words.push_back(text.substr(start, bar - start));
    start = bar + 1;
  }
  words.push_back(text.substr(start));
  return words;
}

double f1_of(double same, double predicted, double truth) {
  const double precision = 1.0 * same / predicted, recall = 1.0 * same / truth;
  return (2 * precision * recall) / (precision + recall);
}

TEST(LongBenchMetrics, PythonLowerHandlesFinalSigmaAndDottedI) {
  EXPECT_EQ(python_lower("ΟΔΟΣ"), "οδο\u03c2");
  EXPECT_EQ(python_lower("Σ"), "σ");             // nothing cased before it
  EXPECT_EQ(python_lower("AΣ."), "aς.");         // '.' is case-ignorable
  EXPECT_EQ(python_lower("AΣ.B"), "aσ.b");       // a cased letter follows
  EXPECT_EQ(python_lower("A\u0301Σ"), "a\u0301ς");  // combining marks are skipped
  EXPECT_EQ(python_lower("İ"), "i\u0307");
  EXPECT_EQ(python_lower("ÀÉÎ Straße"), "àéî straße");
}

TEST(LongBenchMetrics, NormalizeAnswer) {
  EXPECT_EQ(normalize_answer("The Cat, and a DOG!"), "cat and dog");
  // "theory" holds "the" but no word boundary after it; "an" goes.
  EXPECT_EQ(normalize_answer("An apple's theory"), "apples theory");
  // '_' is punctuation (removed first), so "_a_" becomes the article "a".
  EXPECT_EQ(normalize_answer("_a_"), "");
  // Unicode letters and digits are word characters: no boundary inside "aé" or "a1".
  EXPECT_EQ(normalize_answer("aé a1 é a"), "aé a1 é");
  EXPECT_EQ(normalize_answer("Ünïcode\u00a0Text\u3000the\u2003end"), "ünïcode text end");
  EXPECT_EQ(normalize_answer("the the the"), "");
}

TEST(LongBenchMetrics, NormalizeZhAnswer) {
  EXPECT_EQ(normalize_zh_answer("你好，世界！ Hello World."), "你好世界helloworld");
  // LongBench's list has 》 but not 《.
  EXPECT_EQ(normalize_zh_answer("《书》"), "《书");
  EXPECT_EQ(normalize_zh_answer("“引号”…"), "引号");
}

TEST(LongBenchMetrics, QaF1) {
  EXPECT_EQ(qa_f1_score("The cat sat on the mat.", "a cat on a mat"), f1_of(3, 4, 3));
  // Counter intersection: y twice in common.
  EXPECT_EQ(qa_f1_score("x y y y", "y y z"), f1_of(2, 4, 3));
  EXPECT_EQ(qa_f1_score("", "answer"), 0.0);
  EXPECT_EQ(qa_f1_score("the", "the"), 0.0);  // both normalise to nothing
  EXPECT_EQ(qa_f1_score("PARIS!", "paris"), 1.0);
}

TEST(LongBenchMetrics, QaF1ZhDropsPunctuationWords) {
  EXPECT_EQ(qa_f1_zh_score("北京|是|首都|。", "北京|首都", cut_on_bars), f1_of(2, 3, 2));
  EXPECT_EQ(qa_f1_zh_score("，|。", "北京", cut_on_bars), 0.0);
}

TEST(LongBenchMetrics, RougeScoresAndZeroOnRougeErrors) {
  EXPECT_EQ(rouge_score("", "a reference"), 0.0);
  EXPECT_EQ(rouge_score("a b", "..."), 0.0);
  const double r = 1.0, p = 0.8;  // LCS 猫 在 垫子 上: 4 of 4 reference and 5 hypothesis words
  EXPECT_EQ(rouge_zh_score("猫|坐|在|垫子|上", "猫|在|垫子|上", cut_on_bars), 2.0 * ((p * r) / (p + r + 1e-8)));
}

TEST(LongBenchMetrics, ClassificationRemovesWhileIterating) {
  // All three classes occur in the prediction. Iterating, "abc" (inside the
  // answer) is removed, the iterator then skips "def" (moved into its slot),
  // so "def" stays: 1 / len(["def", "abc def"]).
  const Words classes{"abc", "def", "abc def"};
  EXPECT_EQ(classification_score("abc def", "abc def", classes), 0.5);
  EXPECT_EQ(classification_score("it is Weather", "Weather", {"Sports", "Weather"}), 1.0);
  EXPECT_EQ(classification_score("Sports or Weather", "Weather", {"Sports", "Weather"}), 0.5);
  EXPECT_EQ(classification_score("Sports", "Weather", {"Sports", "Weather"}), 0.0);
  EXPECT_EQ(classification_score("", "Weather", {"Sports", "Weather"}), 0.0);
}

TEST(LongBenchMetrics, RetrievalAndCountShareOfNumbers) {
  EXPECT_EQ(retrieval_score("Paragraph 3, or Paragraph 12; I say 3", "Paragraph 3"), 2.0 / 3.0);
  EXPECT_EQ(retrieval_score("no idea", "Paragraph 3"), 0.0);
  EXPECT_EQ(retrieval_score("Paragraph 30", "Paragraph 3"), 0.0);  // whole numbers compare
  EXPECT_EQ(retrieval_zh_score("答案是段落12，不是段落3", "段落12"), 0.5);
  EXPECT_THROW(retrieval_score("1", "the third paragraph"), Error);
  EXPECT_EQ(count_score("There are 7 unique paragraphs: 7", "7"), 1.0);
  EXPECT_EQ(count_score("3 4", "4"), 0.5);
  EXPECT_EQ(count_score("007", "7"), 0.0);
  EXPECT_EQ(count_score("none", "7"), 0.0);
  // Full-width digits are \d too: a number, but not "12".
  EXPECT_EQ(count_score("１２ and 12", "12"), 0.5);
}

TEST(LongBenchMetrics, CodeSimTakesTheFirstPlainLine) {
  EXPECT_EQ(code_sim_score("\n\n```python\n# set x\n    x = foo(1)\nmore", "    x = foo(1)"), 1.0);
  EXPECT_EQ(code_sim_score("// c\ny = 2;", "y = 3;"), 0.83);
  EXPECT_EQ(code_sim_score("# only\n// comments", "x"), 0.0);  // "" against "x"
  EXPECT_EQ(code_sim_score("a#b\nx", "x"), 1.0);
}

TEST(LongBenchMetrics, TaskTable) {
  const LongBenchTask qasper_e = longbench_task("qasper_e");
  EXPECT_EQ(qasper_e.base, "qasper");
  EXPECT_TRUE(qasper_e.length_buckets);
  EXPECT_EQ(qasper_e.metric, LongBenchMetric::QaF1);
  EXPECT_TRUE(longbench_task("trec_e").first_line_only);
  EXPECT_FALSE(longbench_task("lcc").first_line_only);
  EXPECT_EQ(longbench_task("vcsum").metric, LongBenchMetric::RougeZh);
  EXPECT_EQ(longbench_task("repobench-p").metric, LongBenchMetric::CodeSim);
  EXPECT_EQ(longbench_datasets().size(), 21u);
  try {
    longbench_task("squad");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'squad'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("narrativeqa"), std::string::npos);
  }
  EXPECT_THROW(longbench_task("_e"), Error);
}

TEST(LongBenchMetrics, RowScoreTakesTheBestAnswerAndTheFirstLine) {
  const CutWords no_cut = cut_on_bars;
  // Best over answers, whatever their order.
  const LongBenchTask qasper = longbench_task("qasper");
  EXPECT_EQ(score_row(qasper, "cat sat", {"cat", "the cat sat"}, {}, no_cut), 1.0);
  EXPECT_EQ(score_row(qasper, "cat sat", {"the cat sat", "cat"}, {}, no_cut), 1.0);
  EXPECT_EQ(score_row(qasper, "cat sat", {"cat", "dog"}, {}, no_cut), f1_of(1, 2, 1));
  EXPECT_EQ(score_row(qasper, "cat", {}, {}, no_cut), 0.0);
  // trec scores only the first line (after leading newlines).
  const Words classes{"Sports", "Weather"};
  EXPECT_EQ(score_row(longbench_task("trec"), "\nSports\nWeather", {"Weather"}, classes, no_cut), 0.0);
  EXPECT_EQ(score_row(longbench_task("lsht_e"), "\n\nWeather\nSports", {"Weather"}, classes, no_cut), 1.0);
  EXPECT_EQ(score_row(longbench_task("triviaqa"), "Paris\nLondon", {"London", "Paris"}, {}, no_cut), 1.0);
  // qasper keeps the whole prediction.
  EXPECT_EQ(score_row(qasper, "Paris\nLondon", {"London"}, {}, no_cut), f1_of(1, 2, 1));
}

TEST(LongBenchMetrics, TextsToSegmentAreThoseOfChineseMetrics) {
  EXPECT_EQ(texts_to_segment(longbench_task("dureader"), "预测", {"答案一", "答案二"}),
            (Words{"预测", "答案一", "答案二"}));
  EXPECT_TRUE(texts_to_segment(longbench_task("qasper"), "x", {"y"}).empty());
  EXPECT_TRUE(texts_to_segment(longbench_task("passage_retrieval_zh"), "x", {"段落1"}).empty());
}

TEST(LongBenchMetrics, JiebaSegmentation) {
  ChineseSegmenter segmenter;
  try {
    segmenter.prepare({"今天天气不错，我们去公园散步。", "北京是中国的首都。", ""});
  } catch (const Error& e) {
    if (std::string(e.what()).find("python3-jieba") != std::string::npos) GTEST_SKIP() << e.what();
    throw;
  }
  EXPECT_EQ(segmenter.cut("今天天气不错，我们去公园散步。"),
            (Words{"今天天气", "不错", "，", "我们", "去", "公园", "散步", "。"}));
  EXPECT_EQ(segmenter.cut("北京是中国的首都。"), (Words{"北京", "是", "中国", "的", "首都", "。"}));
  EXPECT_EQ(segmenter.cut(""), Words{});
  EXPECT_EQ(segmenter.cut("我们去公园"), (Words{"我们", "去", "公园"}));  // not prepared: its own run
  const CutWords cut = [&](const std::string& text) { return segmenter.cut(text); };
  // 我们/去/公园/散步 against 我们/去/公园.
  EXPECT_EQ(qa_f1_zh_score("我们去公园散步", "我们去公园", cut), f1_of(3, 4, 3));
}

TEST(LongBenchMetrics, MissingJiebaIsAClearError) {
  ChineseSegmenter segmenter("/nonexistent/python3", std::string(SLKV_SOURCE_DIR) + "/scripts/jieba_cut.py");
  try {
    segmenter.prepare({"北京"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("python3-jieba"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace slkv::eval
