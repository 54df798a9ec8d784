// slkv eval needle: needle in a haystack over a grid of prompt lengths (the
// request's real token count) and needle depths, per KV policy: needle.jsonl
// (resumable, one line per cell), needle_grid.json and a heat map per policy.
#include <algorithm>
#include <cstdio>
#include <cxxopts.hpp>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "core/comma_list.h"
#include "core/error.h"
#include "launch/cli_common.h"
#include "launch/eval/eval_commands.h"
#include "launch/eval/eval_model.h"
#include "launch/eval/eval_output.h"
#include "launch/eval/heat_map.h"
#include "launch/eval/needle_haystack.h"
#include "launch/eval/ordered_runner.h"
#include "launch/eval/prediction_file.h"
#include "launch/eval/progress_line.h"

namespace slkv {
namespace {

struct NeedleCell {
  int64_t length = 0;  // the target prompt tokens
  double depth = 0;
  std::vector<int32_t> prompt;
};

std::vector<double> parse_depths(const cxxopts::ParseResult& args) {
  if (!args.count("depths")) return default_needle_depths();
  const std::vector<double> depths = parse_number_list(args["depths"].as<std::string>(), "--depths");
  if (depths.empty()) throw Error("--depths is empty");
  for (double depth : depths)
    if (!(depth >= 0 && depth <= 100)) throw Error("--depths: " + std::to_string(depth) + " is outside 0..100 (percent)");
  return depths;
}

// The cells' scores from a needle.jsonl (this run's or an earlier one's):
// scores[length][depth], and the cells' compression ratios. Throws
// slkv::Error naming FILE:LINE of a line made for another grid.
struct GridScores {
  std::vector<std::vector<double>> scores;
  std::vector<double> ratios;
  int64_t cells = 0;
};
GridScores read_grid(const std::filesystem::path& path, const std::vector<NeedleCell>& cells, size_t depths) {
  GridScores grid;
  grid.scores.assign(cells.size() / depths, std::vector<double>(depths, 0.0));
  if (!std::filesystem::exists(path)) return grid;
  for (const JsonLine& line : read_json_lines(path)) {
    const nlohmann::json& row = line.value;
    const int64_t index = row.value("index", int64_t{-1});
    if (index < 0 || index >= static_cast<int64_t>(cells.size())) continue;
    const NeedleCell& cell = cells[static_cast<size_t>(index)];
    if (!row.contains("length") || !row["length"].is_number_integer() || !row.contains("depth") ||
        !row["depth"].is_number() || !row.contains("score") || !row["score"].is_number())
      throw Error(line.where + ": a needle line needs integer 'length' and numbers 'depth' and 'score'");
    if (row["length"].get<int64_t>() != cell.length || row["depth"].get<double>() != cell.depth)
      throw Error(line.where + ": cell " + std::to_string(index) + " was run for length " + row["length"].dump() +
                  ", depth " + row["depth"].dump() + ", this grid's is length " + std::to_string(cell.length) +
                  ", depth " + nlohmann::json(cell.depth).dump() + ": use another --out for another grid");
    grid.scores[static_cast<size_t>(index) / depths][static_cast<size_t>(index) % depths] = row["score"].get<double>();
    if (row.contains("kv") && row["kv"].contains("compression_ratio"))
      grid.ratios.push_back(row["kv"]["compression_ratio"].get<double>());
    ++grid.cells;
  }
  return grid;
}

// The grid as a table: a row per depth, a column per length.
void print_table(const std::string& policy, const std::vector<int64_t>& lengths, const std::vector<double>& depths,
                 const nlohmann::json& result) {
  char cell[32];
  std::ostringstream out;
  out << std::fixed << std::setprecision(2) << "needle [" << policy << "]: mean score " << result["mean"].get<double>()
      << ", mean compression " << result["compression_ratio"].get<double>() << "x\n";
  out << "depth% \\ length";
  for (int64_t length : lengths) out << (std::snprintf(cell, sizeof cell, "%7lld", static_cast<long long>(length)), cell);
  out << "\n";
  for (size_t d = 0; d < depths.size(); ++d) {
    out << (std::snprintf(cell, sizeof cell, "%15g", depths[d]), cell);
    for (size_t l = 0; l < lengths.size(); ++l)
      out << (std::snprintf(cell, sizeof cell, "%7.0f", result["scores"][l][d].get<double>()), cell);
    out << "\n";
  }
  std::cout << out.str() << std::flush;
}

void write_json(const std::filesystem::path& path, const nlohmann::json& value) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream file(path);
  if (!(file << value.dump(2) << "\n")) throw Error("cannot write " + path.string());
}

}  // namespace

int run_eval_needle(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Needle in a haystack (gkamradt's protocol, in model tokens): score grid and heat map");
  // clang-format off
  options.add_options("Needle")
      ("haystack", "directory of the essays (*.txt, concatenated in name order)", cxxopts::value<std::string>())
      ("lengths", "comma-separated prompt lengths in tokens (default: 8 from 1/8 of the context minus the generation length up to it)", cxxopts::value<std::string>())
      ("depths", "comma-separated needle depths in percent (default: 0,10,...,100)", cxxopts::value<std::string>())
      ("needle", "the fact hidden in the haystack", cxxopts::value<std::string>()->default_value(kNeedleText))
      ("question", "the question asking for it", cxxopts::value<std::string>()->default_value(kNeedleQuestion))
      ("answer", "the expected answer (scored by word recall)", cxxopts::value<std::string>()->default_value(kNeedleAnswer))
      ("max-new-tokens", "tokens to generate at most", cxxopts::value<int64_t>()->default_value("32"))
      ("out", "output directory: needle.jsonl, needle_grid.json, needle_<policy>.png", cxxopts::value<std::string>());
  // clang-format on
  add_eval_model_options(options);
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::filesystem::path haystack_dir = required_flag(args, "haystack", "DIR");
  const std::filesystem::path out = required_flag(args, "out", "DIR");
  const std::vector<double> depths = parse_depths(args);
  const std::string needle = args["needle"].as<std::string>(), question = args["question"].as<std::string>(),
                    answer = args["answer"].as<std::string>();
  if (score_words(answer).empty()) throw Error("--answer has no word to score against");
  const int64_t max_new_tokens = args["max-new-tokens"].as<int64_t>();
  if (max_new_tokens < 1) throw Error("--max-new-tokens must be >= 1, got " + std::to_string(max_new_tokens));
  std::vector<int64_t> flag_lengths;
  if (args.count("lengths")) {
    flag_lengths = parse_int_list(args["lengths"].as<std::string>(), "--lengths");
    if (flag_lengths.empty()) throw Error("--lengths is empty");
  }

  EvalModel model(args);
  std::vector<std::filesystem::path> essays;
  if (model.coordinator()) essays = haystack_files(haystack_dir);
  model.load();
  return model.run([&] {
    const Tokenizer& tokenizer = model.tokenizer();
    const NeedlePrompts prompts(tokenizer, model.chat_template(), needle, question);
    const std::vector<int64_t> lengths =
        flag_lengths.empty() ? default_needle_lengths(model.context(), max_new_tokens, prompts.fixed_tokens()) : flag_lengths;
    for (int64_t length : lengths)
      if (length >= model.context())
        throw Error("--lengths: " + std::to_string(length) + " tokens is at or past the model's context (" +
                    std::to_string(model.context()) + " tokens, max_position_embeddings)");
    const std::vector<int32_t> haystack =
        haystack_tokens(essays, tokenizer, *std::max_element(lengths.begin(), lengths.end()));
    std::vector<NeedleCell> cells;  // index = length * depths + depth
    for (int64_t length : lengths)
      for (double depth : depths) cells.push_back({length, depth, prompts.build(haystack, length, depth)});

    nlohmann::json grids = nlohmann::json::object();
    std::vector<std::pair<HeatMap, std::filesystem::path>> maps;
    for (const KvPolicyConfig& policy : model.policies()) {
      const std::string name = kv_policy_name(policy.kind);
      const std::filesystem::path dir = policy_output_dir(out, model.policies(), policy);
      PredictionFile predictions(dir / "needle.jsonl");
      read_grid(predictions.path(), cells, depths.size());  // an earlier run's lines must be this grid's
      std::vector<size_t> rows_to_run;
      std::vector<EngineRequest> requests;
      for (size_t i = 0; i < cells.size(); ++i) {
        if (predictions.has(static_cast<int64_t>(i))) continue;
        const int64_t room = model.context() - static_cast<int64_t>(cells[i].prompt.size());
        requests.push_back(model.request(cells[i].prompt, std::min(max_new_tokens, room), policy));
        rows_to_run.push_back(i);
      }
      {
        ProgressLine progress("needle [" + name + "]", static_cast<int64_t>(rows_to_run.size()), "cells");
        run_in_order(model.engine(), std::move(requests), [&](size_t k, const RequestResult& result) {
          const NeedleCell& cell = cells[rows_to_run[k]];
          if (result.reason == FinishReason::Error)
            throw Error("needle cell length " + std::to_string(cell.length) + ", depth " +
                        nlohmann::json(cell.depth).dump() + ": " + result.error);
          const std::string pred = tokenizer.decode(result.tokens, /*skip_special_tokens=*/true);
          predictions.append({{"index", rows_to_run[k]},
                              {"length", cell.length},
                              {"prompt_tokens", cell.prompt.size()},
                              {"depth", cell.depth},
                              {"pred", pred},
                              {"score", needle_score(pred, answer)},
                              {"finish_reason", finish_reason_name(result.reason)},
                              {"kv", to_json(result.kv)}});
          progress.advance();
        });
      }
      const GridScores grid = read_grid(predictions.path(), cells, depths.size());
      double sum = 0;
      for (const auto& row : grid.scores)
        for (double score : row) sum += score;
      grids[name] = {{"lengths", lengths},
                     {"depths", depths},
                     {"scores", grid.scores},
                     {"mean", sum / static_cast<double>(cells.size())},
                     {"compression_ratio", mean_compression_ratio(grid.ratios)}};
      print_table(name, lengths, depths, grids[name]);
      const std::string title = "Pressure Testing " + model.model_dir().filename().string() + " [" + name +
                                "]\nFact Retrieval Across Context Lengths (\"Needle In A HayStack\")";
      maps.push_back({HeatMap{title, lengths, depths, grid.scores}, dir / ("needle_" + name + ".png")});
    }
    write_json(out / "needle_grid.json", grids);
    write_run_file(out, model.policies(),
                   {{"model", model.model_dir().string()},
                    {"needle", {{"lengths", lengths}, {"depths", depths}, {"max_new_tokens", max_new_tokens},
                                {"haystack", haystack_dir.string()}, {"needle", needle}, {"question", question},
                                {"answer", answer}, {"scoring", "answer word recall (0-100)"}}}});
    // Last, so that the scores are on disk even where gnuplot is missing.
    for (const auto& [map, png] : maps) render_heat_map(map, png);
    return 0;
  });
}

}  // namespace slkv
