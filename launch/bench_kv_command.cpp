// slkv bench-kv: fidelity against compression for the KV policies. Every
// policy runs on the same long prompts as `full`; for each configuration of a
// sweep it reports the KV compression ratio at the end of generation against
//   * greedy agreement with full over the generated tokens (free running), and
//   * the mean KL(full || policy) of the next-token distributions under
//     teacher forcing (the policy's model is fed full's greedy continuation),
// plus two controls at SimLayerKV's compression, prompt by prompt: windowing
// randomly chosen layers (as many as SimLayerKV chose), and StreamingLLM on
// every layer holding as many tokens in all; and decode speed and KV memory
// at the longest context.
// Output: markdown tables on stdout, and (--data) a TSV for gnuplot.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cxxopts.hpp>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <random>
#include <sstream>

#include "kernels/backend.h"
#include "kernels/cpu/sampling.h"
#include "launch/cli_common.h"
#include "launch/commands.h"
#include "launch/device_choice.h"
#include "launch/rank_layout.h"
#include "core/comma_list.h"
#include "core/error.h"
#include "core/kl_divergence.h"
#include "core/text_file.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/run_to_completion.h"
#include "runtime/kv/kv_policy.h"
#include "runtime/model.h"
#include "runtime/sampler.h"
#include "runtime/tokenizer/tokenizer.h"

namespace slkv {
namespace {

// ---------------------------------------------------------------- prompts

// The first `count` tokens (BOS included) of every *.txt file in `dir`, in
// name order, skipping files too short to fill them (and the LICENSE file).
std::vector<std::vector<int32_t>> prompts_from_texts(const std::filesystem::path& dir, const Tokenizer& tokenizer,
                                                     int64_t count) {
  if (!std::filesystem::is_directory(dir)) throw Error("--text-dir " + dir.string() + " is not a directory");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".txt" && entry.path().filename().string().rfind("LICENSE", 0) != 0)
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& file : files) {
    std::vector<int32_t> tokens = tokenizer.encode(read_text_file(file), true);
    if (static_cast<int64_t>(tokens.size()) < count) continue;
    tokens.resize(count);
    prompts.push_back(std::move(tokens));
  }
  return prompts;
}

// ---------------------------------------------------------------- one sequence

struct Context {
  Engine& engine;  // on the coordinator; the other ranks follow its plans
  int64_t new_tokens;
};

struct SequenceRun {
  std::vector<int32_t> tokens;  // argmax of each generated position's logits
  std::vector<float> logits;    // [new_tokens][vocab]
  KvReport kv;                  // the cache at the end
  double decode_seconds = 0;
  int64_t peak_kv_bytes = 0;  // the pool's peak over the run (prefill included; rank 0's under mpirun)
};

// One request of new_tokens tokens through the engine, EOS ignored.
// forced: when not empty, generated token s is forced[s] (teacher forcing;
// `tokens` still records the run's own argmax). control: when not empty,
// these layers are windowed where SimLayerKV with `config` would decide
// (after prefill, or after the first decode step), whatever the scores.
SequenceRun run_sequence(Context& ctx, const KvPolicyConfig& config, std::span<const int32_t> prompt,
                         std::span<const int32_t> forced, const std::vector<bool>& control) {
  KvPolicyConfig policy = config;
  if (!control.empty()) {
    policy.kind = KvPolicyKind::SimLayerKV;
    policy.fixed_lazy_layers = control;
  }
  EngineRequest request;
  request.prompt.assign(prompt.begin(), prompt.end());
  request.max_new_tokens = ctx.new_tokens;
  request.kv_policy = policy;
  request.forced_tokens.assign(forced.begin(), forced.end());
  SequenceRun run;
  ctx.engine.set_logits_callback([&](SequenceId, std::span<const float> row) {
    run.tokens.push_back(cpu::argmax(row));
    run.logits.insert(run.logits.end(), row.begin(), row.end());
  });
  ctx.engine.reset_peak_blocks();
  const RequestResult result = run_to_completion(ctx.engine, {request})[0];
  ctx.engine.set_logits_callback({});
  if (result.reason == FinishReason::Error) throw Error(result.error);
  run.kv = result.kv;
  run.decode_seconds = result.decode_seconds;
  run.peak_kv_bytes = ctx.engine.stats().peak_blocks * ctx.engine.cache().pool().bytes_per_block();
  return run;
}

// `count` of `layers` layers, uniformly at random (a seeded Fisher-Yates, so
// the choice is the same on every platform and nested as count grows).
std::vector<bool> random_layers(int64_t layers, int64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> order(layers);
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = layers - 1; i > 0; --i) std::swap(order[i], order[rng() % static_cast<uint64_t>(i + 1)]);
  std::vector<bool> chosen(layers, false);
  for (int64_t i = 0; i < count; ++i) chosen[order[i]] = true;
  return chosen;
}

// ---------------------------------------------------------------- the sweep

// Controls for a SimLayerKV point, at its compression prompt by prompt.
enum class Control {
  None,
  RandomLayers,      // window as many layers as SimLayerKV did, chosen at random
  MatchedStreaming,  // StreamingLLM holding as many tokens in all as SimLayerKV did
};

struct Point {
  std::string series;   // plot series and table group
  std::string setting;  // the swept value, e.g. "threshold 0.80"
  KvPolicyConfig policy;
  Control control = Control::None;
  size_t matched = 0;  // controls: index of the SimLayerKV point they match
};

// Every layer windowed to hold, in all, about `held_tokens` (summed over layers).
KvPolicyConfig streaming_holding(const KvPolicyConfig& base, int64_t held_tokens, int64_t layers) {
  KvPolicyConfig config = base;
  config.kind = KvPolicyKind::Streaming;
  config.recent = std::max<int64_t>(1, (held_tokens + layers / 2) / layers - base.sink);
  return config;
}

int64_t sum(const std::vector<int64_t>& values) { return std::accumulate(values.begin(), values.end(), int64_t{0}); }

struct PointResult {
  double lazy_layers = 0, compression = 0, prefix_agreement = 0, overall_agreement = 0, forced_top1 = 0, kl = 0;
  double kl_standard_error = 0;  // of the mean over prompts
  std::vector<double> kl_per_prompt;
  std::vector<int64_t> lazy_per_prompt;      // layers windowed, per prompt
  std::vector<int64_t> held_per_prompt;      // tokens held at the end, summed over layers, per prompt
  int64_t timing_lazy = 0, timing_held = 0;  // the same on the timing prompt
  double decode_tok_s = 0, peak_kv_bytes = 0, final_kv_bytes = 0;
};

struct Sweep {
  Context& ctx;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<int32_t> timing_prompt;
  std::vector<SequenceRun> full;  // per prompt: the reference
  int64_t control_draws;
  int64_t timing_reps;
  uint64_t seed;

  // Control layer choice for prompt `index` (prompts.size() = the timing prompt) and draw `draw`.
  std::vector<bool> control_layers(size_t index, int64_t draw, int64_t count) const {
    return random_layers(ctx.engine.model().config().num_layers, count, seed + 1000003ull * index + draw);
  }

  // The policy and the windows of the random control for one prompt (index
  // prompts.size(): the timing prompt), given what the matched point did there.
  std::pair<KvPolicyConfig, std::vector<bool>> setup(const Point& point, const PointResult* matched, size_t index,
                                                     int64_t draw) const {
    const int64_t layers = ctx.engine.model().config().num_layers;
    const bool timing = index == prompts.size();
    switch (point.control) {
      case Control::RandomLayers:
        return {point.policy,
                control_layers(index, draw, timing ? matched->timing_lazy : matched->lazy_per_prompt[index])};
      case Control::MatchedStreaming:
        return {
            streaming_holding(point.policy, timing ? matched->timing_held : matched->held_per_prompt[index], layers),
            {}};
      case Control::None:
        break;
    }
    return {point.policy, {}};
  }

  PointResult evaluate(const Point& point, const PointResult* matched) {
    const int64_t n = ctx.new_tokens;
    const int64_t vocab = ctx.engine.model().config().vocab_size;
    PointResult result;
    for (size_t i = 0; i < prompts.size(); ++i) {
      const SequenceRun& reference = full[i];
      const int64_t draws = point.control == Control::RandomLayers ? control_draws : 1;
      double prompt_kl = 0;
      for (int64_t draw = 0; draw < draws; ++draw) {
        const auto [config, windows] = setup(point, matched, i, draw);
        SequenceRun free = run_sequence(ctx, config, prompts[i], {}, windows);
        SequenceRun forced = run_sequence(ctx, config, prompts[i], reference.tokens, windows);
        int64_t prefix = 0;
        while (prefix < n && free.tokens[prefix] == reference.tokens[prefix]) ++prefix;
        int64_t matching = 0, forced_matching = 0;
        double kl = 0;
        for (int64_t t = 0; t < n; ++t) {
          matching += free.tokens[t] == reference.tokens[t];
          forced_matching += forced.tokens[t] == reference.tokens[t];
          kl += kl_divergence(std::span(reference.logits).subspan(t * vocab, vocab),
                              std::span(forced.logits).subspan(t * vocab, vocab));
        }
        const double weight = 1.0 / static_cast<double>(draws * prompts.size());
        result.compression += free.kv.compression_ratio * weight;
        result.prefix_agreement += double(prefix) / n * weight;
        result.overall_agreement += double(matching) / n * weight;
        result.forced_top1 += double(forced_matching) / n * weight;
        result.kl += kl / n * weight;
        prompt_kl += kl / n / draws;
        // make_kv_report cannot see the random control's windows: count them.
        const int64_t lazy = windows.empty() ? std::count(free.kv.lazy_layers.begin(), free.kv.lazy_layers.end(), true)
                                             : std::count(windows.begin(), windows.end(), true);
        result.lazy_layers += double(lazy) * weight;
        if (draw == 0) {
          result.lazy_per_prompt.push_back(lazy);
          result.held_per_prompt.push_back(sum(free.kv.kv_tokens_per_layer));
        }
      }
      result.kl_per_prompt.push_back(prompt_kl);
    }
    double variance = 0;
    for (double kl : result.kl_per_prompt) variance += (kl - result.kl) * (kl - result.kl);
    const double count = static_cast<double>(prompts.size());
    if (prompts.size() > 1) result.kl_standard_error = std::sqrt(variance / (count - 1) / count);
    if (timing_reps > 0) time_at_longest_context(point, matched, result);
    return result;
  }

  // Decode speed and KV memory on the timing prompt. The fastest repetition is
  // reported: on a shared machine the others mostly measure other people's load.
  void time_at_longest_context(const Point& point, const PointResult* matched, PointResult& result) {
    const auto [config, windows] = setup(point, matched, prompts.size(), 0);
    std::vector<double> rates;
    for (int64_t rep = 0; rep < timing_reps; ++rep) {
      SequenceRun run = run_sequence(ctx, config, timing_prompt, {}, windows);
      rates.push_back(double(ctx.new_tokens - 1) / run.decode_seconds);
      result.peak_kv_bytes = static_cast<double>(run.peak_kv_bytes);
      result.final_kv_bytes = static_cast<double>(run.kv.kv_bytes);
      result.timing_lazy = std::count(run.kv.lazy_layers.begin(), run.kv.lazy_layers.end(), true);
      result.timing_held = sum(run.kv.kv_tokens_per_layer);
    }
    result.decode_tok_s = *std::max_element(rates.begin(), rates.end());
  }
};

std::string fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

std::string kl_text(double kl, int digits = 3) {
  std::ostringstream out;
  if (kl == 0)
    out << "0";
  else
    out << std::setprecision(digits) << kl;
  return out.str();
}

}  // namespace

int run_bench_kv(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Fidelity against KV compression for the KV policies (vs full KV)");
  // clang-format off
  options.add_options()
      ("model", "model directory", cxxopts::value<std::string>())
      ("text-dir", "directory of .txt files; each gives one prompt (its first --prompt-tokens tokens) (default: data/paul-graham-essays in $SLKV_SHARED, else in the shared/ beside the source tree)",
       cxxopts::value<std::string>())
      ("prompts", "number of prompts", cxxopts::value<int64_t>()->default_value("16"))
      ("prompt-tokens", "tokens per prompt, BOS included", cxxopts::value<int64_t>()->default_value("400"))
      ("new-tokens", "tokens generated per prompt", cxxopts::value<int64_t>()->default_value("64"))
      ("thresholds", "SimLayerKV thresholds swept (both detect modes, and with SnapKV)",
       cxxopts::value<std::string>()->default_value("0.5,0.6,0.7,0.75,0.8,0.85,0.9,0.95"))
      ("streaming-recent", "StreamingLLM recent windows swept",
       cxxopts::value<std::string>()->default_value("16,32,64,128,192,256"))
      ("snapkv-budgets", "SnapKV budgets swept", cxxopts::value<std::string>()->default_value("16,32,64,128,192,256"))
      ("hybrid-budget", "SnapKV budget of the non-lazy layers in simlayerkv+snapkv",
       cxxopts::value<int64_t>()->default_value("128"))
      ("sink", "sink tokens of a windowed layer", cxxopts::value<int64_t>()->default_value("4"))
      ("recent", "recent tokens of a SimLayerKV lazy layer (and the control's windows)",
       cxxopts::value<int64_t>()->default_value("64"))
      ("obs-window", "prompt queries observed by prefill detection and SnapKV",
       cxxopts::value<int64_t>()->default_value("32"))
      ("lazy-window", "rolling or grow", cxxopts::value<std::string>()->default_value("rolling"))
      ("snapkv-pool", "SnapKV max-pool kernel (odd)", cxxopts::value<int64_t>()->default_value("7"))
      ("control-draws", "random layer choices per prompt for the random-layer control (0: none)",
       cxxopts::value<int64_t>()->default_value("4"))
      ("seed", "seed of the control's layer choice", cxxopts::value<uint64_t>()->default_value("1234"))
      ("timing-reps", "decode timing repetitions at the longest context, fastest reported (0: no timing)",
       cxxopts::value<int64_t>()->default_value("5"))
      ("data", "also write the points as TSV blocks (one per series) for gnuplot", cxxopts::value<std::string>());
  // clang-format on
  add_engine_options(options);
  add_parallel_options(options);
  add_device_options(options, 1);
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::filesystem::path model_dir = required_flag(args, "model", "DIR");
  const int64_t n_prompts = args["prompts"].as<int64_t>();
  const int64_t prompt_tokens = args["prompt-tokens"].as<int64_t>();
  const int64_t new_tokens = args["new-tokens"].as<int64_t>();
  const int64_t control_draws = args["control-draws"].as<int64_t>();
  const int64_t timing_reps = args["timing-reps"].as<int64_t>();
  const DeviceChoice choice = device_choice(args);
  const int threads = choice.threads;
  if (n_prompts < 1) throw Error("--prompts must be >= 1");
  if (prompt_tokens < 2) throw Error("--prompt-tokens must be >= 2");
  if (new_tokens < 2) throw Error("--new-tokens must be >= 2");
  if (control_draws < 0) throw Error("--control-draws must be >= 0");
  if (timing_reps < 0) throw Error("--timing-reps must be >= 0");
  if (args["hybrid-budget"].as<int64_t>() < 0) throw Error("--hybrid-budget must be >= 0");
  const std::vector<double> thresholds = parse_number_list(args["thresholds"].as<std::string>(), "--thresholds");
  const std::vector<int64_t> streaming_recent =
      parse_int_list(args["streaming-recent"].as<std::string>(), "--streaming-recent");
  const std::vector<int64_t> snapkv_budgets =
      parse_int_list(args["snapkv-budgets"].as<std::string>(), "--snapkv-budgets");
  for (double threshold : thresholds)
    if (!(threshold >= 0 && threshold <= 1)) throw Error("--thresholds must be in [0, 1], got " + std::to_string(threshold));
  for (int64_t recent : streaming_recent)
    if (recent < 1) throw Error("--streaming-recent windows must be >= 1");
  for (int64_t budget : snapkv_budgets)
    if (budget < 0) throw Error("--snapkv-budgets must be >= 0");

  // Under mpirun every rank runs its shard of every sequence; rank 0 reads
  // and tokenizes the texts and prints the tables.
  RankLayout layout = make_rank_layout(args, model_dir);
  const ModelConfig model_config = ModelConfig::load(model_dir);
  const int64_t context = model_config.max_position_embeddings;
  if (prompt_tokens + new_tokens > context)
    throw Error("--prompt-tokens + --new-tokens must fit the model's context of " + std::to_string(context) +
                " tokens, got " + std::to_string(prompt_tokens + new_tokens));
  KvPolicyConfig base = KvPolicyConfig::preset_for(model_config);
  base.sink = args["sink"].as<int64_t>();
  base.recent = args["recent"].as<int64_t>();
  base.obs_window = args["obs-window"].as<int64_t>();
  base.growth = parse_lazy_window(args["lazy-window"].as<std::string>());
  base.snapkv_pool = args["snapkv-pool"].as<int64_t>();
  base.snapkv_budget = args["hybrid-budget"].as<int64_t>();
  base.validate();  // names the flag of a bad value

  const std::filesystem::path text_dir = args.count("text-dir") ? std::filesystem::path(args["text-dir"].as<std::string>())
                                                                : shared_data_dir() / "data" / "paul-graham-essays";
  // Lists: the prompts, then (last) the timing prompt at the longest context, if any.
  std::vector<std::vector<int32_t>> token_lists;
  if (layout.coordinator()) {
    const Tokenizer tokenizer = Tokenizer::load(model_dir);
    token_lists = prompts_from_texts(text_dir, tokenizer, prompt_tokens);
    if (static_cast<int64_t>(token_lists.size()) < n_prompts)
      throw Error("--text-dir " + text_dir.string() + " has only " + std::to_string(token_lists.size()) +
                  " files of at least " + std::to_string(prompt_tokens) + " tokens; --prompts asks for " +
                  std::to_string(n_prompts));
    token_lists.resize(n_prompts);
    // Timing runs at the longest context the model allows with new_tokens generated.
    std::vector<std::vector<int32_t>> longest = prompts_from_texts(text_dir, tokenizer, context - new_tokens);
    if (timing_reps > 0 && longest.empty())
      throw Error("--text-dir " + text_dir.string() + " has no file of " + std::to_string(context - new_tokens) +
                  " tokens for the timing runs");
    token_lists.push_back(longest.empty() ? std::vector<int32_t>{} : longest.front());
  }
  broadcast_token_lists(layout, token_lists);
  const std::vector<int32_t> timing_prompt = token_lists.back();
  token_lists.pop_back();
  const std::vector<std::vector<int32_t>>& prompts = token_lists;

  RankModel rank = load_rank_model(layout, model_dir, choice);
  Model& model = *rank.model;
  Backend& backend = *rank.backend;

  // One request at a time; the budget takes a whole prompt in one step.
  EngineConfig engine_config = engine_config_from_args(args, base);
  engine_config.limits.max_batch_tokens =
      std::max<int64_t>(engine_config.limits.max_batch_tokens, std::max(prompt_tokens, static_cast<int64_t>(timing_prompt.size())));
  Engine engine(model, backend, engine_config, layout.sync());
  if (!layout.coordinator()) {
    engine.follow();
    return 0;
  }
  Context ctx{engine, new_tokens};
  Sweep sweep{.ctx = ctx,
              .prompts = prompts,
              .timing_prompt = timing_prompt,
              .full = {},
              .control_draws = control_draws,
              .timing_reps = timing_reps,
              .seed = args["seed"].as<uint64_t>()};
  KvPolicyConfig full_config = base;
  full_config.kind = KvPolicyKind::Full;
  for (const auto& prompt : prompts) sweep.full.push_back(run_sequence(ctx, full_config, prompt, {}, {}));

  // The configurations, in table order; each control follows the SimLayerKV point it matches.
  std::vector<Point> points;
  points.push_back({"full", "-", full_config});
  for (LazyDetect detect : {LazyDetect::Prefill, LazyDetect::Decode}) {
    const std::string mode = lazy_detect_name(detect);
    for (double threshold : thresholds) {
      KvPolicyConfig config = base;
      config.kind = KvPolicyKind::SimLayerKV;
      config.detect = detect;
      config.threshold = threshold;
      const size_t simlayerkv = points.size();
      const std::string setting = "threshold " + fixed(threshold, 2);
      points.push_back({"simlayerkv (" + mode + ")", setting, config});
      if (control_draws > 0)
        points.push_back({"random layers (" + mode + ")", "as " + setting, config, Control::RandomLayers, simlayerkv});
      points.push_back({"streaming matched to simlayerkv (" + mode + ")", "as " + setting, config,
                        Control::MatchedStreaming, simlayerkv});
    }
  }
  for (int64_t recent : streaming_recent) {
    KvPolicyConfig config = base;
    config.kind = KvPolicyKind::Streaming;
    config.recent = recent;
    points.push_back({"streaming", "recent " + std::to_string(recent), config});
  }
  for (int64_t budget : snapkv_budgets) {
    KvPolicyConfig config = base;
    config.kind = KvPolicyKind::SnapKV;
    config.snapkv_budget = budget;
    points.push_back({"snapkv", "budget " + std::to_string(budget), config});
  }
  for (double threshold : thresholds) {
    KvPolicyConfig config = base;
    config.kind = KvPolicyKind::SimLayerKVSnapKV;
    config.threshold = threshold;
    points.push_back({"simlayerkv+snapkv (prefill)",
                      "threshold " + fixed(threshold, 2) + ", budget " + std::to_string(base.snapkv_budget), config});
  }

  std::vector<PointResult> results;
  for (size_t p = 0; p < points.size(); ++p) {
    const PointResult* matched = points[p].control == Control::None ? nullptr : &results[points[p].matched];
    results.push_back(sweep.evaluate(points[p], matched));
    std::cerr << "bench-kv: " << points[p].series << " " << points[p].setting << ": compression "
              << fixed(results.back().compression, 2) << ", mean KL " << kl_text(results.back().kl) << "\n";
  }

  engine.shutdown();

  // ---- markdown
  const int64_t layers = model.config().num_layers;
  std::cout << "Model " << model_dir.filename().string() << " (" << layers << " layers, context " << context << "), "
            << n_prompts << " prompts of " << prompt_tokens << " tokens from " << text_dir.filename().string() << ", "
            << new_tokens << " generated tokens; sink " << base.sink << ", recent " << base.recent << ", obs_window "
            << base.obs_window << ", " << lazy_window_name(base.growth) << " windows, SnapKV pool " << base.snapkv_pool
            << "; control: " << control_draws << " random draws per prompt, seed " << sweep.seed
            << "; timing: " << sweep.timing_prompt.size() << "-token prompt, fastest of " << timing_reps << ", "
            << threads << " thread(s).\n\n";
  std::cout << "| policy | setting | lazy layers | compression | prefix agreement | overall agreement | "
               "forced top-1 | mean KL (nats) ± SE | decode tok/s | peak KV KiB | final KV KiB |\n"
            << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (size_t p = 0; p < points.size(); ++p) {
    const PointResult& r = results[p];
    const bool lazy = points[p].policy.uses_lazy_layers() && points[p].control != Control::MatchedStreaming;
    std::cout << "| " << points[p].series << " | " << points[p].setting << " | "
              << (lazy ? fixed(r.lazy_layers, 2) : "-") << " | " << fixed(r.compression, 2) << " | "
              << fixed(r.prefix_agreement, 3) << " | " << fixed(r.overall_agreement, 3) << " | "
              << fixed(r.forced_top1, 3) << " | " << kl_text(r.kl) << " ± " << kl_text(r.kl_standard_error, 2) << " | "
              << (timing_reps > 0 ? fixed(r.decode_tok_s, 0) : "-") << " | "
              << (timing_reps > 0 ? fixed(r.peak_kv_bytes / 1024, 1) : "-") << " | "
              << (timing_reps > 0 ? fixed(r.final_kv_bytes / 1024, 1) : "-") << " |\n";
  }

  // SimLayerKV against its controls, prompt by prompt (same prompts, same compression per prompt).
  auto paired = [&](const PointResult& ours, const PointResult& control) {
    int better = 0, worse = 0, same = 0;
    for (size_t i = 0; i < prompts.size(); ++i) {
      const double a = ours.kl_per_prompt[i], b = control.kl_per_prompt[i];
      if (std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(b)))
        ++same;
      else
        (a < b ? better : worse) += 1;
    }
    return kl_text(control.kl) + " | " + std::to_string(better) + " / " + std::to_string(worse) + " / " +
           std::to_string(same);
  };
  std::cout << "\n| detect | threshold | compression | mean KL simlayerkv | mean KL random layers | "
               "simlayerkv better / worse / same | mean KL streaming, matched | simlayerkv better / worse / same |\n"
            << "|---|---:|---:|---:|---:|---|---:|---|\n";
  for (size_t p = 0; p < points.size(); ++p) {
    if (points[p].control != Control::None || points[p].policy.kind != KvPolicyKind::SimLayerKV) continue;
    std::string random = "- | -", streaming = "- | -";
    for (size_t c = 0; c < points.size(); ++c) {
      if (points[c].matched != p) continue;
      if (points[c].control == Control::RandomLayers) random = paired(results[p], results[c]);
      if (points[c].control == Control::MatchedStreaming) streaming = paired(results[p], results[c]);
    }
    std::cout << "| " << lazy_detect_name(points[p].policy.detect) << " | " << fixed(points[p].policy.threshold, 2)
              << " | " << fixed(results[p].compression, 2) << " | " << kl_text(results[p].kl) << " | " << random
              << " | " << streaming << " |\n";
  }

  // ---- TSV for gnuplot: one block per series, its first line the series name.
  if (args.count("data")) {
    const std::string path = args["data"].as<std::string>();
    std::ofstream out(path);
    if (!out) throw Error("--data: cannot write " + path);
    std::vector<std::string> series;
    for (const Point& point : points)
      if (std::find(series.begin(), series.end(), point.series) == series.end()) series.push_back(point.series);
    for (const std::string& name : series) {
      std::vector<size_t> members;
      for (size_t p = 0; p < points.size(); ++p)
        if (points[p].series == name) members.push_back(p);
      std::sort(members.begin(), members.end(),
                [&](size_t a, size_t b) { return results[a].compression < results[b].compression; });
      out << "\"" << name << "\"\tprefix_agreement\toverall_agreement\tforced_top1\tmean_kl\n";
      for (size_t p : members) {
        const PointResult& r = results[p];
        out << std::setprecision(9) << r.compression << "\t" << r.prefix_agreement << "\t" << r.overall_agreement
            << "\t" << r.forced_top1 << "\t" << r.kl << "\n";
      }
      out << "\n\n";
    }
  }
  return 0;
}

}  // namespace slkv
