// slkv bench-sessions: what multi-turn sessions with the offload manager buy
// and cost (one process). Conversations are built from TinyStories-style
// sentences; each has three turns (a first prompt, then two user turns).
//   * memory: how many concurrent 3-turn sessions a fixed device KV budget
//     (--budget-blocks) holds before the first one must be evicted, with
//     `full` KV against SimLayerKV + offload (--reidentify exact);
//   * latency: turn 2's time to first token with exact re-identification,
//     against re-prefilling the whole history (the session's KV evicted
//     first), --reidentify none, and full KV;
//   * fidelity: per turn, the mean KL(full || policy) of the next-token
//     distributions and the greedy agreement with a full-KV session, for
//     --reidentify none (the reference code), cached and exact. The policy
//     sessions are teacher-forced with the full session's replies, so every
//     turn sees the same history;
//   * copies: host<->device GB/s of the copies parking and restoring issue
//     (one region per 16-token page of this model's KV, of a Llama-3-8B
//     layer's KV, and one region of the whole size: the link's figure).
// Output: markdown tables on stdout; --json FILE writes the figures.
#include <algorithm>
#include <cxxopts.hpp>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/byte_size.h"
#include "core/error.h"
#include "core/kl_divergence.h"
#include "core/stats.h"
#include "launch/cli_common.h"
#include "launch/commands.h"
#include "launch/device_choice.h"
#include "launch/kv_policy_options.h"
#include "offload/host_copy_bandwidth.h"
#include "offload/offload_manager.h"
#include "runtime/engine/engine.h"
#include "runtime/tokenizer/tokenizer.h"

namespace slkv {
namespace {

// TinyStories-style sentences the turns are cut from.
const char* const kSentences[] = {
    "Once upon a time, there was a little girl named Lily.",
    "Tom had a big red ball that he loved very much.",
    "One day, Sue went to the park with her mom.",
    "The cat saw a bird in the tree and wanted to play.",
    "Ben and his dog ran to the lake to see the ducks.",
    "Mia found a shiny stone under the old bench.",
    "The sun was warm and the flowers were pretty.",
    "Max wanted to help his dad fix the blue car.",
    "Anna was sad because her toy was broken.",
    "The little bear liked to eat honey every morning.",
    "Sam and Lucy built a tall tower with their blocks.",
    "A kind old man gave the boy a big hug.",
};
constexpr int kSentenceCount = sizeof(kSentences) / sizeof(kSentences[0]);

// `count` ids of sentences from `first` on (no BOS).
std::vector<int32_t> turn_text(const Tokenizer& tokenizer, int first, int64_t count) {
  std::vector<int32_t> ids;
  for (int i = first; static_cast<int64_t>(ids.size()) < count; ++i) {
    const std::vector<int32_t> more = tokenizer.encode(std::string(" ") + kSentences[i % kSentenceCount], false);
    ids.insert(ids.end(), more.begin(), more.end());
  }
  ids.resize(count);
  return ids;
}

struct Conversation {
  std::vector<std::vector<int32_t>> inputs;  // per turn: what it feeds (turn 1: BOS + text)
};

std::vector<Conversation> make_conversations(const Tokenizer& tokenizer, int64_t count, int64_t first_tokens,
                                             int64_t turn_tokens) {
  std::vector<Conversation> conversations;
  for (int64_t c = 0; c < count; ++c) {
    Conversation conversation;
    std::vector<int32_t> first = tokenizer.encode("", true);  // BOS, when the tokenizer adds one
    const std::vector<int32_t> text = turn_text(tokenizer, static_cast<int>(c), first_tokens - static_cast<int64_t>(first.size()));
    first.insert(first.end(), text.begin(), text.end());
    conversation.inputs.push_back(first);
    conversation.inputs.push_back(turn_text(tokenizer, static_cast<int>(c + 5), turn_tokens));
    conversation.inputs.push_back(turn_text(tokenizer, static_cast<int>(c + 9), turn_tokens));
    conversations.push_back(std::move(conversation));
  }
  return conversations;
}

struct Turn {
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> logits;  // one row per generated token
  EngineEvent finished;
};

// Runs turn `t` of a session (submit for the first, extend after) to its end.
Turn run_turn(Engine& engine, SequenceId* id, const Conversation& conversation, size_t t, int64_t new_tokens,
              const std::vector<int32_t>& forced, std::vector<std::vector<float>>* logits_sink) {
  if (t == 0) {
    EngineRequest request;
    request.prompt = conversation.inputs[0];
    request.max_new_tokens = new_tokens;
    request.keep = true;
    request.forced_tokens = forced;
    *id = engine.submit(std::move(request));
  } else {
    engine.extend(*id, conversation.inputs[t], new_tokens, forced);
  }
  Turn turn;
  logits_sink->clear();
  while (true)
    for (const EngineEvent& event : engine.step()) {
      if (event.sequence != *id) continue;
      if (event.kind == EngineEvent::Kind::Token) {
        turn.tokens.push_back(event.token);
      } else {
        turn.finished = event;
        turn.logits = std::move(*logits_sink);
        return turn;
      }
    }
}

// One engine (and offload manager) for a policy.
struct Setup {
  std::unique_ptr<OffloadManager> offload;
  std::unique_ptr<Engine> engine;
  std::vector<std::vector<float>> current;
  Setup(Model& model, Backend& backend, EngineConfig config, bool with_logits, int64_t host_capacity) {
    const AttentionShape shape = model.attention_shape();
    offload = std::make_unique<OffloadManager>(backend, shape.n_kv_heads * shape.head_dim, host_capacity);
    engine = std::make_unique<Engine>(model, backend, config, nullptr, nullptr, offload.get());
    if (with_logits)
      engine->set_logits_callback([this](SequenceId, std::span<const float> row) { current.emplace_back(row.begin(), row.end()); });
  }
};

std::string fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

}  // namespace

int run_bench_sessions(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Multi-turn sessions: memory, turn-2 latency and fidelity of --reidentify none/cached/exact");
  // clang-format off
  options.add_options()
      ("model", "model directory", cxxopts::value<std::string>())
      ("conversations", "3-turn conversations", cxxopts::value<int64_t>()->default_value("8"))
      ("first-tokens", "tokens of each conversation's first prompt (BOS included)", cxxopts::value<int64_t>()->default_value("160"))
      ("turn-tokens", "tokens of each later user turn", cxxopts::value<int64_t>()->default_value("48"))
      ("new-tokens", "tokens generated per turn", cxxopts::value<int64_t>()->default_value("32"))
      ("budget-blocks", "the device KV budget of the memory part, in blocks of 16 tokens (default: room for 4 full sessions)",
       cxxopts::value<int64_t>())
      ("offload-capacity", "host memory for parked KV: bytes or KiB/MiB/GiB", cxxopts::value<std::string>()->default_value("4GiB"))
      ("copy-bytes", "bytes each host<->device copy measurement moves (0: skip that part)", cxxopts::value<std::string>()->default_value("256MiB"))
      ("json", "also write the figures to FILE", cxxopts::value<std::string>());
  // clang-format on
  add_kv_policy_options(options);
  add_device_options(options, default_thread_count());
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::filesystem::path model_dir = required_flag(args, "model", "DIR");
  const int64_t count = args["conversations"].as<int64_t>();
  const int64_t first_tokens = args["first-tokens"].as<int64_t>();
  const int64_t turn_tokens = args["turn-tokens"].as<int64_t>();
  const int64_t new_tokens = args["new-tokens"].as<int64_t>();
  if (count < 1 || first_tokens < 2 || turn_tokens < 1 || new_tokens < 1)
    throw UsageError("--conversations, --first-tokens (>= 2), --turn-tokens and --new-tokens must be positive");
  const Tokenizer tokenizer = Tokenizer::load(model_dir);
  const std::unique_ptr<Backend> owned_backend = make_backend(device_choice(args));
  Backend& backend = *owned_backend;
  const std::unique_ptr<Model> owned_model = Model::load(model_dir, {}, &backend);
  Model& model = *owned_model;
  const int64_t history = first_tokens + 2 * turn_tokens + 3 * new_tokens;
  if (history >= model.config().max_position_embeddings)
    throw UsageError("a conversation of " + std::to_string(history) + " tokens does not fit the model's context of " +
                     std::to_string(model.config().max_position_embeddings));
  KvPolicyConfig lazy = kv_policy_from_args(args, model.config());
  lazy.kind = KvPolicyKind::SimLayerKV;
  const int64_t capacity = parse_byte_size(args["offload-capacity"].as<std::string>(), "--offload-capacity");
  const int64_t copy_bytes = parse_byte_size(args["copy-bytes"].as<std::string>(), "--copy-bytes");
  const std::vector<Conversation> conversations = make_conversations(tokenizer, count, first_tokens, turn_tokens);
  const int64_t layers = model.config().num_layers;
  nlohmann::json results;

  // ---- copies: what parking and restoring move per second ----
  if (copy_bytes > 0) {
    const AttentionShape shape = model.attention_shape();
    const int64_t page_bytes = 16 * shape.n_kv_heads * shape.head_dim * static_cast<int64_t>(sizeof(float));
    const int64_t llama8b_page_bytes = 16 * 8 * 128 * static_cast<int64_t>(sizeof(float));
    std::cout << "## Host <-> " << backend.name() << " copies (" << format_byte_size(copy_bytes)
              << " per copy, median of 5)\n\n| regions of | regions | restore (to the device) GB/s | park (to the host) GB/s |\n|---|---|---|---|\n";
    for (const auto& [name, region_bytes] : std::vector<std::pair<std::string, int64_t>>{
             {"a 16-token page of this model's KV (" + format_byte_size(page_bytes) + ")", page_bytes},
             {"a 16-token page of Llama-3-8B KV (" + format_byte_size(llama8b_page_bytes) + ")", llama8b_page_bytes},
             {"the whole copy (the link)", copy_bytes}}) {
      const HostCopyBandwidth measured = measure_host_copy_bandwidth(backend, copy_bytes, region_bytes);
      const int64_t regions = (copy_bytes + region_bytes - 1) / region_bytes;
      std::cout << "| " << name << " | " << regions << " | " << fixed(measured.to_device_gbps, 2) << " | "
                << fixed(measured.to_host_gbps, 2) << " |\n";
      results["copies"].push_back({{"region_bytes", region_bytes}, {"regions", regions},
                                   {"to_device_gbps", measured.to_device_gbps}, {"to_host_gbps", measured.to_host_gbps}});
    }
    std::cout << "\n";
  }

  // ---- fidelity: a full-KV session, then each mode teacher-forced with its replies ----
  EngineConfig full_config;
  full_config.kv_policy.kind = KvPolicyKind::Full;
  std::vector<std::vector<Turn>> reference(conversations.size());
  {
    Setup full(model, backend, full_config, true, capacity);
    for (size_t c = 0; c < conversations.size(); ++c) {
      SequenceId id = 0;
      for (size_t t = 0; t < 3; ++t)
        reference[c].push_back(run_turn(*full.engine, &id, conversations[c], t, new_tokens, {}, &full.current));
      full.engine->release(id);
    }
  }
  std::cout << "## Fidelity against a full-KV session (" << count << " conversations, turns of " << first_tokens << " / "
            << turn_tokens << " / " << turn_tokens << " input tokens, " << new_tokens << " generated each)\n\n"
            << "| reidentify | turn | mean KL(full ‖ policy) | greedy agreement | lazy layers | KV bytes vs full |\n"
            << "|---|---|---|---|---|---|\n";
  for (Reidentify mode : {Reidentify::None, Reidentify::Cached, Reidentify::Exact}) {
    EngineConfig config;
    config.kv_policy = lazy;
    config.kv_policy.reidentify = mode;
    Setup setup(model, backend, config, true, capacity);
    std::vector<double> kl(3, 0.0), agree(3, 0.0), lazy_layers(3, 0.0), kv_ratio(3, 0.0);
    for (size_t c = 0; c < conversations.size(); ++c) {
      SequenceId id = 0;
      for (size_t t = 0; t < 3; ++t) {
        const Turn& full_turn = reference[c][t];
        const Turn turn = run_turn(*setup.engine, &id, conversations[c], t, new_tokens, full_turn.tokens, &setup.current);
        for (size_t i = 0; i < turn.logits.size(); ++i) {
          kl[t] += kl_divergence(full_turn.logits[i], turn.logits[i]) / static_cast<double>(turn.logits.size());
          const auto best = std::max_element(turn.logits[i].begin(), turn.logits[i].end()) - turn.logits[i].begin();
          agree[t] += (best == full_turn.tokens[i] ? 1.0 : 0.0) / static_cast<double>(turn.logits.size());
        }
        lazy_layers[t] += static_cast<double>(std::count(turn.finished.kv.lazy_layers.begin(), turn.finished.kv.lazy_layers.end(), true));
        kv_ratio[t] += static_cast<double>(turn.finished.kv.kv_bytes) / static_cast<double>(turn.finished.kv.kv_bytes_full);
      }
      setup.engine->release(id);
    }
    for (size_t t = 0; t < 3; ++t) {
      const double n = static_cast<double>(count);
      std::cout << "| " << reidentify_name(mode) << " | " << t + 1 << " | " << fixed(kl[t] / n, 5) << " | "
                << fixed(100 * agree[t] / n, 1) << " % | " << fixed(lazy_layers[t] / n, 2) << " of " << layers << " | "
                << fixed(100 * kv_ratio[t] / n, 1) << " % |\n";
      results["fidelity"].push_back({{"reidentify", reidentify_name(mode)}, {"turn", t + 1}, {"kl", kl[t] / n},
                                     {"greedy_agreement", agree[t] / n}, {"lazy_layers", lazy_layers[t] / n},
                                     {"kv_fraction", kv_ratio[t] / n}});
    }
  }

  // ---- latency: turn 2's time to first token ----
  std::cout << "\n## Turn 2 time to first token (median over conversations)\n\n"
            << "| run | turn-2 input tokens | history before it | time to first token (ms) | re-prefilled tokens |\n|---|---|---|---|---|\n";
  struct LatencyRun {
    std::string name;
    KvPolicyConfig policy;
    bool evict_before_turn2 = false;
  };
  KvPolicyConfig exact = lazy, none = lazy;
  exact.reidentify = Reidentify::Exact;
  none.reidentify = Reidentify::None;
  const std::vector<LatencyRun> runs = {{"exact re-identification (restore)", exact, false},
                                        {"re-prefill the whole history", exact, true},
                                        {"--reidentify none", none, false},
                                        {"full KV", full_config.kv_policy, false}};
  for (const LatencyRun& run : runs) {
    EngineConfig config;
    config.kv_policy = run.policy;
    Setup setup(model, backend, config, false, capacity);
    std::vector<double> ttft;
    int64_t reprefilled = 0;
    for (const Conversation& conversation : conversations) {
      SequenceId id = 0;
      run_turn(*setup.engine, &id, conversation, 0, new_tokens, {}, &setup.current);
      if (run.evict_before_turn2) setup.engine->evict(id);
      const Turn turn2 = run_turn(*setup.engine, &id, conversation, 1, new_tokens, {}, &setup.current);
      ttft.push_back((turn2.finished.queue_seconds + turn2.finished.prefill_seconds) * 1e3);
      reprefilled += turn2.finished.reprefilled_tokens;
      setup.engine->release(id);
    }
    const double ms = median(ttft);
    std::cout << "| " << run.name << " | " << turn_tokens + 1 << " | " << first_tokens + new_tokens - 1 << " | "
              << fixed(ms, 3) << " | " << reprefilled / count << " |\n";
    results["latency"].push_back({{"run", run.name}, {"ttft_ms", ms}, {"reprefilled_tokens", reprefilled / count}});
  }

  // ---- memory: concurrent 3-turn sessions a fixed KV budget holds ----
  const int64_t block_tokens = 16;
  const int64_t budget = args.count("budget-blocks") ? args["budget-blocks"].as<int64_t>()
                                                     : 4 * layers * ((history + block_tokens - 1) / block_tokens + 1);
  if (budget < 1) throw UsageError("--budget-blocks must be >= 1");
  std::cout << "\n## Concurrent 3-turn sessions in a KV budget of " << budget << " blocks (" << history
            << "-token histories)\n\n| policy | sessions held | host bytes parked per session |\n|---|---|---|\n";
  for (const auto& [name, policy] : std::vector<std::pair<std::string, KvPolicyConfig>>{
           {"full", full_config.kv_policy}, {"simlayerkv + offload (exact)", exact}}) {
    EngineConfig config;
    config.kv_policy = policy;
    config.kv_blocks = budget;
    Setup setup(model, backend, config, false, capacity);
    int64_t held = 0;
    for (int64_t s = 0; s < 4096; ++s) {
      const Conversation& conversation = conversations[static_cast<size_t>(s) % conversations.size()];
      SequenceId id = 0;
      for (size_t t = 0; t < 3; ++t) run_turn(*setup.engine, &id, conversation, t, new_tokens, {}, &setup.current);
      if (setup.engine->stats().sessions_evicted > 0) break;  // the budget is full: an idle session had to go
      held = s + 1;
    }
    const double host_per_session =
        held > 0 ? static_cast<double>(setup.offload->totals().bytes_held) / static_cast<double>(held) : 0.0;
    std::cout << "| " << name << " | " << held << " | " << fixed(host_per_session, 0) << " |\n";
    results["memory"].push_back({{"policy", name}, {"budget_blocks", budget}, {"sessions", held},
                                 {"host_bytes_per_session", host_per_session}});
  }
  if (args.count("json")) {
    std::ofstream file(args["json"].as<std::string>());
    if (!(file << results.dump(2) << "\n")) throw Error("cannot write " + args["json"].as<std::string>());
  }
  return 0;
}

}  // namespace slkv
