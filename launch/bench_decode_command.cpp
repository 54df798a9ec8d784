// slkv bench-decode: the decode step of one model on one device (issue 6).
// For each (context, batch) point the KV cache of `batch` sequences is filled
// to `context` tokens, then `--steps` batched decode steps are timed and set
// against the memory floor: (weight bytes + KV bytes read per step) / the
// measured read bandwidth. --lazy-fraction windows an evenly spread set of
// layers as SimLayerKV does with its lazy layers, to show what trimming buys.
// Prefill speed is measured on the way, once per context.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cxxopts.hpp>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <new>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/memory_bandwidth.h"
#include "launch/cli_common.h"
#include "launch/commands.h"
#include "launch/device_choice.h"
#include "core/comma_list.h"
#include "core/error.h"
#include "core/host_memory.h"
#include "core/stats.h"
#include "runtime/engine/engine.h"
#include "runtime/kv/kv_cache.h"
#include "runtime/model.h"
#include "runtime/sampler.h"
#ifdef SLKV_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/device_bandwidth.h"
#endif

namespace slkv {
namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// Untimed decode steps before the timed ones: the first waits for the KV
// fill, the second records the step's CUDA graphs.
constexpr int64_t kWarmupSteps = 2;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// "1,8,32" -> {1, 8, 32}; every entry a positive integer.
std::vector<int64_t> parse_positive_list(const std::string& text, const std::string& flag) {
  std::vector<int64_t> values = parse_int_list(text, "--" + flag);
  if (values.empty()) throw Error("--" + flag + " must list at least one value");
  for (int64_t value : values)
    if (value < 1) throw Error("--" + flag + " must be a comma-separated list of positive integers, got '" + text + "'");
  return values;
}

// round(fraction x layers) layers spread evenly over the depth: 0.5 of 80
// layers is 0, 2, ..., 78.
std::vector<int64_t> evenly_spread_layers(double fraction, int64_t layers) {
  const int64_t count = std::llround(fraction * static_cast<double>(layers));
  std::vector<int64_t> chosen;
  for (int64_t k = 0; k < count; ++k) chosen.push_back(k * layers / count);
  return chosen;
}

// Prompt ids from an LCG (BOS first), the same every run.
std::vector<int32_t> prompt_tokens(int64_t count, int64_t vocab, int32_t bos) {
  std::vector<int32_t> tokens(static_cast<size_t>(count));
  uint32_t state = 12345;
  for (int64_t i = 0; i < count; ++i) {
    state = state * 1103515245u + 12345u;
    tokens[i] = i == 0 && bos >= 0 ? bos : 3 + static_cast<int32_t>(state % static_cast<uint32_t>(vocab - 3));
  }
  return tokens;
}

// What this machine lets the KV cache use when --kv-budget-gib is not given:
// the device's free memory (CUDA) or MemAvailable less the weights (CPU),
// minus `reserve` for scratch activations. -1 = unknown (no limit).
int64_t automatic_kv_budget(const std::string& device, int64_t weight_bytes, int64_t reserve) {
  int64_t free_bytes = -1;
#ifdef SLKV_HAVE_CUDA
  if (device == "cuda") free_bytes = device_free_memory_bytes();  // the weights are already in it
#endif
  if (device == "cpu" && host_memory_available_bytes() >= 0)
    free_bytes = host_memory_available_bytes() - weight_bytes;  // mmap'ed weights must stay resident
  if (free_bytes < 0) return -1;
  return std::max<int64_t>(0, free_bytes - reserve);
}

double read_bandwidth_gbps(const std::string& device, int threads) {
#ifdef SLKV_HAVE_CUDA
  if (device == "cuda") return measure_device_read_bandwidth_gbps();
#else
  (void)device;  // cpu is the only device without CUDA
#endif
  return measure_memory_read_bandwidth_gbps(threads);
}

struct Settings {
  std::vector<int64_t> batches, contexts;
  std::vector<int64_t> lazy_layers;
  int64_t sink = 4, recent = 1024;
  int64_t steps = 16;
  int prefill_reps = 1;
  int64_t prefill_chunk = 4096;
  bool copy_fill = false;  // fill sequences by copying one prefilled sequence's KV
  int64_t kv_budget = -1;  // bytes; -1 = no limit
  double max_seconds = 0;  // 0 = no time limit
};

// KV blocks one point needs at its peak: the prefilled source sequence, the
// batch's sequences after windowing (context + warm-up + steps tokens), and
// one sequence's lazy layers still full just before it is windowed.
int64_t blocks_needed(const Settings& s, int64_t layers, int64_t block_size, int64_t context, int64_t batch) {
  const int64_t tokens = context + kWarmupSteps + s.steps;
  const int64_t full = ceil_div(tokens, block_size);
  const int64_t lazy = static_cast<int64_t>(s.lazy_layers.size());
  // A windowed layer: sink blocks, recent blocks, and one more when the recent part starts mid-block.
  const int64_t windowed = std::min(full, ceil_div(s.sink, block_size) + ceil_div(s.recent, block_size) + 1);
  const int64_t per_sequence = (layers - lazy) * full + lazy * windowed;
  const int64_t transient = lazy * std::max<int64_t>(0, ceil_div(context, block_size) - windowed);
  return layers * ceil_div(context, block_size) + batch * per_sequence + transient;
}

// Releases the engine sequences it holds when it goes away, also when a
// point fails half-way.
class SequenceSet {
 public:
  explicit SequenceSet(Engine& engine) : engine_(engine) {}
  ~SequenceSet() {
    for (SequenceId id : ids_) engine_.release(id);
    while (engine_.has_work()) engine_.step();  // the releases reach the cache
  }
  SequenceSet(const SequenceSet&) = delete;
  SequenceSet& operator=(const SequenceSet&) = delete;
  void add(SequenceId id) { ids_.push_back(id); }
  void remove_last() {
    engine_.release(ids_.back());
    ids_.pop_back();
  }
  const std::vector<SequenceId>& ids() const { return ids_; }

 private:
  Engine& engine_;
  std::vector<SequenceId> ids_;
};

class DecodeBench {
 public:
  DecodeBench(Engine& engine, const Settings& settings, double bandwidth_gbps, Clock::time_point start)
      : engine_(engine), cache_(engine.cache()), s_(settings), bandwidth_gbps_(bandwidth_gbps), start_(start) {}

  // Prefills the context's source sequence (timed, --prefill-reps times) and
  // runs every batch at that context; appends to prefill / points.
  void run_context(int64_t context, Json& prefill, Json& points);

 private:
  // A kept sequence of `tokens`, prefilled in chunks of --prefill-chunk up to
  // its first generated token (the one it feeds next); returns its id and
  // the prefill's seconds.
  std::pair<SequenceId, double> prefill(const std::vector<int32_t>& tokens);
  Json run_point(int64_t context, int64_t batch, SequenceId source);
  // Steps the engine until it is idle; throws on a failed sequence.
  void drain();
  // Sum over the sequences and layers of tokens held, and of tokens appended.
  int64_t tokens_held(const std::vector<SequenceId>& ids) const;
  int64_t tokens_appended(const std::vector<SequenceId>& ids) const;
  int64_t blocks_held(const std::vector<SequenceId>& ids) const;
  void progress(const std::string& message) const {
    std::fprintf(stderr, "[bench-decode %7.1fs] %s\n", seconds_since(start_), message.c_str());
    std::fflush(stderr);
  }
  bool out_of_time() const { return s_.max_seconds > 0 && seconds_since(start_) > s_.max_seconds; }

  Engine& engine_;
  const KvCache& cache_;
  const Settings& s_;
  double bandwidth_gbps_;
  Clock::time_point start_;
};

void DecodeBench::drain() {
  while (engine_.has_work())
    for (const EngineEvent& event : engine_.step())
      if (event.kind == EngineEvent::Kind::Finished && event.reason == FinishReason::Error) throw Error(event.error);
}

std::pair<SequenceId, double> DecodeBench::prefill(const std::vector<int32_t>& tokens) {
  EngineRequest request;
  request.prompt = tokens;
  request.max_new_tokens = 1;
  request.keep = true;
  const SequenceId id = engine_.submit(std::move(request));
  double seconds = 0;
  while (engine_.has_work())
    for (const EngineEvent& event : engine_.step())
      if (event.kind == EngineEvent::Kind::Finished) {
        if (event.reason == FinishReason::Error) throw Error(event.error);
        seconds = event.prefill_seconds;
      }
  return {id, seconds};
}

int64_t DecodeBench::tokens_held(const std::vector<SequenceId>& ids) const {
  int64_t sum = 0;
  for (SequenceId id : ids)
    for (int64_t layer = 0; layer < cache_.geometry().num_layers; ++layer) sum += cache_.tokens_held(id, layer);
  return sum;
}

int64_t DecodeBench::tokens_appended(const std::vector<SequenceId>& ids) const {
  int64_t sum = 0;
  for (SequenceId id : ids)
    for (int64_t layer = 0; layer < cache_.geometry().num_layers; ++layer) sum += cache_.tokens_appended(id, layer);
  return sum;
}

int64_t DecodeBench::blocks_held(const std::vector<SequenceId>& ids) const {
  int64_t sum = 0;
  for (SequenceId id : ids)
    for (int64_t layer = 0; layer < cache_.geometry().num_layers; ++layer) sum += cache_.blocks_held(id, layer);
  return sum;
}

void DecodeBench::run_context(int64_t context, Json& prefill_rows, Json& points) {
  const ModelConfig& config = engine_.model().config();
  const int64_t layers = config.num_layers;
  const int64_t block_size = cache_.geometry().block_size;
  const int64_t bytes_per_block = cache_.pool().bytes_per_block();
  auto skip_all = [&](const std::string& reason) {
    prefill_rows.push_back({{"context", context}, {"fits", false}, {"reason", reason}});
    for (int64_t batch : s_.batches)
      points.push_back({{"context", context}, {"batch", batch}, {"fits", false}, {"reason", reason}});
    progress("context " + std::to_string(context) + ": " + reason);
  };
  if (out_of_time()) return skip_all("skipped: --max-seconds reached");
  if (context + kWarmupSteps + s_.steps > config.max_position_embeddings)
    return skip_all("does not fit: context + 2 warm-up steps + steps exceeds the model's max_position_embeddings " +
                    std::to_string(config.max_position_embeddings));
  if (s_.kv_budget >= 0 && layers * ceil_div(context, block_size) * bytes_per_block > s_.kv_budget)
    return skip_all("does not fit: one sequence's KV exceeds the KV budget");

  SequenceSet source(engine_);
  const std::vector<int32_t> tokens = prompt_tokens(context, config.vocab_size, config.bos_token_id);
  std::vector<double> seconds;
  try {
    for (int rep = 0; rep < s_.prefill_reps; ++rep) {
      if (rep > 0) source.remove_last();  // a fresh sequence each time; the last one is the copy source
      auto [id, prefill_seconds] = prefill(tokens);
      source.add(id);
      seconds.push_back(prefill_seconds);
    }
  } catch (const Error& e) {
    return skip_all(std::string("does not fit: ") + e.what());
  } catch (const std::bad_alloc&) {
    return skip_all("does not fit: out of host memory");
  }
  const double prefill_seconds = median(seconds);
  prefill_rows.push_back({{"context", context},
                          {"fits", true},
                          {"tokens", context},
                          {"chunk", std::min(context, s_.prefill_chunk)},
                          {"seconds", prefill_seconds},
                          {"tok_s", context / prefill_seconds}});
  std::ostringstream line;
  line << "context " << context << ": prefill " << std::fixed << std::setprecision(1) << context / prefill_seconds
       << " tok/s";
  progress(line.str());

  for (int64_t batch : s_.batches) {
    Json point;
    if (out_of_time()) {
      point = {{"context", context}, {"batch", batch}, {"fits", false}, {"reason", "skipped: --max-seconds reached"}};
    } else if (s_.kv_budget >= 0 &&
               blocks_needed(s_, layers, block_size, context, batch) * bytes_per_block > s_.kv_budget) {
      point = {{"context", context},
               {"batch", batch},
               {"fits", false},
               {"reason", "does not fit: needs " +
                              std::to_string(blocks_needed(s_, layers, block_size, context, batch) * bytes_per_block) +
                              " bytes of KV, budget " + std::to_string(s_.kv_budget)}};
    } else {
      try {
        point = run_point(context, batch, source.ids().back());
      } catch (const Error& e) {
        point = {{"context", context}, {"batch", batch}, {"fits", false}, {"reason", std::string("does not fit: ") + e.what()}};
      } catch (const std::bad_alloc&) {
        point = {{"context", context}, {"batch", batch}, {"fits", false}, {"reason", "does not fit: out of host memory"}};
      }
    }
    std::ostringstream message;
    message << "context " << context << " batch " << batch << ": ";
    if (point["fits"].get<bool>())
      message << std::fixed << std::setprecision(2) << point["step_ms"].get<double>() << " ms/step, "
              << point["tok_s"].get<double>() << " tok/s, " << point["ratio_to_floor"].get<double>() << "x floor";
    else
      message << point["reason"].get<std::string>();
    progress(message.str());
    points.push_back(std::move(point));
  }
}

Json DecodeBench::run_point(int64_t context, int64_t batch, SequenceId source) {
  const Model& model = engine_.model();
  SequenceSet sequences(engine_);
  const std::vector<int32_t> tokens =
      s_.copy_fill ? std::vector<int32_t>{} : prompt_tokens(context, model.config().vocab_size, model.config().bos_token_id);

  // Fill: each sequence gets `context` tokens of KV (its own copy of the
  // source's blocks, or its own prefill), trimmed by the policy's lazy
  // layers, and its first generated token to feed next.
  const Clock::time_point fill_start = Clock::now();
  for (int64_t i = 0; i < batch; ++i) {
    if (s_.copy_fill) {
      sequences.add(engine_.fork(source, /*copy_blocks=*/true));
      drain();  // the copy is made in the next step
    } else {
      sequences.add(prefill(tokens).first);
    }
  }
  // Decode: every sequence feeds one token per step, all in one batched pass.
  for (SequenceId id : sequences.ids()) engine_.extend(id, {}, kWarmupSteps + s_.steps);
  auto step = [&] {
    int64_t produced = 0;
    for (const EngineEvent& event : engine_.step()) {
      if (event.kind == EngineEvent::Kind::Token) ++produced;
      if (event.kind == EngineEvent::Kind::Finished && event.reason == FinishReason::Error) throw Error(event.error);
    }
    SLKV_CHECK(produced == batch, "a decode step produced " << produced << " tokens for a batch of " << batch);
  };
  // Warm-up: waits for the fill's device copies, so none lands in the timed
  // steps; the second step records the step's CUDA graphs (see GraphRecorder).
  step();
  const double fill_seconds = seconds_since(fill_start);
  for (int64_t warmup = 1; warmup < kWarmupSteps; ++warmup) step();

  double decode_seconds = 0;
  double tokens_read = 0;
  for (int64_t s = 0; s < s_.steps; ++s) {
    const Clock::time_point begin = Clock::now();
    step();  // the sampled ids reach the host: the device is done
    decode_seconds += seconds_since(begin);
    // What this step's attention read: what is held after it (a rolling
    // window drops its oldest token before the new one attends).
    tokens_read += static_cast<double>(tokens_held(sequences.ids()));
  }
  drain();

  const int64_t per_token_layer = cache_.bytes_per_token_per_layer();
  const double step_seconds = decode_seconds / static_cast<double>(s_.steps);
  const int64_t weight_bytes = model.weight_bytes_per_token();
  const double kv_read = tokens_read / static_cast<double>(s_.steps) * static_cast<double>(per_token_layer);
  // The memory floor: every weight and every held KV byte read once per step.
  const double floor_seconds = (static_cast<double>(weight_bytes) + kv_read) / (bandwidth_gbps_ * 1e9);
  return {{"context", context},
          {"batch", batch},
          {"fits", true},
          {"steps", s_.steps},
          {"step_ms", step_seconds * 1e3},
          {"tok_s", static_cast<double>(batch) / step_seconds},
          {"weight_bytes_per_step", weight_bytes},
          {"kv_bytes_read_per_step", kv_read},
          {"kv_bytes_held", tokens_held(sequences.ids()) * per_token_layer},
          {"kv_bytes_full", tokens_appended(sequences.ids()) * per_token_layer},
          {"kv_block_bytes_held", blocks_held(sequences.ids()) * cache_.pool().bytes_per_block()},
          {"floor_ms", floor_seconds * 1e3},
          {"ratio_to_floor", step_seconds / floor_seconds},
          {"fill_seconds", fill_seconds}};
}

std::string gb(double bytes) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(bytes < 1e8 ? 4 : 2) << bytes / 1e9;
  return out.str();
}

void print_markdown(const Json& report) {
  std::cout << std::fixed;
  std::cout << "model " << report["model"].get<std::string>() << " (" << report["weight_dtype"].get<std::string>()
            << ", " << report["layers"] << " layers), device " << report["device"].get<std::string>()
            << (report["cuda_graphs"].get<bool>() ? " (CUDA graphs)" : "") << ", read bandwidth " << std::setprecision(1) << report["read_bandwidth_gbps"].get<double>()
            << " GB/s, weights read per step " << gb(report["weight_bytes_per_step"].get<double>()) << " GB\n";
  const Json& lazy = report["lazy_layers"];
  if (lazy.empty()) {
    std::cout << "KV: full (no layer windowed)";
  } else {
    std::cout << "KV: " << lazy.size() << " of " << report["layers"] << " layers windowed to sink "
              << report["sink"] << " + recent " << report["recent"] << " (Rolling): layers " << lazy.dump();
  }
  std::cout << "; fill " << report["fill"].get<std::string>() << ", " << report["steps"] << " timed steps\n\n";

  std::cout << "| context | prefill tok/s | prefill s |\n|---:|---:|---:|\n";
  for (const Json& row : report["prefill"]) {
    std::cout << "| " << row["context"] << " | ";
    if (row["fits"].get<bool>())
      std::cout << std::setprecision(1) << row["tok_s"].get<double>() << " | " << std::setprecision(2)
                << row["seconds"].get<double>() << " |\n";
    else
      std::cout << row["reason"].get<std::string>() << " | |\n";
  }
  std::cout << "\n| context | batch | ms/step | tok/s | weight GB/step | KV read GB/step | KV held GB | full KV GB "
               "| floor ms | step/floor |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const Json& p : report["points"]) {
    std::cout << "| " << p["context"] << " | " << p["batch"] << " | ";
    if (!p["fits"].get<bool>()) {
      std::cout << p["reason"].get<std::string>() << " | | | | | | | |\n";
      continue;
    }
    std::cout << std::setprecision(2) << p["step_ms"].get<double>() << " | " << std::setprecision(1)
              << p["tok_s"].get<double>() << " | " << gb(p["weight_bytes_per_step"].get<double>()) << " | "
              << gb(p["kv_bytes_read_per_step"].get<double>()) << " | " << gb(p["kv_bytes_held"].get<double>())
              << " | " << gb(p["kv_bytes_full"].get<double>()) << " | " << std::setprecision(3)
              << p["floor_ms"].get<double>() << " | " << std::setprecision(2) << p["ratio_to_floor"].get<double>()
              << " |\n";
  }
  std::cout << "\nlargest batch that fits:";
  for (const auto& [context, batch] : report["largest_fitting_batch"].items())
    std::cout << " " << context << " -> " << batch;
  std::cout << "\n";
}

}  // namespace

int run_bench_decode(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Time batched decode steps at given contexts and batch sizes against the memory floor "
                           "(weight + KV bytes read per step / measured read bandwidth)");
  // clang-format off
  options.add_options()
      ("model", "model directory", cxxopts::value<std::string>())
      ("batch", "comma-separated batch sizes", cxxopts::value<std::string>()->default_value("1,8,32"))
      ("context", "comma-separated context lengths (tokens of KV per sequence before decoding)",
       cxxopts::value<std::string>()->default_value("4096,16384,32768"))
      ("lazy-fraction", "fraction of the layers (evenly spread) windowed to sink + recent, 0 = full KV",
       cxxopts::value<double>()->default_value("0"))
      ("sink", "windowed layers keep the first SINK tokens", cxxopts::value<int64_t>()->default_value("4"))
      ("recent", "and the RECENT most recent ones", cxxopts::value<int64_t>()->default_value("1024"))
      ("steps", "timed decode steps per point (after two warm-up steps)", cxxopts::value<int64_t>()->default_value("16"))
      ("prefill-reps", "prefills timed per context (the median is reported)", cxxopts::value<int>()->default_value("1"))
      ("prefill-chunk", "most tokens per prefill forward (bounds scratch memory)",
       cxxopts::value<int64_t>()->default_value("4096"))
      ("fill", "how the batch's KV is filled: prefill (every sequence) or copy (of the context's prefilled sequence)",
       cxxopts::value<std::string>()->default_value("prefill"))
      ("kv-budget-gib", "KV memory points may use; larger points are reported as not fitting (0 = what the device has free)",
       cxxopts::value<double>()->default_value("0"))
      ("bandwidth-gbps", "use this read bandwidth instead of measuring it", cxxopts::value<double>()->default_value("0"))
      ("max-seconds", "skip the points left once this much time has passed (0 = no limit)",
       cxxopts::value<double>()->default_value("0"))
      ("json", "print one JSON object");
  // clang-format on
  add_device_options(options, default_thread_count());
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const Clock::time_point start = Clock::now();

  // Every flag is checked before the model is read.
  const std::filesystem::path model_dir = required_flag(args, "model", "DIR");
  const DeviceChoice choice = device_choice(args);
  const int threads = choice.threads;
  Settings settings;
  settings.batches = parse_positive_list(args["batch"].as<std::string>(), "batch");
  settings.contexts = parse_positive_list(args["context"].as<std::string>(), "context");
  std::sort(settings.contexts.begin(), settings.contexts.end());  // ascending: cheap points first
  const double lazy_fraction = args["lazy-fraction"].as<double>();
  if (!(lazy_fraction >= 0 && lazy_fraction <= 1))
    throw Error("--lazy-fraction must be between 0 and 1, got " + std::to_string(lazy_fraction));
  settings.sink = args["sink"].as<int64_t>();
  settings.recent = args["recent"].as<int64_t>();
  if (settings.sink < 0) throw Error("--sink must be >= 0");
  if (settings.recent < 1) throw Error("--recent must be >= 1");
  settings.steps = args["steps"].as<int64_t>();
  if (settings.steps < 1) throw Error("--steps must be >= 1");
  settings.prefill_reps = args["prefill-reps"].as<int>();
  if (settings.prefill_reps < 1) throw Error("--prefill-reps must be >= 1");
  settings.prefill_chunk = args["prefill-chunk"].as<int64_t>();
  if (settings.prefill_chunk < 1) throw Error("--prefill-chunk must be >= 1");
  const std::string fill = args["fill"].as<std::string>();
  if (fill != "prefill" && fill != "copy") throw Error("--fill must be prefill or copy, got '" + fill + "'");
  settings.copy_fill = fill == "copy";
  const double budget_gib = args["kv-budget-gib"].as<double>();
  if (!(budget_gib >= 0)) throw Error("--kv-budget-gib must be >= 0");
  double bandwidth_gbps = args["bandwidth-gbps"].as<double>();
  if (!(bandwidth_gbps >= 0)) throw Error("--bandwidth-gbps must be >= 0");
  settings.max_seconds = args["max-seconds"].as<double>();
  if (!(settings.max_seconds >= 0)) throw Error("--max-seconds must be >= 0");

  // A GPU backend must exist before the model (its parameters are copied
  // into it) and outlive the model and the cache.
  std::unique_ptr<Backend> owned_backend = make_backend(choice);
  Backend& backend = *owned_backend;
  std::unique_ptr<Model> owned_model = Model::load(model_dir, {}, &backend);
  Model& model = *owned_model;
  const ModelConfig& config = model.config();
  settings.lazy_layers = evenly_spread_layers(lazy_fraction, config.num_layers);
  if (bandwidth_gbps == 0) bandwidth_gbps = read_bandwidth_gbps(choice.device, threads);

  // One engine for the whole run: points add and release sequences and the
  // pool recycles its blocks, so device memory is allocated once, not per point.
  const int64_t block_size = 16;
  const AttentionShape heads = model.attention_shape();
  const int64_t bytes_per_block =
      2 * block_size * heads.n_kv_heads * config.head_dim * static_cast<int64_t>(sizeof(float));
  // Scratch activations of a prefill chunk, twice over for the backend's temporaries.
  const int64_t chunk = std::min(settings.prefill_chunk, settings.contexts.back());
  const int64_t scratch_floats_per_token = 3 * config.hidden_size + 2 * heads.n_heads * config.head_dim +
                                           2 * heads.n_kv_heads * config.head_dim + 2 * config.intermediate_size +
                                           heads.n_heads;
  const int64_t reserve = 2 * chunk * scratch_floats_per_token * static_cast<int64_t>(sizeof(float)) + (int64_t(1) << 30);
  settings.kv_budget = budget_gib > 0 ? static_cast<int64_t>(budget_gib * (1ll << 30))
                                      : automatic_kv_budget(choice.device, model.loaded_bytes(), reserve);
  int64_t max_blocks = 1;
  for (int64_t context : settings.contexts)
    for (int64_t batch : settings.batches) {
      const int64_t blocks = blocks_needed(settings, config.num_layers, block_size, context, batch);
      if (settings.kv_budget < 0 || blocks * bytes_per_block <= settings.kv_budget)
        max_blocks = std::max(max_blocks, blocks);
    }
  EngineConfig engine_config;
  engine_config.kv_blocks = max_blocks;
  const int64_t largest_batch = *std::max_element(settings.batches.begin(), settings.batches.end());
  engine_config.limits.max_batch = largest_batch + 1;  // the batch and its source
  engine_config.limits.max_batch_tokens = std::max(settings.prefill_chunk, largest_batch);
  // The windowed layers are SimLayerKV's lazy layers, fixed rather than scored.
  if (!settings.lazy_layers.empty()) {
    engine_config.kv_policy.kind = KvPolicyKind::SimLayerKV;
    engine_config.kv_policy.fixed_lazy_layers.assign(config.num_layers, false);
    for (int64_t layer : settings.lazy_layers) engine_config.kv_policy.fixed_lazy_layers[layer] = true;
  }
  engine_config.kv_policy.sink = settings.sink;
  engine_config.kv_policy.recent = settings.recent;
  engine_config.kv_policy.growth = WindowGrowth::Rolling;
  Engine engine(model, backend, engine_config);
  const KvCache& cache = engine.cache();

  Json prefill = Json::array(), points = Json::array();
  DecodeBench bench(engine, settings, bandwidth_gbps, start);
  for (int64_t context : settings.contexts) bench.run_context(context, prefill, points);

  Json largest = Json::object();
  for (const Json& point : points)
    if (point["fits"].get<bool>()) {
      const std::string key = std::to_string(point["context"].get<int64_t>());
      largest[key] = std::max(largest.value(key, int64_t(0)), point["batch"].get<int64_t>());
    }
  bool cuda_graphs = false;
#ifdef SLKV_HAVE_CUDA
  if (const auto* cuda = dynamic_cast<const CudaBackend*>(&backend)) cuda_graphs = cuda->graphs_enabled();
#endif
  Json report = {{"model", model_dir.string()},
                 {"device", choice.device},
                 {"cuda_graphs", cuda_graphs},
                 {"threads", threads},
                 {"weight_dtype", std::string(dtype_name(model.weights().tensors().begin()->second.dtype))},
                 {"layers", config.num_layers},
                 {"hidden_size", config.hidden_size},
                 {"n_heads", heads.n_heads},
                 {"n_kv_heads", heads.n_kv_heads},
                 {"head_dim", config.head_dim},
                 {"vocab_size", config.vocab_size},
                 {"read_bandwidth_gbps", bandwidth_gbps},
                 {"weight_bytes_per_step", model.weight_bytes_per_token()},
                 {"kv_bytes_per_token_per_layer", cache.bytes_per_token_per_layer()},
                 {"kv_budget_bytes", settings.kv_budget},
                 {"fill", fill},
                 {"steps", settings.steps},
                 {"lazy_fraction", lazy_fraction},
                 {"lazy_layers", settings.lazy_layers},
                 {"sink", settings.sink},
                 {"recent", settings.recent},
                 {"prefill", prefill},
                 {"points", points},
                 {"largest_fitting_batch", largest},
                 {"seconds", seconds_since(start)}};
  // Printed before the cache and model are torn down (freeing a large device
  // pool block by block takes a while).
  if (args.count("json"))
    std::cout << report.dump() << std::endl;
  else
    print_markdown(report);
  std::cout.flush();
  return 0;
}

}  // namespace slkv
