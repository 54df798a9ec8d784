// slkv bench: prefill and decode speed, achieved weight bandwidth and peak
// RSS on one model, with llama.cpp timed on the same model directory in the
// same run (../shared/anchors/llamacpp-bench) so the report is a ratio.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cxxopts.hpp>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "kernels/backend.h"
#include "kernels/cpu/memory_bandwidth.h"
#include "launch/cli_common.h"
#include "launch/commands.h"
#include "runtime/error.h"
#include "runtime/model.h"
#include "runtime/sampler.h"
#include "runtime/tokenizer.h"

namespace slkv {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}


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
      ("threads", "CPU threads", cxxopts::value<int>()->default_value(std::to_string(default_thread_count())))
      ("prefill-tokens", "prompt length for the prefill measurement", cxxopts::value<int64_t>()->default_value("512"))
      ("decode-tokens", "tokens generated for the decode measurement", cxxopts::value<int64_t>()->default_value("256"))
      ("reps", "repetitions (the median is reported)", cxxopts::value<int>()->default_value("3"))
      ("prompt", "decode prompt", cxxopts::value<std::string>()->default_value("Once upon a time"))
      ("llamacpp", "path of the llama.cpp anchor script ('' to skip)", cxxopts::value<std::string>()->default_value(std::string(SLKV_SOURCE_DIR) + "/../shared/anchors/llamacpp-bench"))
      ("llamacpp-type", "weight type llama.cpp runs: f32 or f16 (default: f32 for F32 models, else f16)", cxxopts::value<std::string>())
      ("json", "print one JSON object");
  // clang-format on
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::filesystem::path model_dir = required_flag(args, "model", "DIR");
  const int threads = args["threads"].as<int>();
  const int reps = args["reps"].as<int>();
  if (threads < 1 || reps < 1) throw Error("--threads and --reps must be >= 1");

  Tokenizer tokenizer = Tokenizer::load(model_dir);
  std::unique_ptr<Model> model = Model::load(model_dir);
  std::unique_ptr<Backend> backend = make_cpu_backend(threads);
  const ModelConfig& config = model->config();
  const int64_t vocab = config.vocab_size;
  const int64_t context = config.max_position_embeddings;
  const int64_t n_prefill = std::min(args["prefill-tokens"].as<int64_t>(), context);
  const std::vector<int32_t> prompt = tokenizer.encode(args["prompt"].as<std::string>(), true);
  const int64_t n_decode =
      std::min<int64_t>(args["decode-tokens"].as<int64_t>(), context - static_cast<int64_t>(prompt.size()));
  if (n_prefill < 1 || n_decode < 2) throw Error("the model's context is too short for this benchmark");

  KvCache cache(
      kv_geometry_for(config, {std::max<int64_t>(n_prefill, static_cast<int64_t>(prompt.size()) + n_decode)}));
  std::vector<float> logits;

  // Prefill: one batched pass over n_prefill tokens, fresh cache each time.
  std::vector<double> prefill_rates;
  const std::vector<int32_t> prefill_prompt = prefill_tokens(n_prefill, vocab, config.bos_token_id);
  for (int r = 0; r < reps; ++r) {
    SequenceId sequence = cache.add_sequence();
    SequenceChunk chunk{sequence, prefill_prompt, 0};
    double start = now_seconds();
    model->forward(std::span(&chunk, 1), cache, *backend, LogitsFor::LastToken, logits);
    prefill_rates.push_back(n_prefill / (now_seconds() - start));
    cache.remove_sequence(sequence);
  }

  // Decode: greedy, one token per step, prompt excluded (as llama_decode_bench.c).
  std::vector<double> decode_rates;
  for (int r = 0; r < reps; ++r) {
    SequenceId sequence = cache.add_sequence();
    SequenceChunk chunk{sequence, prompt, 0};
    model->forward(std::span(&chunk, 1), cache, *backend, LogitsFor::LastToken, logits);
    int32_t token = argmax(logits);
    double start = now_seconds();
    for (int64_t i = 1; i < n_decode; ++i) {
      SequenceChunk step{sequence, std::span<const int32_t>(&token, 1), static_cast<int64_t>(prompt.size()) + i - 1};
      model->forward(std::span(&step, 1), cache, *backend, LogitsFor::LastToken, logits);
      token = argmax(logits);
    }
    decode_rates.push_back((n_decode - 1) / (now_seconds() - start));
    cache.remove_sequence(sequence);
  }
  const double prefill_rate = median(prefill_rates);
  const double decode_rate = median(decode_rates);
  const double weight_bytes = static_cast<double>(model->weight_bytes_per_token());
  const double achieved_gbps = weight_bytes * decode_rate / 1e9;
  const double rss_mib = peak_rss_bytes() / (1024.0 * 1024.0);
  const double bandwidth_gbps = measure_memory_read_bandwidth_gbps(threads);

  nlohmann::json report = {
      {"model", model_dir.string()},
      {"threads", threads},
      {"weight_dtype", std::string(dtype_name(model->weights().tensors().begin()->second.dtype))},
      {"parameters", config.parameter_count()},
      {"prefill_tokens", n_prefill},
      {"prefill_tok_s", prefill_rate},
      {"decode_tokens", n_decode},
      {"decode_tok_s", decode_rate},
      {"weight_bytes_per_token", weight_bytes},
      {"decode_weight_gbps", achieved_gbps},
      {"memory_read_gbps", bandwidth_gbps},
      {"peak_rss_mib", rss_mib},
  };

  // llama.cpp on the same directory, in the same run.
  const std::string anchor = args["llamacpp"].as<std::string>();
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

  if (args.count("json")) {
    std::cout << report.dump() << "\n";
    return 0;
  }
  std::cout << std::fixed << std::setprecision(1);
  std::cout << "model            " << model_dir.string() << " (" << report["weight_dtype"].get<std::string>() << ", "
            << config.parameter_count() / 1e6 << " M parameters), " << threads << " threads\n"
            << "prefill          " << prefill_rate << " tok/s (" << n_prefill << "-token prompt)\n"
            << "decode           " << decode_rate << " tok/s (" << n_decode << " tokens), " << std::setprecision(2)
            << achieved_gbps << " GB/s of weights; memory read bandwidth " << bandwidth_gbps << " GB/s\n"
            << std::setprecision(1) << "peak RSS         " << rss_mib << " MiB\n";
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
