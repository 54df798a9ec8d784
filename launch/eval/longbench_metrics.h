#pragma once
// LongBench (v1) scoring, reproducing its metrics.py and eval.py with
// Python's string semantics (str.lower, str.split, re's \d and \b on
// Unicode): the metric of each dataset, each metric, and one row's score.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace slkv::eval {

enum class LongBenchMetric { QaF1, QaF1Zh, Rouge, RougeZh, Classification, Retrieval, RetrievalZh, Count, CodeSim };

struct LongBenchTask {
  std::string dataset;           // as named, e.g. "qasper" or "qasper_e"
  std::string base;              // without LongBench-E's "_e"
  LongBenchMetric metric;        // eval.py's dataset2metric[base]
  bool first_line_only = false;  // trec, triviaqa, samsum, lsht: only the prediction's first line is scored
  bool length_buckets = false;   // a LongBench-E dataset ("<task>_e"): scored per length bucket
};

// LongBench's datasets in the order of its paper's tables.
const std::vector<std::string>& longbench_datasets();

// The task of `dataset` (a LongBench dataset, or one with "_e" appended).
// Throws slkv::Error naming an unknown dataset and listing the known ones.
LongBenchTask longbench_task(const std::string& dataset);

// jieba.cut(text, cut_all=False) as a list: how the Chinese metrics get words.
using CutWords = std::function<std::vector<std::string>(const std::string& text)>;

// Python's str.lower(): full lowercase mappings (İ -> i̇) and the final-sigma rule.
std::string python_lower(std::string_view text);

// normalize_answer: lower, drop string.punctuation, articles (\b(a|an|the)\b)
// become " ", then " ".join(s.split()).
std::string normalize_answer(std::string_view text);

// normalize_zh_answer: lower, drop string.punctuation and LongBench's Chinese
// punctuation, then "".join(s.split()).
std::string normalize_zh_answer(std::string_view text);

// prediction.lstrip('\n').split('\n')[0]
std::string first_line(std::string_view text);

// The metrics, as metrics.py defines them.
double f1_score(const std::vector<std::string>& prediction_tokens, const std::vector<std::string>& ground_truth_tokens);
double qa_f1_score(std::string_view prediction, std::string_view ground_truth);
double qa_f1_zh_score(const std::string& prediction, const std::string& ground_truth, const CutWords& cut);
double rouge_score(std::string_view prediction, std::string_view ground_truth);
double rouge_zh_score(const std::string& prediction, const std::string& ground_truth, const CutWords& cut);
double classification_score(std::string_view prediction, const std::string& ground_truth,
                            const std::vector<std::string>& all_classes);
double count_score(std::string_view prediction, std::string_view ground_truth);
// Throws slkv::Error when the answer holds no "Paragraph N" / "段落N" (eval.py dies on it).
double retrieval_score(std::string_view prediction, std::string_view ground_truth);
double retrieval_zh_score(std::string_view prediction, std::string_view ground_truth);
double code_sim_score(std::string_view prediction, std::string_view ground_truth);

// The texts a row's metric passes to jieba (none for the other metrics), so
// that a caller can segment a whole dataset in one batch before scoring.
std::vector<std::string> texts_to_segment(const LongBenchTask& task, std::string_view prediction,
                                          const std::vector<std::string>& answers);

// One row's score as eval.py computes it: the first-line rule, then the best
// metric value over the answers (0 when there are none).
double score_row(const LongBenchTask& task, std::string_view prediction, const std::vector<std::string>& answers,
                 const std::vector<std::string>& all_classes, const CutWords& cut);

}  // namespace slkv::eval
