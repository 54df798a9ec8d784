// slkv eval longbench: LongBench v1 (and LongBench-E) predictions with the
// official prompt protocol (longbench_prompt.h), for one or several KV
// policies, resumable; `slkv eval score` turns them into the paper's table.
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "core/comma_list.h"
#include "core/error.h"
#include "core/text_file.h"
#include "core/timer.h"
#include "launch/cli_common.h"
#include "launch/eval/eval_commands.h"
#include "launch/eval/eval_model.h"
#include "launch/eval/eval_output.h"
#include "launch/eval/longbench_prompt.h"
#include "launch/eval/ordered_runner.h"
#include "launch/eval/prediction_file.h"
#include "launch/eval/progress_line.h"

namespace slkv {
namespace {

struct LongBenchTask {
  std::string name;  // the file's name: a task, or a task with _e
  std::string pattern;
  int64_t max_new_tokens = 0;
  std::vector<JsonLine> rows;
};

nlohmann::ordered_json read_json_file(const std::filesystem::path& path) {
  const std::string text = read_text_file(path);
  try {
    return nlohmann::ordered_json::parse(text);  // file order: LongBench's task order
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(path.string() + ": not valid JSON: " + e.what());
  }
}

// The fields the protocol and the scorer need, checked before the model loads.
void check_row(const JsonLine& row) {
  const nlohmann::json& v = row.value;
  if (!v.is_object()) throw Error(row.where + ": expected a JSON object (a LongBench row)");
  for (const char* field : {"context", "input"})
    if (!v.contains(field) || !v[field].is_string())
      throw Error(row.where + ": the row has no string field '" + field + "'");
  if (!v.contains("answers") || !v["answers"].is_array() || v["answers"].empty())
    throw Error(row.where + ": the row has no 'answers' list");
  for (const nlohmann::json& answer : v["answers"])
    if (!answer.is_string()) throw Error(row.where + ": 'answers' holds a " + answer.type_name() + ", not a string");
  if (!v.contains("length") || !v["length"].is_number_integer())
    throw Error(row.where + ": the row has no integer 'length'");
  if (v.contains("all_classes") && !v["all_classes"].is_null() && !v["all_classes"].is_array())
    throw Error(row.where + ": 'all_classes' must be null or a list");
}

std::vector<LongBenchTask> read_tasks(const std::filesystem::path& data, const std::filesystem::path& config,
                                      const std::string& datasets, std::optional<int64_t> limit) {
  const nlohmann::ordered_json prompts = read_json_file(config / "dataset2prompt.json");
  const nlohmann::ordered_json lengths = read_json_file(config / "dataset2maxlen.json");
  if (!prompts.is_object()) throw Error((config / "dataset2prompt.json").string() + ": expected a JSON object");
  if (!lengths.is_object()) throw Error((config / "dataset2maxlen.json").string() + ": expected a JSON object");
  std::vector<std::string> names;
  if (datasets == "all") {
    // Every task of dataset2maxlen.json whose file (or _e file) --data holds, in LongBench's order.
    for (const auto& [task, _] : lengths.items())
      for (const std::string& name : {task, task + "_e"})
        if (std::filesystem::exists(data / (name + ".jsonl"))) names.push_back(name);
    if (names.empty()) throw Error(data.string() + " holds no LongBench file (<task>.jsonl) of the tasks in dataset2maxlen.json");
  } else {
    names = split_comma_list(datasets);
  }
  std::vector<LongBenchTask> tasks;
  for (const std::string& name : names) {
    const std::string task = longbench_base_task(name);
    if (!prompts.contains(task) || !lengths.contains(task)) {
      std::string known;
      for (const auto& [key, _] : lengths.items()) known += (known.empty() ? "" : ", ") + key;
      throw Error("unknown LongBench task '" + name + "' (dataset2prompt.json / dataset2maxlen.json know: " + known +
                  "; LongBench-E files add _e)");
    }
    if (!prompts[task].is_string() || !lengths[task].is_number_integer() || lengths[task].get<int64_t>() < 1)
      throw Error("dataset2prompt.json / dataset2maxlen.json: bad entry for '" + task + "'");
    const std::filesystem::path file = data / (name + ".jsonl");
    if (!std::filesystem::exists(file)) throw Error("no data file " + file.string() + " for task '" + name + "'");
    LongBenchTask out{name, prompts[task].get<std::string>(), lengths[task].get<int64_t>(), read_json_lines(file)};
    if (limit && static_cast<int64_t>(out.rows.size()) > *limit) out.rows.resize(static_cast<size_t>(*limit));
    for (const JsonLine& row : out.rows) check_row(row);
    tasks.push_back(std::move(out));
  }
  return tasks;
}

}  // namespace

int run_eval_longbench(int argc, char** argv) {
  cxxopts::Options options(argv[0], "LongBench v1 / LongBench-E predictions with the official prompt protocol");
  // clang-format off
  options.add_options("LongBench")
      ("data", "directory of <task>.jsonl files (LongBench-E: <task>_e.jsonl)", cxxopts::value<std::string>())
      ("config", "directory of dataset2prompt.json and dataset2maxlen.json (default: --data)", cxxopts::value<std::string>())
      ("datasets", "comma-separated tasks, or all (those --data holds)", cxxopts::value<std::string>()->default_value("all"))
      ("max-length", "prompt tokens kept (cut in the middle) (default: the context minus the generation length)", cxxopts::value<int64_t>())
      ("limit", "the first N rows of each task", cxxopts::value<int64_t>())
      ("out", "output directory: <task>.jsonl per task (per policy with several --kv-policy)", cxxopts::value<std::string>());
  // clang-format on
  add_eval_model_options(options);
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::filesystem::path data = required_flag(args, "data", "DIR");
  const std::filesystem::path out = required_flag(args, "out", "DIR");
  const std::filesystem::path config = args.count("config") ? args["config"].as<std::string>() : data.string();
  std::optional<int64_t> limit, max_length;
  if (args.count("limit")) {
    limit = args["limit"].as<int64_t>();
    if (*limit < 1) throw UsageError("--limit must be >= 1, got " + std::to_string(*limit));
  }
  if (args.count("max-length")) max_length = args["max-length"].as<int64_t>();

  EvalModel model(args);
  std::vector<LongBenchTask> tasks;
  if (model.coordinator()) tasks = read_tasks(data, config, args["datasets"].as<std::string>(), limit);
  model.load();
  return model.run([&] {
    const Tokenizer& tokenizer = model.tokenizer();
    const int64_t wrap = chat_wrap_tokens(tokenizer, model.chat_template());
    nlohmann::json details = {{"model", model.model_dir().string()}, {"tasks", nlohmann::json::object()},
                              {"seconds", nlohmann::json::object()}};
    for (const KvPolicyConfig& policy : model.policies()) {
      const std::string policy_name = kv_policy_name(policy.kind);
      const std::filesystem::path dir = policy_output_dir(out, model.policies(), policy);
      for (const LongBenchTask& task : tasks) {
        const LongBenchLengths lengths = longbench_lengths(
            model.context(), task.max_new_tokens, max_length, longbench_uses_chat_template(task.name) ? wrap : 0, task.name);
        if (lengths.generation_cut && &policy == &model.policies().front())
          std::cerr << "[" << task.name << ": the model's context is " << model.context() << " tokens: generating "
                    << lengths.max_new_tokens << " tokens instead of " << task.max_new_tokens << ", prompts cut to "
                    << lengths.max_length << "]\n";
        details["tasks"][task.name] = {{"max_length", lengths.max_length},
                                       {"max_new_tokens", lengths.max_new_tokens},
                                       {"task_max_new_tokens", task.max_new_tokens},
                                       {"generation_cut", lengths.generation_cut},
                                       {"chat_template", longbench_uses_chat_template(task.name)}};
        PredictionFile predictions(dir / (task.name + ".jsonl"));
        std::vector<size_t> rows_to_run;  // row indices
        std::vector<EngineRequest> requests;
        std::vector<int32_t> stops = model.stop_ids();
        if (longbench_base_task(task.name) == "samsum") {
          // pred.py ends samsum at the first newline (the model would go on with "\nDialogue").
          const std::vector<int32_t> newline = tokenizer.encode("\n", /*add_special_tokens=*/false);
          if (!newline.empty()) stops.push_back(newline.back());
        }
        for (size_t i = 0; i < task.rows.size(); ++i) {
          if (predictions.has(static_cast<int64_t>(i))) continue;
          EngineRequest request = model.request(
              build_longbench_prompt(task.name, task.pattern, task.rows[i].value, task.rows[i].where, tokenizer,
                                     model.chat_template(), lengths.max_length),
              lengths.max_new_tokens, policy);
          request.stop_ids = stops;
          requests.push_back(std::move(request));
          rows_to_run.push_back(i);
        }
        std::vector<double> ratios;
        const Timer timer;
        {
          ProgressLine progress("longbench " + task.name + " [" + policy_name + "]", static_cast<int64_t>(rows_to_run.size()));
          std::vector<int64_t> prompt_tokens;
          for (const EngineRequest& request : requests) prompt_tokens.push_back(static_cast<int64_t>(request.prompt.size()));
          run_in_order(model.engine(), std::move(requests), [&](size_t k, const RequestResult& result) {
            if (result.reason == FinishReason::Error) throw Error(task.rows[rows_to_run[k]].where + ": " + result.error);
            const nlohmann::json& row = task.rows[rows_to_run[k]].value;
            nlohmann::json line = {{"index", rows_to_run[k]},
                                   {"pred", tokenizer.decode(result.tokens, /*skip_special_tokens=*/true)},
                                   {"answers", row["answers"]},
                                   {"all_classes", row.value("all_classes", nlohmann::json(nullptr))},
                                   {"length", row["length"]},
                                   {"prompt_tokens", prompt_tokens[k]},
                                   {"finish_reason", finish_reason_name(result.reason)},
                                   {"kv", to_json(result.kv)}};
            if (row.contains("_id")) line["_id"] = row["_id"];
            predictions.append(line);
            ratios.push_back(result.kv.compression_ratio);
            progress.advance();
          });
        }
        const double seconds = timer.seconds();
        details["seconds"][policy_name][task.name] = seconds;
        std::ostringstream summary;
        summary.precision(3);
        summary << task.name << " [" << policy_name << "]: " << rows_to_run.size() << " rows run ("
                << predictions.rows() << " in " << predictions.path().string() << "), " << seconds << " s";
        if (!ratios.empty()) summary << ", mean compression " << mean_compression_ratio(ratios) << "x";
        std::cout << summary.str() << std::endl;
      }
    }
    write_run_file(out, model.policies(), details);
    return 0;
  });
}

}  // namespace slkv
