// slkv bench: prefill and decode speed, achieved weight bandwidth and peak
// RSS on one model, with llama.cpp timed on the same model directory in the
// same run (../shared/anchors/llamacpp-bench) so the report is a ratio.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <cxxopts.hpp>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "kernels/backend.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/memory_bandwidth.h"
#include "core/cpu_cache.h"
#include "launch/cli_common.h"
#include "launch/commands.h"
#include "launch/device_choice.h"
#include "launch/rank_layout.h"
#include "parallel/mpi_communicator.h"
#include "core/error.h"
#include "core/stats.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/run_to_completion.h"
#include "runtime/model.h"
#include "runtime/sampler.h"
#include "runtime/tokenizer/tokenizer.h"

namespace slkv {
namespace {



// The same prompt tokens llama_decode_bench.c uses: BOS then an LCG's ids.
std::vector<int32_t> prefill_tokens(int64_t count, int64_t vocab, int32_t bos) {
  std::vector<int32_t> tokens(count);
  uint32_t state = 12345;
  for (int64_t i = 0; i < count; ++i) {
    state = state * 1103515245u + 12345u;
    tokens[i] = i == 0 && bos >= 0 ? bos : 3 + static_cast<int32_t>(state % static_cast<uint32_t>(vocab - 3));
  }
  return tokens;
}

// Runs a shell command and returns its standard output (stderr goes to a log).
std::string run_command(const std::string& command, int& exit_code) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) {
    exit_code = -1;
    return output;
  }
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  exit_code = pclose(pipe);
  return output;
}

}  // namespace

int run_bench(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Benchmark prefill/decode speed and memory, with llama.cpp on the same model");
  // clang-format off
  options.add_options()
      ("model", "model directory", cxxopts::value<std::string>())
      ("prefill-tokens", "prompt length for the prefill measurement", cxxopts::value<int64_t>()->default_value("512"))
      ("decode-tokens", "tokens generated for the decode measurement", cxxopts::value<int64_t>()->default_value("256"))
      ("reps", "repetitions (the median is reported)", cxxopts::value<int>()->default_value("3"))
      ("prompt", "decode prompt", cxxopts::value<std::string>()->default_value("Once upon a time"))
      ("llamacpp", "path of the llama.cpp anchor script, '' to skip (default: anchors/llamacpp-bench in $SLKV_SHARED, else in the shared/ beside the source tree)", cxxopts::value<std::string>())
      ("llamacpp-type", "weight type llama.cpp runs: f32 or f16 (default: f32 for F32 models, else f16)", cxxopts::value<std::string>())
      ("json", "print one JSON object");
  // clang-format on
  add_engine_options(options);
  add_parallel_options(options);
  add_device_options(options, default_thread_count());
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::filesystem::path model_dir = required_flag(args, "model", "DIR");
  const DeviceChoice choice = device_choice(args);
  const int threads = choice.threads;
  const int reps = args["reps"].as<int>();
  if (reps < 1) throw Error("--reps must be >= 1");

  // Under mpirun every rank runs its shard; rank 0 tokenizes, samples and reports.
  RankLayout layout = make_rank_layout(args, model_dir);
  RankModel rank = load_rank_model(layout, model_dir, choice);
  Model& model = *rank.model;
  Backend& backend = *rank.backend;
  const ModelConfig& config = model.config();
  const int64_t vocab = config.vocab_size;
  const int64_t context = config.max_position_embeddings;
  // The prefill request generates one token, so its prompt leaves a position for it.
  const int64_t n_prefill = std::min(args["prefill-tokens"].as<int64_t>(), context - 1);
  std::vector<std::vector<int32_t>> prompts;
  if (layout.coordinator())
    prompts.push_back(Tokenizer::load(model_dir).encode(args["prompt"].as<std::string>(), true));
  broadcast_token_lists(layout, prompts);
  const std::vector<int32_t>& prompt = prompts[0];
  const int64_t n_decode =
      std::min<int64_t>(args["decode-tokens"].as<int64_t>(), context - static_cast<int64_t>(prompt.size()));
  if (n_prefill < 1 || n_decode < 2) throw Error("the model's context is too short for this benchmark");

  // The engine runs the measurements: a prompt of n_prefill tokens in one
  // chunk (the step budget is raised to fit it), then greedy decode of one
  // sequence, EOS ignored (as llama_decode_bench.c).
  EngineConfig engine_config = engine_config_from_args(args, KvPolicyConfig{});
  engine_config.limits.max_batch_tokens = std::max(engine_config.limits.max_batch_tokens, n_prefill);
  Engine engine(model, backend, engine_config, layout.sync());
  std::vector<double> prefill_rates, decode_rates;
  const double communication_before = communication_seconds();
  if (layout.coordinator()) {
    const std::vector<int32_t> prefill_prompt = prefill_tokens(n_prefill, vocab, config.bos_token_id);
    for (int r = 0; r < reps; ++r) {
      EngineRequest request;
      request.prompt = prefill_prompt;
      request.max_new_tokens = 1;
      const RequestResult result = run_to_completion(engine, {request})[0];
      prefill_rates.push_back(n_prefill / result.prefill_seconds);
    }
    for (int r = 0; r < reps; ++r) {
      EngineRequest request;
      request.prompt = prompt;
      request.max_new_tokens = n_decode;
      const RequestResult result = run_to_completion(engine, {request})[0];
      decode_rates.push_back((static_cast<double>(result.tokens.size()) - 1) / result.decode_seconds);
    }
    engine.shutdown();
  } else {
    engine.follow();
  }
  std::vector<double> communication_ms_per_step{(communication_seconds() - communication_before) * 1e3 /
                                                std::max<int64_t>(1, engine.stats().steps)};
  if (!layout.coordinator()) {
    prefill_rates.assign(1, 0.0);
    decode_rates.assign(1, 0.0);
  }
  const double prefill_rate = median(prefill_rates);
  const double decode_rate = median(decode_rates);
  // Every rank's figures, on every rank (sums are whole-model figures).
  const std::vector<double> rank_weight_bytes =
      per_rank_values(layout, static_cast<double>(model.weight_bytes_per_token()));
  const std::vector<double> rank_loaded_bytes = per_rank_values(layout, static_cast<double>(model.loaded_bytes()));
  const std::vector<double> rank_communication_ms = per_rank_values(layout, median(communication_ms_per_step));
  const std::vector<double> rank_rss_mib = per_rank_values(layout, peak_rss_bytes() / (1024.0 * 1024.0));
  if (!layout.coordinator()) return 0;
  double weight_bytes = 0;
  for (double bytes : rank_weight_bytes) weight_bytes += bytes;
  const double achieved_gbps = weight_bytes * decode_rate / 1e9;
  const double rss_mib = rank_rss_mib[0];
  const double step_ms = 1e3 / decode_rate;
  const bool single = !layout.distributed();
  // The CPU comparisons (host read bandwidth, llama.cpp's CPU build) only mean
  // something for a single CPU process; `slkv bench-decode` covers GPUs.
  const bool cpu_alone = single && choice.device == "cpu";
  // Measured with every core to itself (under mpirun the other ranks would
  // compete for them), each thread reading as many streams as the GEMV.
  const DType weight_dtype = model.weights().tensors().begin()->second.dtype;
  const int streams = cpu::gemv_streams();
  // Read once here and once more after llama.cpp's run, the higher kept: this
  // VM's bandwidth moves within seconds, and one reading right after decode
  // came out below what the decode itself had just read (41.2 against 55.4
  // GB/s). Both come after the peak RSS above, which their 1 GiB buffer would
  // otherwise inflate.
  auto measure_bandwidth = [&] { return measure_memory_read_bandwidth_gbps(threads, size_t(1) << 30, streams); };
  std::vector<double> bandwidth_readings;
  if (cpu_alone) bandwidth_readings.push_back(measure_bandwidth());

  nlohmann::json report = {
      {"model", model_dir.string()},
      {"threads", threads},
      {"weight_dtype", std::string(dtype_name(weight_dtype))},
      {"parameters", config.parameter_count()},
      {"prefill_tokens", n_prefill},
      {"prefill_tok_s", prefill_rate},
      {"decode_tokens", n_decode},
      {"decode_tok_s", decode_rate},
      {"decode_step_ms", step_ms},
      {"weight_bytes_per_token", weight_bytes},
      {"decode_weight_gbps", achieved_gbps},
      {"peak_rss_mib", rss_mib},
  };
  report["device"] = choice.device;
  // Weights that fit in the last-level cache make decode a cache benchmark
  // (said for one CPU process, where the figures compare with llama.cpp's).
  const CpuCache llc = last_level_cache();
  const bool fits_in_cache = cpu_alone && llc.bytes > 0 && weight_bytes <= static_cast<double>(llc.bytes);
  if (choice.device == "cpu") report["last_level_cache"] = {{"level", llc.level}, {"bytes", llc.bytes}};
  if (fits_in_cache) report["weights_fit_in_last_level_cache"] = true;
  if (!single) {
    std::vector<double> compute_ms;
    for (double ms : rank_communication_ms) compute_ms.push_back(step_ms - ms);
    report["parallel"] = {{"world_size", layout.topology.world_size},
                          {"tp", layout.topology.tp},
                          {"pp", layout.topology.pp},
                          {"loaded_bytes_per_rank", rank_loaded_bytes},
                          {"weight_bytes_per_token_per_rank", rank_weight_bytes},
                          {"communication_ms_per_step_per_rank", rank_communication_ms},
                          {"other_ms_per_step_per_rank", compute_ms},
                          {"peak_rss_mib_per_rank", rank_rss_mib}};
  }

  // llama.cpp on the same directory, in the same run.
  // Only for one CPU process: under mpirun its threads would share the cores with the other ranks.
  std::string anchor;
  if (cpu_alone)
    anchor = args.count("llamacpp") ? args["llamacpp"].as<std::string>() : (shared_data_dir() / "anchors" / "llamacpp-bench").string();
  if (!anchor.empty()) {
    std::string type = args.count("llamacpp-type")       ? args["llamacpp-type"].as<std::string>()
                       : report["weight_dtype"] == "F32" ? "f32"
                                                         : "f16";
    if (type != "f32" && type != "f16") throw Error("--llamacpp-type must be f32 or f16, got " + type);
    std::string command = "'" + anchor + "' '" + model_dir.string() + "' " + type + " " + std::to_string(threads) +
                          " " + std::to_string(n_decode) + " " + std::to_string(n_prefill) + " " +
                          std::to_string(reps) + " 2>/tmp/slkv-llamacpp-bench.log";
    int exit_code = 0;
    std::string output = run_command(command, exit_code);
    nlohmann::json anchor_report = nlohmann::json::parse(output, nullptr, false);
    if (exit_code != 0 || !anchor_report.is_object()) {
      report["llamacpp"] = {
          {"error", "anchor failed (exit " + std::to_string(exit_code) + "), see /tmp/slkv-llamacpp-bench.log"}};
    } else {
      const double ll_decode = anchor_report.value("decode_tok_s", 0.0);
      const double ll_prefill = anchor_report.value("prefill_tok_s", 0.0);
      report["llamacpp"] = {{"type", type}, {"decode_tok_s", ll_decode}, {"prefill_tok_s", ll_prefill}};
      if (ll_decode > 0) report["decode_ratio_vs_llamacpp"] = decode_rate / ll_decode;
      if (ll_prefill > 0) report["prefill_ratio_vs_llamacpp"] = prefill_rate / ll_prefill;
    }
  }

  double bandwidth_gbps = 0.0;
  if (cpu_alone) {
    bandwidth_readings.push_back(measure_bandwidth());
    bandwidth_gbps = *std::max_element(bandwidth_readings.begin(), bandwidth_readings.end());
    report["memory_read_gbps"] = bandwidth_gbps;
    report["memory_read_gbps_readings"] = bandwidth_readings;
    report["memory_read_streams_per_thread"] = streams;
  }

  if (fits_in_cache)
    std::cerr << "warning: the weights read per token (" << static_cast<int64_t>(weight_bytes / (1 << 20))
              << " MiB) fit in the " << llc.bytes / (1 << 20) << " MiB L" << llc.level
              << " cache: decode measures the cache, not memory bandwidth (use a model several times larger)\n";
  if (args.count("json")) {
    std::cout << report.dump() << "\n";
    return 0;
  }
  std::cout << std::fixed << std::setprecision(1);
  std::cout << "model            " << model_dir.string() << " (" << report["weight_dtype"].get<std::string>() << ", "
            << config.parameter_count() / 1e6 << " M parameters), " << threads << " threads\n"
            << "prefill          " << prefill_rate << " tok/s (" << n_prefill << "-token prompt)\n"
            << "decode           " << decode_rate << " tok/s (" << n_decode << " tokens, " << std::setprecision(2)
            << step_ms << " ms per step), " << achieved_gbps << " GB/s of weights";
  if (cpu_alone) std::cout << "; memory read bandwidth " << bandwidth_gbps << " GB/s (" << streams << " streams per thread)";
  if (choice.device == "cpu" && llc.bytes > 0)
    std::cout << "; L" << llc.level << " cache " << llc.bytes / (1 << 20) << " MiB";
  std::cout << "\n" << std::setprecision(1) << "peak RSS         " << rss_mib << " MiB (rank 0)\n";
  if (!single) {
    std::cout << "rank  loaded MiB  communication ms/step  other ms/step  peak RSS MiB\n" << std::setprecision(2);
    for (int r = 0; r < layout.topology.world_size; ++r)
      std::cout << std::setw(4) << r << std::setw(12) << rank_loaded_bytes[r] / (1024.0 * 1024.0) << std::setw(23)
                << rank_communication_ms[r] << std::setw(15) << step_ms - rank_communication_ms[r] << std::setw(14)
                << rank_rss_mib[r] << "\n";
  }
  if (report.contains("llamacpp")) {
    if (report["llamacpp"].contains("error")) {
      std::cout << "llama.cpp        " << report["llamacpp"]["error"].get<std::string>() << "\n";
    } else {
      std::cout << "llama.cpp        decode " << report["llamacpp"]["decode_tok_s"].get<double>() << " tok/s, prefill "
                << report["llamacpp"]["prefill_tok_s"].get<double>() << " tok/s\n"
                << std::setprecision(2) << "slkv / llama.cpp decode " << report.value("decode_ratio_vs_llamacpp", 0.0)
                << "x, prefill " << report.value("prefill_ratio_vs_llamacpp", 0.0) << "x\n";
    }
  }
  return 0;
}

}  // namespace slkv
