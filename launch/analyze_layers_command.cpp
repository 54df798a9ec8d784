// slkv analyze-layers: the distribution of every layer's SimLayerKV score
// over a set of prompts, so a user can pick a threshold for a new model family.
#include <algorithm>
#include <cmath>
#include <cxxopts.hpp>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "kernels/backend.h"
#include "launch/cli_common.h"
#include "launch/commands.h"
#include "launch/device_choice.h"
#include "launch/kv_policy_options.h"
#include "launch/prompt_file.h"
#include "launch/rank_layout.h"
#include "core/error.h"
#include "runtime/kv/kv_policy.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/run_to_completion.h"
#include "runtime/model.h"
#include "runtime/tokenizer/tokenizer.h"

namespace slkv {
namespace {

// LongBench's rule for over-long prompts: keep the head and the tail.
std::vector<int32_t> truncate_middle(std::vector<int32_t> tokens, size_t limit) {
  if (tokens.size() <= limit) return tokens;
  const size_t head = limit / 2, tail = limit - head;
  std::vector<int32_t> kept(tokens.begin(), tokens.begin() + head);
  kept.insert(kept.end(), tokens.end() - tail, tokens.end());
  return kept;
}

double quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double at = q * (values.size() - 1);
  const size_t low = static_cast<size_t>(std::floor(at)), high = static_cast<size_t>(std::ceil(at));
  return values[low] + (values[high] - values[low]) * (at - low);
}

}  // namespace

int run_analyze_layers(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Per-layer SimLayerKV score distribution over a prompt file");
  // clang-format off
  options.add_options()
      ("model", "model directory", cxxopts::value<std::string>())
      ("input", "prompts: one per line (JSON string, LongBench/RULER JSON object, or plain text)", cxxopts::value<std::string>())
      ("dataset", "LongBench dataset name: use its template from dataset2prompt.json beside --input", cxxopts::value<std::string>()->default_value(""))
      ("max-prompts", "analyse at most this many prompts (0 = all)", cxxopts::value<int64_t>()->default_value("0"))
      ("json", "print one JSON object");
  // clang-format on
  add_kv_policy_options(options);
  add_engine_options(options);
  add_parallel_options(options);
  add_device_options(options, default_thread_count());
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::filesystem::path model_dir = required_flag(args, "model", "DIR");
  const std::string input = required_flag(args, "input", "FILE");
  const int64_t max_prompts = args["max-prompts"].as<int64_t>();

  // Under mpirun every rank runs its shard; rank 0 reads and tokenizes the
  // prompts, the ranks' scores are summed and every rank gets the result.
  const DeviceChoice choice = device_choice(args);
  RankLayout layout = make_rank_layout(args, model_dir);
  std::vector<std::vector<int32_t>> prompt_tokens;
  if (layout.coordinator()) {
    std::vector<std::string> prompts = read_evaluation_prompts(input, args["dataset"].as<std::string>());
    if (max_prompts > 0 && static_cast<int64_t>(prompts.size()) > max_prompts) prompts.resize(max_prompts);
    const Tokenizer tokenizer = Tokenizer::load(model_dir);
    const size_t context = static_cast<size_t>(ModelConfig::load(model_dir).max_position_embeddings) - 1;
    for (const std::string& prompt : prompts)
      prompt_tokens.push_back(truncate_middle(tokenizer.encode(prompt, true), context));
  }
  broadcast_token_lists(layout, prompt_tokens);

  if (prompt_tokens.empty()) throw Error("--input " + input + " holds no prompts");

  RankModel rank = load_rank_model(layout, model_dir, choice);
  Model& model = *rank.model;
  Backend& backend = *rank.backend;
  KvPolicyConfig config = kv_policy_from_args(args, model.config());
  config.kind = KvPolicyKind::Full;  // score only, trim nothing
  config.detect = LazyDetect::Prefill;
  const int64_t layers = model.config().num_layers;

  // Each prompt runs through the engine (one at a time: its pool holds one
  // prompt) until its first token; the scores come with its KV report.
  std::vector<std::vector<double>> scores(layers);  // [layer][prompt]
  int64_t total_tokens = 0;
  EngineConfig engine_config = engine_config_from_args(args, config);
  Engine engine(model, backend, engine_config, layout.sync());
  if (layout.coordinator()) {
    for (const std::vector<int32_t>& tokens : prompt_tokens) {
      total_tokens += static_cast<int64_t>(tokens.size());
      EngineRequest request;
      request.prompt = tokens;
      request.max_new_tokens = 1;
      const RequestResult result = run_to_completion(engine, {request})[0];
      if (result.reason == FinishReason::Error) throw Error(result.error);
      for (int64_t layer = 0; layer < layers; ++layer) scores[layer].push_back(result.kv.layer_scores[layer]);
    }
    engine.shutdown();
  } else {
    engine.follow();
  }
  if (!layout.coordinator()) return 0;

  const double preset = KvPolicyConfig::preset_for(model.config()).threshold;
  nlohmann::json report = {{"model", model_dir.string()},  {"prompts", prompt_tokens.size()},
                           {"mean_prompt_tokens", double(total_tokens) / prompt_tokens.size()},
                           {"sink", config.sink},          {"recent", config.recent},
                           {"obs_window", config.obs_window}, {"preset_threshold", preset}};
  for (int64_t layer = 0; layer < layers; ++layer) {
    const auto& s = scores[layer];
    double mean = 0, variance = 0;
    for (double v : s) mean += v / s.size();
    for (double v : s) variance += (v - mean) * (v - mean) / s.size();
    report["layers"].push_back({{"layer", layer},
                                {"mean", mean},
                                {"std", std::sqrt(variance)},
                                {"min", quantile(s, 0.0)},
                                {"p10", quantile(s, 0.1)},
                                {"median", quantile(s, 0.5)},
                                {"p90", quantile(s, 0.9)},
                                {"max", quantile(s, 1.0)},
                                {"lazy_fraction_at_preset",
                                 std::count_if(s.begin(), s.end(), [&](double v) { return v > preset; }) /
                                     double(s.size())}});
  }
  // How many layers would be lazy, on average, at a range of thresholds.
  for (double threshold = 0.5; threshold < 0.999; threshold += 0.05) {
    double lazy = 0;
    for (const auto& s : scores)
      lazy += std::count_if(s.begin(), s.end(), [&](double v) { return v > threshold; }) / double(s.size());
    report["mean_lazy_layers_by_threshold"].push_back({{"threshold", std::round(threshold * 100) / 100}, {"lazy_layers", lazy}});
  }

  if (args.count("json")) {
    std::cout << report.dump() << "\n";
    return 0;
  }
  std::cout << "model " << model_dir.string() << ": " << prompt_tokens.size() << " prompts, mean "
            << std::fixed << std::setprecision(0) << report["mean_prompt_tokens"].get<double>() << " tokens; sink "
            << config.sink << ", recent " << config.recent << ", obs_window " << config.obs_window
            << std::setprecision(2) << ", family preset threshold " << preset << "\n\n"
            << "layer    mean    std     min     p10  median     p90     max  lazy@preset\n" << std::setprecision(3);
  for (const auto& row : report["layers"]) {
    std::cout << std::setw(5) << row["layer"].get<int64_t>();
    for (const char* key : {"mean", "std", "min", "p10", "median", "p90", "max"})
      std::cout << std::setw(8) << row[key].get<double>();
    std::cout << std::setw(12) << row["lazy_fraction_at_preset"].get<double>() << "\n";
  }
  std::cout << "\nthreshold -> mean lazy layers:";
  for (const auto& row : report["mean_lazy_layers_by_threshold"])
    std::cout << "  " << std::setprecision(2) << row["threshold"].get<double>() << ":" << std::setprecision(1)
              << row["lazy_layers"].get<double>();
  std::cout << "\n";
  return 0;
}

}  // namespace slkv
