// slkv eval ruler: predictions on a RULER jsonl file (prepared by RULER:
// each input already carries the model's template) and RULER's
// string_match_all, per KV policy; resumable.
#include <algorithm>
#include <cstdio>
#include <cxxopts.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "launch/cli_common.h"
#include "launch/eval/eval_commands.h"
#include "launch/eval/eval_model.h"
#include "launch/eval/eval_output.h"
#include "launch/eval/longbench_prompt.h"
#include "launch/eval/ordered_runner.h"
#include "launch/eval/prediction_file.h"
#include "launch/eval/progress_line.h"
#include "launch/eval/ruler_metric.h"

namespace slkv {
namespace {

struct RulerRow {
  std::string where;  // FILE:LINE
  int64_t index = 0;
  std::string prompt;  // input + answer_prefix
  std::vector<std::string> outputs;
  int64_t length = 0;
};

RulerRow parse_row(const JsonLine& line) {
  const nlohmann::json& v = line.value;
  if (!v.is_object()) throw Error(line.where + ": expected a JSON object (a RULER row)");
  auto need = [&](const char* field, bool ok, const char* what) {
    if (!v.contains(field) || !ok) throw Error(line.where + ": the row has no " + what + " '" + field + "'");
  };
  need("index", v.contains("index") && v["index"].is_number_integer(), "integer");
  need("input", v.contains("input") && v["input"].is_string(), "string");
  need("outputs", v.contains("outputs") && v["outputs"].is_array() && !v["outputs"].empty(), "non-empty list");
  need("length", v.contains("length") && v["length"].is_number_integer(), "integer");
  RulerRow row{line.where, v["index"].get<int64_t>(), v["input"].get<std::string>(), {}, v["length"].get<int64_t>()};
  for (const nlohmann::json& output : v["outputs"]) {
    if (!output.is_string()) throw Error(line.where + ": 'outputs' holds a " + output.type_name() + ", not a string");
    row.outputs.push_back(output.get<std::string>());
  }
  if (v.contains("answer_prefix")) {
    if (!v["answer_prefix"].is_string()) throw Error(line.where + ": 'answer_prefix' must be a string");
    row.prompt += v["answer_prefix"].get<std::string>();  // as RULER's call_api appends it
  }
  return row;
}

std::vector<RulerRow> read_rows(const std::filesystem::path& path, std::optional<int64_t> limit) {
  if (!std::filesystem::is_regular_file(path)) throw Error("--data " + path.string() + " is not a file");
  std::vector<RulerRow> rows;
  std::map<int64_t, std::string> seen;  // index -> FILE:LINE
  for (const JsonLine& line : read_json_lines(path)) {
    if (limit && static_cast<int64_t>(rows.size()) >= *limit) break;
    rows.push_back(parse_row(line));
    const auto [it, fresh] = seen.emplace(rows.back().index, line.where);
    if (!fresh) throw Error(line.where + ": index " + std::to_string(it->first) + " repeats " + it->second);
  }
  if (rows.empty()) throw Error(path.string() + " has no rows");
  return rows;
}

// The predictions (RULER-postprocessed) and compression ratios that
// `path` holds for `rows`.
struct RulerScore {
  double string_match_all = 0, compression_ratio = 1;
};
RulerScore score_file(const std::filesystem::path& path, const std::vector<RulerRow>& rows) {
  std::map<int64_t, const nlohmann::json*> lines;
  const std::vector<JsonLine> file = read_json_lines(path);
  for (const JsonLine& line : file) lines[line.value["index"].get<int64_t>()] = &line.value;
  std::vector<std::string> preds;
  std::vector<std::vector<std::string>> outputs;
  std::vector<double> ratios;
  for (const RulerRow& row : rows) {
    const auto it = lines.find(row.index);
    if (it == lines.end() || !(*it->second).contains("pred") || !(*it->second)["pred"].is_string())
      throw Error(path.string() + " has no prediction for index " + std::to_string(row.index) + " (" + row.where + ")");
    preds.push_back(ruler_postprocess((*it->second)["pred"].get<std::string>()));
    outputs.push_back(row.outputs);
    const nlohmann::json& kv = (*it->second).value("kv", nlohmann::json::object());
    if (kv.contains("compression_ratio")) ratios.push_back(kv["compression_ratio"].get<double>());
  }
  return {string_match_all(preds, outputs), mean_compression_ratio(ratios)};
}

}  // namespace

int run_eval_ruler(int argc, char** argv) {
  cxxopts::Options options(argv[0], "RULER predictions (prepared jsonl) and string_match_all");
  // clang-format off
  options.add_options("RULER")
      ("data", "a RULER jsonl file (index, input, outputs, length; optional answer_prefix)", cxxopts::value<std::string>())
      ("limit", "the first N rows", cxxopts::value<int64_t>())
      ("max-length", "prompt tokens kept (cut in the middle) (default: the context minus the generation length)", cxxopts::value<int64_t>())
      ("max-new-tokens", "tokens to generate at most (cut to what the context leaves)", cxxopts::value<int64_t>()->default_value("128"))
      ("out", "output directory: <data stem>.jsonl (per policy with several --kv-policy), result.json", cxxopts::value<std::string>());
  // clang-format on
  add_eval_model_options(options);
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::filesystem::path data = required_flag(args, "data", "FILE");
  const std::filesystem::path out = required_flag(args, "out", "DIR");
  const std::string stem = data.stem().string();
  std::optional<int64_t> limit, max_length;
  if (args.count("limit")) {
    limit = args["limit"].as<int64_t>();
    if (*limit < 1) throw UsageError("--limit must be >= 1, got " + std::to_string(*limit));
  }
  if (args.count("max-length")) max_length = args["max-length"].as<int64_t>();
  const int64_t task_max_new_tokens = args["max-new-tokens"].as<int64_t>();
  if (task_max_new_tokens < 1) throw Error("--max-new-tokens must be >= 1, got " + std::to_string(task_max_new_tokens));

  EvalModel model(args);
  std::vector<RulerRow> rows;
  if (model.coordinator()) rows = read_rows(data, limit);
  model.load();
  return model.run([&] {
    const Tokenizer& tokenizer = model.tokenizer();
    // LongBench's budget rule: the context minus the generation length, or
    // the generation cut to what --max-length leaves (no chat wrapping here).
    const LongBenchLengths lengths = longbench_lengths(model.context(), task_max_new_tokens, max_length, 0, stem);
    if (lengths.generation_cut)
      std::cerr << "[" << stem << ": the model's context is " << model.context() << " tokens: generating "
                << lengths.max_new_tokens << " tokens instead of " << task_max_new_tokens << "]\n";
    std::vector<std::vector<int32_t>> prompts;
    std::vector<bool> truncated;
    for (const RulerRow& row : rows) {
      const std::vector<int32_t> ids = tokenizer.encode(row.prompt, /*add_special_tokens=*/true);
      truncated.push_back(static_cast<int64_t>(ids.size()) > lengths.max_length);
      prompts.push_back(truncate_middle(ids, lengths.max_length));
    }
    if (const auto cut = std::count(truncated.begin(), truncated.end(), true))
      std::cerr << "[" << stem << ": " << cut << " of " << rows.size() << " rows are longer than " << lengths.max_length
                << " tokens: cut in the middle]\n";

    nlohmann::json result = nlohmann::json::object();
    std::ostringstream table;
    table << "policy            string_match_all  compression   rows\n";
    for (const KvPolicyConfig& policy : model.policies()) {
      const std::string name = kv_policy_name(policy.kind);
      PredictionFile predictions(policy_output_dir(out, model.policies(), policy) / (stem + ".jsonl"));
      std::vector<size_t> rows_to_run;
      std::vector<EngineRequest> requests;
      for (size_t i = 0; i < rows.size(); ++i) {
        if (predictions.has(rows[i].index)) continue;
        requests.push_back(model.request(prompts[i], lengths.max_new_tokens, policy));
        rows_to_run.push_back(i);
      }
      {
        ProgressLine progress("ruler " + stem + " [" + name + "]", static_cast<int64_t>(rows_to_run.size()));
        run_in_order(model.engine(), std::move(requests), [&](size_t k, const RequestResult& run) {
          const RulerRow& row = rows[rows_to_run[k]];
          if (run.reason == FinishReason::Error) throw Error(row.where + ": " + run.error);
          predictions.append({{"index", row.index},
                              {"pred", tokenizer.decode(run.tokens, /*skip_special_tokens=*/true)},
                              {"outputs", row.outputs},
                              {"length", row.length},
                              {"prompt_tokens", prompts[rows_to_run[k]].size()},
                              {"truncated", truncated[rows_to_run[k]]},
                              {"finish_reason", finish_reason_name(run.reason)},
                              {"kv", to_json(run.kv)}});
          progress.advance();
        });
      }
      const RulerScore score = score_file(predictions.path(), rows);
      result[name] = {{"string_match_all", score.string_match_all},
                      {"compression_ratio", score.compression_ratio},
                      {"rows", rows.size()}};
      char line[128];
      std::snprintf(line, sizeof line, "%-16s %17.2f %11.2fx %6zu\n", name.c_str(), score.string_match_all,
                    score.compression_ratio, rows.size());
      table << line;
    }
    std::cout << stem << ":\n" << table.str() << std::flush;
    std::filesystem::create_directories(out);
    std::ofstream file(out / "result.json");
    if (!(file << result.dump(2) << "\n")) throw Error("cannot write " + (out / "result.json").string());
    write_run_file(out, model.policies(),
                   {{"model", model.model_dir().string()},
                    {"ruler", {{"data", data.string()}, {"rows", rows.size()}, {"max_length", lengths.max_length},
                               {"max_new_tokens", lengths.max_new_tokens}}}});
    return 0;
  });
}

}  // namespace slkv
