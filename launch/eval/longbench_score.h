#pragma once
// Scoring a `slkv eval longbench` output directory as LongBench's eval.py
// does: every <dataset>.jsonl of predictions, per KV policy, into
// result.json files and a table in the LongBench paper's layout.
//
// Layout (launch/eval/eval_output.h): DIR/<dataset>.jsonl for one policy
// (named by DIR/run.json's "policies", else "default"), or
// DIR/<policy>/<dataset>.jsonl when several policies ran; run.json's
// "layout" ("flat" | "per-policy") decides when both kinds of files exist.
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace slkv::eval {

// One line of a prediction file.
struct PredictionRow {
  std::string where;  // FILE:LINE
  int64_t index = 0;
  std::string prediction;
  std::vector<std::string> answers;
  std::optional<std::vector<std::string>> all_classes;  // null in the file: nullopt
  int64_t length = 0;                                    // the prompt's length (LongBench-E buckets)
  double compression_ratio = 1.0;                        // kv.compression_ratio
};

// The rows of `path`, ordered by "index" (the order of LongBench's own
// prediction files, so sums add in its order). Throws slkv::Error naming
// FILE:LINE of bad JSON, a missing or mistyped field, or a repeated index.
std::vector<PredictionRow> read_prediction_rows(const std::filesystem::path& path);

// LongBench-E's length buckets: < 4000, < 8000, the rest.
inline constexpr std::array<const char*, 3> kLengthBuckets = {"0-4k", "4-8k", "8k+"};
size_t length_bucket(int64_t length);

// eval.py's scorer: round(100 * sum / n, 2), the sum taken in order, Python's
// correctly rounded round(). Throws slkv::InternalError when empty.
double longbench_mean_score(const std::vector<double>& row_scores);

// eval.py's scorer_e for one bucket: round(100 * np.mean(scores), 2) with
// numpy's pairwise sum and numpy's round (rint(x * 100) / 100); nullopt when
// the bucket is empty (eval.py gives NaN).
std::optional<double> longbench_bucket_score(const std::vector<double>& row_scores);

struct TaskScore {
  std::string dataset;
  size_t rows = 0;
  std::optional<double> score;                    // a LongBench dataset
  std::array<std::optional<double>, 3> buckets;  // a LongBench-E dataset, by kLengthBuckets
};

struct PolicyScore {
  std::string policy;
  std::filesystem::path dir;
  std::vector<TaskScore> tasks;  // LongBench's order; a dataset before its "_e"
  // The paper's "Avg": the mean of the LongBench (non-_e) datasets' scores.
  std::optional<double> average;
  // LongBench-E, per bucket: the mean over the _e datasets with rows in it.
  std::array<std::optional<double>, 3> e_average;
  double compression_ratio = 1.0;  // mean kv.compression_ratio over every row of the policy
  size_t rows = 0;
};

struct ScoreReport {
  std::filesystem::path out;
  bool per_policy = false;  // DIR/<policy>/ sub-directories
  std::vector<PolicyScore> policies;
};

struct PolicyDir {
  std::string policy;
  std::filesystem::path dir;
};

// The policies under `out` and where their prediction files are. Throws
// slkv::Error when `out` holds no prediction file, or both layouts without a
// run.json "layout" to choose.
std::vector<PolicyDir> find_policy_dirs(const std::filesystem::path& out, bool* per_policy = nullptr);

// Scores every prediction file under `out` (Chinese datasets are segmented
// by jieba in one Python run for all of them).
ScoreReport score_longbench_dir(const std::filesystem::path& out);

// {dataset: score}, a LongBench-E dataset as {"0-4k": x, "4-8k": y, "8k+": z}
// (null for an empty bucket): eval.py's result.json.
nlohmann::ordered_json policy_result_json(const PolicyScore& policy);

// Writes each policy's result.json into its directory and, for per-policy
// sub-directories, DIR/result.json as {policy: {dataset: score}}. Returns the
// files written.
std::vector<std::filesystem::path> write_longbench_results(const ScoreReport& report);

// The paper's table: a row per policy, the datasets in LongBench's order,
// "Avg", "CR"; then a LongBench-E table (a row per policy and bucket) when
// there are "_e" datasets.
std::string format_longbench_table(const ScoreReport& report);

}  // namespace slkv::eval
