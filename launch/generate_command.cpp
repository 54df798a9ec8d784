// slkv generate: text generation for one prompt (streamed) or a batch of
// prompts (--prompts-file, run together as one batch).
#include <algorithm>
#include <chrono>
#include <cxxopts.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "kernels/backend.h"
#include "launch/cli_common.h"
#include "launch/commands.h"
#include "launch/kv_policy_options.h"
#include "runtime/error.h"
#include "runtime/generator.h"
#include "runtime/model.h"
#include "runtime/tokenizer.h"

namespace slkv {
namespace {

// The text the generated ids add after the prompt. Decoding the whole
// sequence keeps word-boundary spaces that decoding the new ids alone drops.
std::string continuation_text(const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                              const std::vector<int32_t>& generated) {
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), generated.begin(), generated.end());
  std::string full = tokenizer.decode(all, /*skip_special_tokens=*/true);
  std::string prefix = tokenizer.decode(prompt, /*skip_special_tokens=*/true);
  if (full.compare(0, prefix.size(), prefix) == 0) return full.substr(prefix.size());
  return tokenizer.decode(generated, true);
}

}  // namespace

int run_generate(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Generate text with a Hugging Face Llama/Mistral/Qwen2 model directory");
  options.add_options()("model", "model directory (config.json, *.safetensors, tokenizer.json)",
                        cxxopts::value<std::string>())("prompt", "prompt text", cxxopts::value<std::string>())(
      "prompts-file", "file with one JSON string per line, run together as one batch", cxxopts::value<std::string>())(
      "max-new-tokens", "tokens to generate at most", cxxopts::value<int64_t>()->default_value("256"))(
      "temperature", "0 = greedy (default: generation_config.json, else 0)", cxxopts::value<float>())(
      "top-k", "keep the k most likely tokens (0 = off)", cxxopts::value<int64_t>())(
      "top-p", "nucleus sampling mass (1 = off)", cxxopts::value<float>())("seed", "sampling seed (default: random)",
                                                                           cxxopts::value<uint64_t>())(
      "threads", "CPU threads", cxxopts::value<int>()->default_value(std::to_string(default_thread_count())))(
      "device", "cpu (the CUDA backend is not available yet)", cxxopts::value<std::string>()->default_value("cpu"))(
      "json", "print one JSON object per prompt instead of streaming text")("h,help", "show this help");
  add_kv_policy_options(options);
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    std::cout << options.help() << "\n";
    return 0;
  }
  if (!args.count("model")) throw Error("--model DIR is required");
  if (args.count("prompt") == args.count("prompts-file"))
    throw Error("give exactly one of --prompt TEXT or --prompts-file FILE");
  if (args["device"].as<std::string>() != "cpu")
    throw Error("--device " + args["device"].as<std::string>() + " is not available: this build runs on cpu only");
  const int threads = args["threads"].as<int>();
  if (threads < 1) throw Error("--threads must be >= 1");
  const bool json_output = args.count("json") > 0;
  const std::filesystem::path model_dir = args["model"].as<std::string>();

  std::vector<std::string> prompts = args.count("prompt") ? std::vector<std::string>{args["prompt"].as<std::string>()}
                                                          : read_prompts_file(args["prompts-file"].as<std::string>());
  SamplingParams sampling = generation_defaults(model_dir);
  if (args.count("temperature")) sampling.temperature = args["temperature"].as<float>();
  if (args.count("top-k")) sampling.top_k = args["top-k"].as<int64_t>();
  if (args.count("top-p")) sampling.top_p = args["top-p"].as<float>();
  sampling.seed = args.count("seed") ? args["seed"].as<uint64_t>() : std::random_device{}();
  sampling.validate();
  const int64_t max_new_tokens = args["max-new-tokens"].as<int64_t>();
  if (max_new_tokens < 0) throw Error("--max-new-tokens must be >= 0, got " + std::to_string(max_new_tokens));

  auto load_start = std::chrono::steady_clock::now();
  Tokenizer tokenizer = Tokenizer::load(model_dir);
  std::unique_ptr<Model> model = Model::load(model_dir);
  std::unique_ptr<Backend> backend = make_cpu_backend(threads);
  const KvPolicyConfig kv_policy = kv_policy_from_args(args, model->config());
  const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();

  std::vector<GenerationRequest> requests;
  std::vector<int64_t> tokens_per_sequence;
  for (const std::string& prompt : prompts) {
    GenerationRequest request;
    request.prompt_tokens = tokenizer.encode(prompt, /*add_special_tokens=*/true);
    request.max_new_tokens = max_new_tokens;
    request.sampling = sampling;
    tokens_per_sequence.push_back(std::min<int64_t>(static_cast<int64_t>(request.prompt_tokens.size()) + max_new_tokens,
                                                    model->config().max_position_embeddings));
    requests.push_back(std::move(request));
  }
  std::vector<int32_t> stop_tokens = model->config().eos_token_ids;
  if (tokenizer.eos_id() >= 0 &&
      std::find(stop_tokens.begin(), stop_tokens.end(), tokenizer.eos_id()) == stop_tokens.end())
    stop_tokens.push_back(tokenizer.eos_id());

  KvCache cache(kv_geometry_for(model->config(), tokens_per_sequence));
  Generator generator(*model, *backend, cache, stop_tokens, kv_policy);

  // A single prompt streams its text as it is generated.
  const bool stream = !json_output && requests.size() == 1;
  std::optional<IncrementalDecoder> stream_decoder;
  if (stream) {
    stream_decoder.emplace(tokenizer);
    for (int32_t id : requests[0].prompt_tokens) stream_decoder->push(id);
    std::cout << prompts[0] << std::flush;
  }
  TokenCallback on_token;
  if (stream) on_token = [&](size_t, int32_t id) { std::cout << stream_decoder->push(id) << std::flush; };

  std::vector<GenerationResult> results = generator.generate(requests, on_token);

  for (size_t i = 0; i < results.size(); ++i) {
    const GenerationResult& result = results[i];
    const std::string text = continuation_text(tokenizer, requests[i].prompt_tokens, result.tokens);
    if (json_output) {
      nlohmann::json out;
      out["prompt_tokens"] = requests[i].prompt_tokens.size();
      out["prompt_token_ids"] = requests[i].prompt_tokens;
      out["tokens"] = result.tokens;
      out["text"] = text;
      out["finish_reason"] = result.finish_reason;
      out["seed"] = sampling.seed;
      out["kv"] = to_json(result.kv);
      size_t batch_prompt_tokens = 0, batch_generated = 0;
      for (size_t j = 0; j < results.size(); ++j) {
        batch_prompt_tokens += requests[j].prompt_tokens.size();
        batch_generated += results[j].tokens.size();
      }
      out["timings"] = {
          {"load_ms", load_seconds * 1e3},
          {"prefill_ms", result.prefill_seconds * 1e3},
          {"decode_ms", result.decode_seconds * 1e3},
          {"batch_size", results.size()},
          {"prefill_tokens_per_s", result.prefill_seconds > 0 ? batch_prompt_tokens / result.prefill_seconds : 0.0},
          // The first token of each sequence comes from prefill; the rest from decode steps.
          {"decode_tokens_per_s",
           result.decode_seconds > 0
               ? (batch_generated - std::min(batch_generated, results.size())) / result.decode_seconds
               : 0.0},
      };
      std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else if (stream) {
      std::cout << stream_decoder->finish() << "\n";
      std::cerr << "[" << requests[i].prompt_tokens.size() << " prompt tokens, " << result.tokens.size()
                << " generated, finish: " << result.finish_reason << ", prefill " << result.prefill_seconds * 1e3
                << " ms, decode " << result.decode_seconds * 1e3 << " ms]\n";
    } else {
      std::cout << "### prompt " << i + 1 << " (" << result.finish_reason << ")\n" << prompts[i] << text << "\n\n";
    }
  }
  return 0;
}

}  // namespace slkv
