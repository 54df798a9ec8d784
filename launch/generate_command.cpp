// slkv generate: text generation for one prompt (streamed) or a batch of
// prompts (--prompts-file, continuously batched by the engine).
#include <algorithm>
#include <chrono>
#include <cxxopts.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <random>

#include "kernels/backend.h"
#include "launch/cli_common.h"
#include "launch/commands.h"
#include "launch/device_choice.h"
#include "launch/kv_policy_options.h"
#include "launch/rank_layout.h"
#include "launch/sampling_options.h"
#include "parallel/fault_injection.h"
#include "parallel/mpi_communicator.h"
#include "parallel/topology.h"
#include "core/error.h"
#include "core/timer.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/run_to_completion.h"
#include "runtime/model.h"
#include "runtime/tokenizer/tokenizer.h"

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

// Every rank writes DIR/rank<N>.json: the decision vector it applied per sequence.
void dump_decisions(const std::filesystem::path& dir, const Topology& topology, IndexRange layers,
                    const std::map<SequenceId, LayerDecisions>& decisions) {
  std::filesystem::create_directories(dir);
  nlohmann::json out;
  out["rank"] = topology.rank;
  out["tp_rank"] = topology.tp_rank;
  out["pp_rank"] = topology.pp_rank;
  out["layers"] = {layers.begin, layers.end};
  out["sequences"] = nlohmann::json::array();
  for (const auto& [sequence, decided] : decisions) out["sequences"].push_back(decided.lazy);
  const std::filesystem::path file = dir / ("rank" + std::to_string(topology.rank) + ".json");
  std::ofstream stream(file);
  if (!(stream << out.dump() << "\n")) throw Error("cannot write " + file.string());
}

}  // namespace

int run_generate(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Generate text with a Hugging Face Llama/Mistral/Qwen2 model directory");
  // clang-format off
  options.add_options()
      ("model", "model directory (config.json, *.safetensors, tokenizer.json)", cxxopts::value<std::string>())
      ("prompt", "prompt text", cxxopts::value<std::string>())
      ("prompts-file", "file with one JSON string per line, continuously batched", cxxopts::value<std::string>())
      ("prompt-ids", "file (- = stdin) with a JSON array of token ids: the prompt exactly (no BOS added), e.g. a chat's history",
       cxxopts::value<std::string>())
      ("json", "print one JSON object per prompt instead of streaming text")
      ("dump-decisions", "every rank writes DIR/rank<N>.json with the lazy-layer decisions it applied", cxxopts::value<std::string>())
      ("micro-batches", "split each batch into this many micro-batches so pipeline stages overlap (default: --pp)", cxxopts::value<int64_t>())
      ("dump-logits", "--json: add the logits every token was sampled from (\"step_logits\")");
  // clang-format on
  add_sampling_options(options);
  add_kv_policy_options(options);
  add_engine_options(options);
  add_parallel_options(options);
  add_device_options(options, default_thread_count());
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::filesystem::path model_dir = required_flag(args, "model", "DIR");
  if (args.count("prompt") + args.count("prompts-file") + args.count("prompt-ids") != 1)
    throw UsageError("give exactly one of --prompt TEXT, --prompts-file FILE or --prompt-ids FILE");
  const DeviceChoice choice = device_choice(args);
  const bool json_output = args.count("json") > 0;

  // The grid and the slices are checked against config.json before any weight is read.
  RankLayout layout = make_rank_layout(args, model_dir);
  const Topology& topology = layout.topology;
  const ModelShard& shard = layout.shard;
  Coordinator* protocol = layout.protocol.get();
  const bool coordinator = layout.coordinator();
  const int64_t micro_batches = args.count("micro-batches") ? args["micro-batches"].as<int64_t>() : topology.pp;
  if (micro_batches < 1) throw Error("--micro-batches must be >= 1, got " + std::to_string(micro_batches));

  std::vector<std::string> prompts;
  std::vector<int32_t> prompt_ids;
  if (coordinator) {
    if (args.count("prompt")) prompts = {args["prompt"].as<std::string>()};
    if (args.count("prompts-file")) prompts = read_prompts_file(args["prompts-file"].as<std::string>());
    if (args.count("prompt-ids")) prompt_ids = read_prompt_ids(args["prompt-ids"].as<std::string>());
  }
  const SamplingChoice sampling_choice = sampling_from_args(args, model_dir);
  SamplingParams sampling = sampling_choice.params;
  const bool random_seed = sampling_choice.random_seed;
  if (protocol) protocol->broadcast_u64(sampling.seed);
  const int64_t max_new_tokens = sampling_choice.max_new_tokens;

  const Timer load_timer;
  // Only the coordinator tokenizes; the other ranks get token ids in the step plans.
  std::optional<Tokenizer> tokenizer;
  if (coordinator) tokenizer.emplace(Tokenizer::load(model_dir));
  maybe_inject_failure("load", topology.rank);
  RankModel rank = load_rank_model(layout, model_dir, choice);
  Model& model = *rank.model;
  const KvPolicyConfig kv_policy = kv_policy_from_args(args, model.config());
  EngineConfig engine_config = engine_config_from_args(args, kv_policy);
  engine_config.micro_batches = micro_batches;
  const double load_seconds = load_timer.seconds();

  std::vector<EngineRequest> requests;
  if (coordinator) {
    const std::vector<int32_t> stop_tokens = stop_token_ids(model.config(), *tokenizer);
    if (args.count("prompt-ids")) {  // the ids as they are; the echo and the text show what they say
      EngineRequest request;
      request.prompt = prompt_ids;
      request.max_new_tokens = max_new_tokens;
      request.sampling = sampling;
      request.stop_ids = stop_tokens;
      requests.push_back(std::move(request));
      prompts = {tokenizer->decode(prompt_ids, /*skip_special_tokens=*/true)};
    }
    for (const std::string& prompt : args.count("prompt-ids") ? std::vector<std::string>{} : prompts) {
      EngineRequest request;
      request.prompt = tokenizer->encode(prompt, /*add_special_tokens=*/true);
      request.max_new_tokens = max_new_tokens;
      request.sampling = sampling;
      request.stop_ids = stop_tokens;
      requests.push_back(std::move(request));
    }
  }
  Engine engine(model, *rank.backend, engine_config, layout.sync(), tokenizer ? &*tokenizer : nullptr);

  const bool dump_logits = json_output && args.count("dump-logits") > 0;
  std::vector<std::vector<std::vector<float>>> step_logits(requests.size());
  if (dump_logits)
    engine.set_logits_callback([&](SequenceId id, std::span<const float> row) {
      step_logits[static_cast<size_t>(id)].emplace_back(row.begin(), row.end());  // ids are submission order
    });

  const double communication_before = communication_seconds();
  std::vector<RequestResult> results;
  const Timer run_timer;
  if (coordinator) {
    // A single prompt streams its text as it is generated.
    const bool stream = !json_output && requests.size() == 1;
    std::optional<IncrementalDecoder> stream_decoder;
    std::function<void(size_t, const EngineEvent&)> on_event;
    if (stream) {
      // Checked before the prompt is echoed, so an error is not preceded by it.
      const int64_t context = model.config().max_position_embeddings;
      if (static_cast<int64_t>(requests[0].prompt.size()) >= context)
        throw Error("the prompt has " + std::to_string(requests[0].prompt.size()) +
                    " tokens, the model's context (max_position_embeddings) is " + std::to_string(context) +
                    ": nothing is left to generate");
      if (random_seed && !sampling.greedy())
        std::cerr << "[seed " << sampling.seed << "]\n";  // so a sampled run can be repeated
      stream_decoder.emplace(*tokenizer);
      for (int32_t id : requests[0].prompt) stream_decoder->push(id);
      std::cout << prompts[0] << std::flush;
      on_event = [&](size_t, const EngineEvent& event) {
        if (event.kind == EngineEvent::Kind::Token) std::cout << stream_decoder->push(event.token) << std::flush;
      };
    } else if (!json_output && random_seed && !sampling.greedy()) {
      std::cerr << "[seed " << sampling.seed << "]\n";
    }
    try {
      results = run_to_completion(engine, requests, on_event);
    } catch (...) {
      engine.shutdown();
      throw;
    }
    engine.shutdown();
    if (stream) std::cout << stream_decoder->finish() << "\n";
  } else {
    engine.follow();
  }
  const double run_seconds = run_timer.seconds();
  const double communication_ms = (communication_seconds() - communication_before) * 1e3;

  // Every rank writes the decision vectors its policy applied (in submission order).
  if (args.count("dump-decisions"))
    dump_decisions(args["dump-decisions"].as<std::string>(), topology, shard.layers, engine.finished_decisions());
  // Per-rank loaded bytes and communication time, gathered on the coordinator.
  const std::vector<double> rank_bytes = per_rank_values(layout, static_cast<double>(model.loaded_bytes()));
  const std::vector<double> rank_comm_ms = per_rank_values(layout, communication_ms);
  const std::vector<double> rank_rss = per_rank_values(layout, static_cast<double>(peak_rss_bytes()));
  if (topology.world_size > 1 && !json_output)
    std::cerr << "[rank " << topology.rank << " (tp " << topology.tp_rank << ", pp " << topology.pp_rank << "): layers "
              << shard.layers.begin << "-" << shard.layers.end - 1 << ", loaded " << model.loaded_bytes()
              << " weight bytes, communication " << communication_ms << " ms]\n";
  if (!coordinator) return 0;

  size_t batch_prompt_tokens = 0, batch_generated = 0;
  for (size_t j = 0; j < results.size(); ++j) {
    batch_prompt_tokens += requests[j].prompt.size();
    batch_generated += results[j].tokens.size();
  }
  const EngineStats& stats = engine.stats();
  for (size_t i = 0; i < results.size(); ++i) {
    const RequestResult& result = results[i];
    if (result.reason == FinishReason::Error) throw Error("prompt " + std::to_string(i + 1) + ": " + result.error);
    const std::string text = continuation_text(*tokenizer, requests[i].prompt, result.tokens);
    if (json_output) {
      nlohmann::json out;
      out["prompt_tokens"] = requests[i].prompt.size();
      out["prompt_token_ids"] = requests[i].prompt;
      out["tokens"] = result.tokens;
      out["text"] = text;
      out["finish_reason"] = finish_reason_name(result.reason);
      out["seed"] = sampling.seed;
      out["kv"] = to_json(result.kv);
      if (dump_logits) out["step_logits"] = step_logits[i];
      std::vector<int64_t> bytes(rank_bytes.begin(), rank_bytes.end()), rss(rank_rss.begin(), rank_rss.end());
      out["parallel"] = {{"world_size", topology.world_size}, {"tp", topology.tp}, {"pp", topology.pp},
                         {"loaded_bytes_per_rank", bytes}, {"communication_ms_per_rank", rank_comm_ms},
                         {"peak_rss_bytes_per_rank", rss}};
      out["timings"] = {
          {"load_ms", load_seconds * 1e3},
          {"communication_ms", communication_ms},
          {"queue_ms", result.queue_seconds * 1e3},
          {"prefill_ms", result.prefill_seconds * 1e3},
          {"decode_ms", result.decode_seconds * 1e3},
          {"batch_size", results.size()},
          {"batch_seconds", run_seconds},
          // The whole batch's throughput: every token through the engine.
          {"prefill_tokens_per_s", result.prefill_seconds > 0 ? requests[i].prompt.size() / result.prefill_seconds : 0.0},
          {"decode_tokens_per_s",
           result.decode_seconds > 0 && result.tokens.size() > 1 ? (result.tokens.size() - 1) / result.decode_seconds
                                                                 : 0.0},
          {"batch_output_tokens_per_s", run_seconds > 0 ? batch_generated / run_seconds : 0.0},
          {"batch_prompt_tokens", batch_prompt_tokens},
      };
      out["engine"] = {{"steps", stats.steps},
                       {"preemptions", stats.preemptions},
                       {"peak_kv_blocks", stats.peak_blocks},
                       {"kv_blocks", engine.config().kv_blocks}};
      std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else if (results.size() == 1) {
      std::cerr << "[" << requests[i].prompt.size() << " prompt tokens, " << result.tokens.size()
                << " generated, finish: " << finish_reason_name(result.reason) << ", prefill "
                << result.prefill_seconds * 1e3 << " ms, decode " << result.decode_seconds * 1e3 << " ms]\n";
    } else {
      std::cout << "### prompt " << i + 1 << " (" << finish_reason_name(result.reason) << ")\n" << prompts[i] << text << "\n\n";
    }
  }
  return 0;
}

}  // namespace slkv
