#include "launch/eval/longbench_score.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "core/error.h"
#include "core/text_file.h"
#include "launch/cli_common.h"
#include "launch/eval/chinese_segmenter.h"
#include "launch/eval/longbench_metrics.h"

namespace slkv::eval {

namespace fs = std::filesystem;

namespace {

const nlohmann::json& field(const JsonLine& line, const char* name) {
  auto found = line.value.find(name);
  if (found == line.value.end()) throw Error(line.where + ": field \"" + name + "\" is missing");
  return *found;
}

[[noreturn]] void bad_field(const JsonLine& line, const std::string& name, const std::string& expected,
                            const nlohmann::json& value) {
  throw Error(line.where + ": field \"" + name + "\" should be " + expected + ", got " + value.dump());
}

std::vector<std::string> string_list(const JsonLine& line, const char* name, const nlohmann::json& value) {
  if (!value.is_array()) bad_field(line, name, "a list of strings", value);
  std::vector<std::string> out;
  for (const nlohmann::json& item : value) {
    if (!item.is_string()) bad_field(line, name, "a list of strings", value);
    out.push_back(item.get<std::string>());
  }
  return out;
}

// Python's round(x, 2) of a float: the decimal nearest to the exact binary
// value, ties to even, which is what glibc's printf computes.
double python_round2(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.2f", value);
  return std::strtod(text, nullptr);
}

// numpy's pairwise summation of float64 (pairwise_sum in loops_utils.h):
// a plain loop under 8 elements, 8 interleaved accumulators up to 128, halves above.
double numpy_pairwise_sum(const double* a, size_t n) {
  if (n < 8) {
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) sum += a[i];
    return sum;
  }
  if (n <= 128) {
    double r[8];
    for (size_t k = 0; k < 8; ++k) r[k] = a[k];
    size_t i = 8;
    for (; i < n - n % 8; i += 8)
      for (size_t k = 0; k < 8; ++k) r[k] += a[i + k];
    double sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) sum += a[i];
    return sum;
  }
  size_t half = n / 2;
  half -= half % 8;
  return numpy_pairwise_sum(a, half) + numpy_pairwise_sum(a + half, n - half);
}

std::optional<double> mean_of(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  double sum = 0.0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

std::vector<fs::path> jsonl_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".jsonl") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// DIR/run.json's "policies" and "layout", when the file exists.
struct RunFile {
  std::vector<std::string> policies;
  std::string layout;
};

std::optional<RunFile> read_run_file(const fs::path& out) {
  const fs::path path = out / "run.json";
  if (!fs::exists(path)) return std::nullopt;
  const nlohmann::json value = nlohmann::json::parse(read_text_file(path), nullptr, /*allow_exceptions=*/false);
  if (!value.is_object()) throw Error(path.string() + ": not a JSON object");
  RunFile run;
  if (auto policies = value.find("policies"); policies != value.end()) {
    if (!policies->is_array()) throw Error(path.string() + ": field \"policies\" should be a list of names");
    for (const nlohmann::json& name : *policies) {
      if (!name.is_string()) throw Error(path.string() + ": field \"policies\" should be a list of names");
      run.policies.push_back(name.get<std::string>());
    }
  }
  if (auto layout = value.find("layout"); layout != value.end()) {
    if (!layout->is_string() || (*layout != "flat" && *layout != "per-policy"))
      throw Error(path.string() + ": field \"layout\" should be \"flat\" or \"per-policy\", got " + layout->dump());
    run.layout = layout->get<std::string>();
  }
  return run;
}

// A dataset's position in LongBench's order (its "_e" right after it).
size_t task_rank(const LongBenchTask& task) {
  const std::vector<std::string>& order = longbench_datasets();
  const size_t base = static_cast<size_t>(std::find(order.begin(), order.end(), task.base) - order.begin());
  return 2 * base + (task.length_buckets ? 1 : 0);
}

struct LoadedFile {
  fs::path path;
  LongBenchTask task;
  std::vector<PredictionRow> rows;
  std::vector<std::string> all_classes;  // eval.py keeps the last row's for the whole file
};

LoadedFile load_file(const fs::path& path) {
  LoadedFile file;
  file.path = path;
  try {
    file.task = longbench_task(path.stem().string());
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  file.rows = read_prediction_rows(path);
  if (file.rows.empty()) throw Error(path.string() + ": holds no predictions");
  const PredictionRow& last = file.rows.back();
  if (last.all_classes) {
    file.all_classes = *last.all_classes;
  } else if (file.task.metric == LongBenchMetric::Classification) {
    throw Error(last.where + ": field \"all_classes\" is null, but " + file.task.dataset +
                " is scored against its classes");
  }
  return file;
}

TaskScore score_file(const LoadedFile& file, const CutWords& cut) {
  TaskScore score;
  score.dataset = file.task.dataset;
  score.rows = file.rows.size();
  std::vector<double> all;
  std::array<std::vector<double>, 3> buckets;
  for (const PredictionRow& row : file.rows) {
    const double value = score_row(file.task, row.prediction, row.answers, file.all_classes, cut);
    all.push_back(value);
    buckets[length_bucket(row.length)].push_back(value);
  }
  if (file.task.length_buckets) {
    for (size_t b = 0; b < buckets.size(); ++b) score.buckets[b] = longbench_bucket_score(buckets[b]);
  } else {
    score.score = longbench_mean_score(all);
  }
  return score;
}

std::string format_number(const std::optional<double>& value) {
  if (!value) return "-";
  char text[64];
  std::snprintf(text, sizeof text, "%.2f", *value);
  return text;
}

// Columns padded to their widest cell: the first left-aligned, the rest right-aligned.
std::string format_columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) {
      if (widths.size() <= c) widths.push_back(0);
      widths[c] = std::max(widths[c], row[c].size());
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(widths[c] - row[c].size(), ' ');
      if (c > 0) line += "  ";
      line += c == 0 ? row[c] + pad : pad + row[c];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

void write_json(const fs::path& path, const nlohmann::ordered_json& value) {
  std::ofstream out(path, std::ios::binary);
  out << value.dump(4) << "\n";
  if (!out) throw Error("cannot write " + path.string());
}

}  // namespace

std::vector<PredictionRow> read_prediction_rows(const fs::path& path) {
  std::vector<PredictionRow> rows;
  std::map<int64_t, std::string> seen;  // index -> where
  for (const JsonLine& line : read_json_lines(path)) {
    if (!line.value.is_object()) throw Error(line.where + ": expected a JSON object, got " + line.value.dump());
    PredictionRow row;
    row.where = line.where;
    const nlohmann::json& index = field(line, "index");
    if (!index.is_number_integer()) bad_field(line, "index", "an integer", index);
    row.index = index.get<int64_t>();
    if (auto [at, fresh] = seen.emplace(row.index, line.where); !fresh)
      throw Error(line.where + ": index " + std::to_string(row.index) + " already at " + at->second);
    const nlohmann::json& pred = field(line, "pred");
    if (!pred.is_string()) bad_field(line, "pred", "a string", pred);
    row.prediction = pred.get<std::string>();
    row.answers = string_list(line, "answers", field(line, "answers"));
    const nlohmann::json& classes = field(line, "all_classes");
    if (!classes.is_null()) row.all_classes = string_list(line, "all_classes", classes);
    const nlohmann::json& length = field(line, "length");
    if (!length.is_number_integer()) bad_field(line, "length", "an integer", length);
    row.length = length.get<int64_t>();
    const nlohmann::json& kv = field(line, "kv");
    if (!kv.is_object()) bad_field(line, "kv", "an object", kv);
    auto ratio = kv.find("compression_ratio");
    if (ratio == kv.end() || !ratio->is_number())
      throw Error(line.where + ": field \"kv\" should hold a number \"compression_ratio\"");
    row.compression_ratio = ratio->get<double>();
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const PredictionRow& x, const PredictionRow& y) { return x.index < y.index; });
  return rows;
}

size_t length_bucket(int64_t length) { return length < 4000 ? 0 : length < 8000 ? 1 : 2; }

double longbench_mean_score(const std::vector<double>& row_scores) {
  SLKV_CHECK(!row_scores.empty(), "no rows to score");
  double total = 0.0;
  for (double v : row_scores) total += v;
  return python_round2(100 * total / static_cast<double>(row_scores.size()));
}

std::optional<double> longbench_bucket_score(const std::vector<double>& row_scores) {
  if (row_scores.empty()) return std::nullopt;
  const double mean = numpy_pairwise_sum(row_scores.data(), row_scores.size()) / static_cast<double>(row_scores.size());
  return std::rint(100 * mean * 100.0) / 100.0;
}

std::vector<PolicyDir> find_policy_dirs(const fs::path& out, bool* per_policy) {
  if (!fs::is_directory(out)) throw Error(out.string() + ": not a directory");
  const std::optional<RunFile> run = read_run_file(out);
  const std::vector<fs::path> flat = jsonl_files(out);
  std::vector<std::string> sub_dirs;
  for (const fs::directory_entry& entry : fs::directory_iterator(out))
    if (entry.is_directory() && !jsonl_files(entry.path()).empty()) sub_dirs.push_back(entry.path().filename().string());
  std::sort(sub_dirs.begin(), sub_dirs.end());

  bool use_sub_dirs = !sub_dirs.empty();
  if (!flat.empty() && !sub_dirs.empty()) {
    if (!run || run->layout.empty())
      throw Error(out.string() + " holds both <dataset>.jsonl files and policy sub-directories (" + sub_dirs.front() +
                  "/...), and no run.json \"layout\" says which to score");
    use_sub_dirs = run->layout == "per-policy";
  }
  if (flat.empty() && sub_dirs.empty())
    throw Error(out.string() + ": no prediction files (<dataset>.jsonl, or <policy>/<dataset>.jsonl) to score");
  if (per_policy) *per_policy = use_sub_dirs;

  if (!use_sub_dirs) {
    const std::string name = run && run->policies.size() == 1 ? run->policies.front() : "default";
    return {{name, out}};
  }
  // run.json's order first, then any other sub-directory by name.
  std::vector<PolicyDir> dirs;
  if (run)
    for (const std::string& name : run->policies)
      if (std::find(sub_dirs.begin(), sub_dirs.end(), name) != sub_dirs.end()) dirs.push_back({name, out / name});
  for (const std::string& name : sub_dirs)
    if (std::none_of(dirs.begin(), dirs.end(), [&](const PolicyDir& d) { return d.policy == name; }))
      dirs.push_back({name, out / name});
  return dirs;
}

ScoreReport score_longbench_dir(const fs::path& out) {
  ScoreReport report;
  report.out = out;
  const std::vector<PolicyDir> dirs = find_policy_dirs(out, &report.per_policy);

  std::vector<std::vector<LoadedFile>> loaded;
  std::vector<std::string> to_segment;
  for (const PolicyDir& dir : dirs) {
    std::vector<LoadedFile>& files = loaded.emplace_back();
    for (const fs::path& path : jsonl_files(dir.dir)) {
      files.push_back(load_file(path));
      for (const PredictionRow& row : files.back().rows)
        for (std::string& text : texts_to_segment(files.back().task, row.prediction, row.answers))
          to_segment.push_back(std::move(text));
    }
    std::sort(files.begin(), files.end(),
              [](const LoadedFile& x, const LoadedFile& y) { return task_rank(x.task) < task_rank(y.task); });
  }

  // One Python run segments every Chinese text; no Python at all without them.
  std::optional<ChineseSegmenter> segmenter;
  if (!to_segment.empty()) {
    segmenter.emplace();
    segmenter->prepare(to_segment);
  }
  const CutWords cut = [&](const std::string& text) -> std::vector<std::string> {
    SLKV_CHECK(segmenter.has_value(), "a Chinese metric asked for words no batch prepared");
    return segmenter->cut(text);
  };

  for (size_t p = 0; p < dirs.size(); ++p) {
    PolicyScore& policy = report.policies.emplace_back();
    policy.policy = dirs[p].policy;
    policy.dir = dirs[p].dir;
    std::vector<double> plain_scores, ratios;
    std::array<std::vector<double>, 3> bucket_scores;
    for (const LoadedFile& file : loaded[p]) {
      TaskScore task = score_file(file, cut);
      if (task.score) plain_scores.push_back(*task.score);
      for (size_t b = 0; b < task.buckets.size(); ++b)
        if (task.buckets[b]) bucket_scores[b].push_back(*task.buckets[b]);
      for (const PredictionRow& row : file.rows) ratios.push_back(row.compression_ratio);
      policy.tasks.push_back(std::move(task));
    }
    policy.average = mean_of(plain_scores);
    for (size_t b = 0; b < bucket_scores.size(); ++b) policy.e_average[b] = mean_of(bucket_scores[b]);
    policy.compression_ratio = mean_of(ratios).value_or(1.0);
    policy.rows = ratios.size();
  }
  return report;
}

nlohmann::ordered_json policy_result_json(const PolicyScore& policy) {
  nlohmann::ordered_json result = nlohmann::ordered_json::object();
  for (const TaskScore& task : policy.tasks) {
    if (task.score) {
      result[task.dataset] = *task.score;
      continue;
    }
    nlohmann::ordered_json buckets = nlohmann::ordered_json::object();
    for (size_t b = 0; b < kLengthBuckets.size(); ++b)
      buckets[kLengthBuckets[b]] = task.buckets[b] ? nlohmann::ordered_json(*task.buckets[b]) : nullptr;
    result[task.dataset] = buckets;
  }
  return result;
}

std::vector<fs::path> write_longbench_results(const ScoreReport& report) {
  std::vector<fs::path> written;
  nlohmann::ordered_json all = nlohmann::ordered_json::object();
  for (const PolicyScore& policy : report.policies) {
    const nlohmann::ordered_json result = policy_result_json(policy);
    write_json(policy.dir / "result.json", result);
    written.push_back(policy.dir / "result.json");
    all[policy.policy] = result;
  }
  if (report.per_policy) {
    write_json(report.out / "result.json", all);
    written.push_back(report.out / "result.json");
  }
  return written;
}

std::string format_longbench_table(const ScoreReport& report) {
  // The datasets any policy has, in LongBench's order.
  std::vector<std::pair<size_t, std::string>> plain, e;
  for (const PolicyScore& policy : report.policies)
    for (const TaskScore& task : policy.tasks) {
      const LongBenchTask t = longbench_task(task.dataset);
      auto& list = t.length_buckets ? e : plain;
      if (std::none_of(list.begin(), list.end(), [&](const auto& x) { return x.second == task.dataset; }))
        list.emplace_back(task_rank(t), task.dataset);
    }
  std::sort(plain.begin(), plain.end());
  std::sort(e.begin(), e.end());
  const auto find_task = [](const PolicyScore& policy, const std::string& dataset) -> const TaskScore* {
    for (const TaskScore& task : policy.tasks)
      if (task.dataset == dataset) return &task;
    return nullptr;
  };

  std::vector<std::vector<std::string>> rows{{"policy"}};
  for (const auto& [rank, dataset] : plain) rows[0].push_back(dataset);
  rows[0].insert(rows[0].end(), {"Avg", "CR"});
  for (const PolicyScore& policy : report.policies) {
    std::vector<std::string>& row = rows.emplace_back(std::vector<std::string>{policy.policy});
    for (const auto& [rank, dataset] : plain) {
      const TaskScore* task = find_task(policy, dataset);
      row.push_back(format_number(task ? task->score : std::nullopt));
    }
    row.push_back(format_number(policy.average));
    row.push_back(format_number(policy.compression_ratio));
  }
  std::string out = "LongBench (Avg: mean over the datasets above; CR: mean KV compression ratio)\n" + format_columns(rows);
  if (e.empty()) return out;

  std::vector<std::vector<std::string>> e_rows{{"policy", "length"}};
  for (const auto& [rank, dataset] : e) e_rows[0].push_back(dataset);
  e_rows[0].push_back("Avg");
  for (const PolicyScore& policy : report.policies)
    for (size_t b = 0; b < kLengthBuckets.size(); ++b) {
      std::vector<std::string>& row = e_rows.emplace_back(std::vector<std::string>{policy.policy, kLengthBuckets[b]});
      for (const auto& [rank, dataset] : e) {
        const TaskScore* task = find_task(policy, dataset);
        row.push_back(format_number(task ? task->buckets[b] : std::nullopt));
      }
      row.push_back(format_number(policy.e_average[b]));
    }
  return out + "\nLongBench-E (Avg: mean over the datasets with rows of that length)\n" + format_columns(e_rows);
}

}  // namespace slkv::eval
