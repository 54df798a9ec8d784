// slkv chat: multi-turn chat sessions over the engine. Interactive (a line
// per user turn, streamed replies, /reset, /stats, /save FILE), or scripted
// with --script FILE: JSON lines, each a user turn (a string, or an object
// with "role" and "content", and optionally "session" to hold several
// conversations at once); one JSON line per reply on stdout.
#include <chrono>
#include <cxxopts.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "launch/cli_common.h"
#include "launch/commands.h"
#include "launch/device_choice.h"
#include "launch/kv_policy_options.h"
#include "launch/offload_options.h"
#include "launch/rank_layout.h"
#include "launch/sampling_options.h"
#include "runtime/engine/engine.h"
#include "runtime/session/chat_session.h"
#include "runtime/tokenizer/chat_template.h"
#include "runtime/tokenizer/tokenizer.h"

namespace slkv {
namespace {

// One script line: the session it belongs to and its message.
struct ScriptTurn {
  std::string session = "default";
  nlohmann::ordered_json message;
};

std::vector<ScriptTurn> read_script(const std::filesystem::path& path) {
  std::vector<ScriptTurn> turns;
  for (OrderedJsonLine& line : read_ordered_json_lines(path)) {
    nlohmann::ordered_json& value = line.value;
    ScriptTurn turn;
    if (value.is_string()) {
      turn.message = {{"role", "user"}, {"content", value}};
    } else if (value.is_object() && value.contains("role") && value["role"].is_string() && value.contains("content")) {
      if (value.contains("session")) {
        if (!value["session"].is_string()) throw Error(line.where + ": \"session\" must be a string");
        turn.session = value["session"].get<std::string>();
        value.erase("session");
      }
      turn.message = value;
    } else {
      throw Error(line.where + ": expected a JSON string or an object with \"role\" and \"content\", got " + value.dump());
    }
    turns.push_back(std::move(turn));
  }
  if (turns.empty()) throw Error("chat script " + (path == "-" ? std::string("<stdin>") : path.string()) + " holds no turns");
  return turns;
}

nlohmann::json offload_json(const ChatReply& reply) {
  nlohmann::json out = to_json(reply.kv.offload);
  out["reprefilled_tokens"] = reply.reprefilled_tokens;
  return out;
}

// The sessions of one run, by name, sharing the engine.
class Sessions {
 public:
  // system: a system message every conversation starts with ("" = none).
  Sessions(Engine& engine, const Tokenizer& tokenizer, const ChatTemplate& chat_template, ChatSettings settings,
           std::string system)
      : engine_(engine),
        tokenizer_(tokenizer),
        template_(chat_template),
        settings_(std::move(settings)),
        system_(std::move(system)) {}
  ChatSession& get(const std::string& name) {
    // Sessions idle past --session-idle-s give their KV back before any turn runs.
    const auto now = std::chrono::steady_clock::now();
    for (auto& [other, session] : sessions_) session->expire_if_idle(now);
    auto it = sessions_.find(name);
    if (it == sessions_.end()) {
      it = sessions_.emplace(name, std::make_unique<ChatSession>(engine_, tokenizer_, template_, settings_)).first;
      if (!system_.empty()) it->second->add_message({{"role", "system"}, {"content", system_}});
    }
    return *it->second;
  }
  // /reset: the conversation starts over (with the system message).
  void reset(const std::string& name) {
    ChatSession& session = get(name);
    session.reset();
    if (!system_.empty()) session.add_message({{"role", "system"}, {"content", system_}});
  }

 private:
  Engine& engine_;
  const Tokenizer& tokenizer_;
  const ChatTemplate& template_;
  ChatSettings settings_;
  std::string system_;
  std::map<std::string, std::unique_ptr<ChatSession>> sessions_;
};

int run_script(Sessions& sessions, const std::vector<ScriptTurn>& turns) {
  for (const ScriptTurn& turn : turns) {
    ChatSession& session = sessions.get(turn.session);
    if (turn.message["role"] != "user") {  // a system prompt, or an assistant turn given verbatim
      session.add_message(turn.message);
      continue;
    }
    const ChatReply reply = session.send(turn.message);
    nlohmann::json out;
    out["session"] = turn.session;
    out["text"] = reply.text;
    out["tokens"] = reply.tokens;
    out["prompt_ids"] = session.history();
    out["finish_reason"] = finish_reason_name(reply.reason);
    out["kv"] = to_json(reply.kv);
    out["offload"] = offload_json(reply);
    out["timings"] = {{"turn_input_tokens", reply.turn_input_tokens},
                      {"first_token_ms", reply.first_token_seconds * 1e3},
                      {"decode_ms", reply.decode_seconds * 1e3}};
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  }
  return 0;
}

void print_stats(const ChatSession& session, const Engine& engine, const std::optional<ChatReply>& last) {
  nlohmann::json stats;
  stats["messages"] = session.messages().size();
  stats["history_tokens"] = session.history().size();
  if (last) {
    stats["kv"] = to_json(last->kv);
    stats["offload"] = offload_json(*last);
  }
  stats["engine"] = {{"steps", engine.stats().steps},
                     {"sessions_evicted", engine.stats().sessions_evicted},
                     {"reprefilled_tokens", engine.stats().reprefilled_tokens},
                     {"kv_blocks_in_use", engine.cache().pool().blocks_in_use()},
                     {"kv_blocks", engine.config().kv_blocks}};
  std::cout << stats.dump(2) << std::endl;
}

int run_interactive(Sessions& sessions, const Engine& engine, const Tokenizer& tokenizer) {
  ChatSession& session = sessions.get("default");
  std::optional<ChatReply> last;
  std::cerr << "[slkv chat: type a message; /reset, /stats, /save FILE, /quit]\n";
  std::string line;
  while (std::cout << "> " << std::flush, std::getline(std::cin, line)) {
    if (line.empty()) continue;
    if (line == "/quit" || line == "/exit") break;
    if (line == "/reset") {
      sessions.reset("default");
      last.reset();
      std::cerr << "[conversation cleared]\n";
      continue;
    }
    if (line == "/stats") {
      print_stats(session, engine, last);
      continue;
    }
    if (line.rfind("/save", 0) == 0) {
      const std::string path = line.size() > 6 ? line.substr(6) : "";
      if (path.empty()) {
        std::cerr << "usage: /save FILE\n";
        continue;
      }
      std::ofstream file(path);
      const nlohmann::ordered_json saved = {{"messages", session.messages()}, {"prompt_ids", session.history()}};
      if (!(file << saved.dump(2) << "\n"))
        std::cerr << "cannot write " << path << "\n";
      else
        std::cerr << "[saved to " << path << "]\n";
      continue;
    }
    try {
      check_utf8(line, "your message");
      IncrementalDecoder decoder(tokenizer);
      last = session.send({{"role", "user"}, {"content", line}},
                          [&](int32_t token) { std::cout << decoder.push(token) << std::flush; });
      std::cout << decoder.finish() << "\n";
    } catch (const Error& e) {
      std::cerr << "error: " << e.what() << "\n";  // the conversation goes on without that message
    }
  }
  return 0;
}

}  // namespace

int run_chat(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Chat with a model: multi-turn sessions that keep their KV between turns");
  // clang-format off
  options.add_options()
      ("model", "model directory (config.json, *.safetensors, tokenizer.json; the chat template from tokenizer_config.json)", cxxopts::value<std::string>())
      ("script", "run the turns of FILE (- = stdin): JSON lines, each a user message string or a {\"role\", \"content\"[, \"session\"]} object; print one JSON line per reply",
       cxxopts::value<std::string>())
      ("system", "a system message that starts every conversation", cxxopts::value<std::string>());
  // clang-format on
  add_sampling_options(options);
  add_kv_policy_options(options);
  add_offload_options(options);
  add_engine_options(options);
  add_parallel_options(options);
  add_device_options(options, default_thread_count());
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::filesystem::path model_dir = required_flag(args, "model", "DIR");
  const DeviceChoice choice = device_choice(args);
  const double idle_seconds = session_idle_seconds(args);

  RankLayout layout = make_rank_layout(args, model_dir);
  const bool coordinator = layout.coordinator();
  std::vector<ScriptTurn> script;
  std::optional<Tokenizer> tokenizer;
  std::optional<ChatTemplate> chat_template;
  if (coordinator) {  // bad input is refused before any weight is read
    if (args.count("script")) script = read_script(args["script"].as<std::string>());
    tokenizer.emplace(Tokenizer::load(model_dir));
    chat_template.emplace(ChatTemplate::load(model_dir));
  }
  const SamplingChoice sampling = sampling_from_args(args, model_dir);
  SamplingParams params = sampling.params;
  if (layout.protocol) layout.protocol->broadcast_u64(params.seed);
  RankModel rank = load_rank_model(layout, model_dir, choice);
  SessionEngine session_engine = make_session_engine(args, layout, rank, tokenizer ? &*tokenizer : nullptr);
  Engine& engine = *session_engine.engine;
  if (!coordinator) {
    engine.follow();
    return 0;
  }
  if (sampling.random_seed && !params.greedy()) std::cerr << "[seed " << params.seed << "]\n";
  ChatSettings settings;
  settings.sampling = params;
  settings.max_new_tokens = sampling.max_new_tokens;
  settings.stop_ids = stop_token_ids(rank.model->config(), *tokenizer);
  settings.idle_seconds = idle_seconds;
  int status = 0;
  try {
    std::string system;
    if (args.count("system")) {
      system = args["system"].as<std::string>();
      check_utf8(system, "--system");
    }
    Sessions sessions(engine, *tokenizer, *chat_template, settings, system);
    status = args.count("script") ? run_script(sessions, script) : run_interactive(sessions, engine, *tokenizer);
  } catch (...) {
    engine.shutdown();
    throw;
  }
  engine.shutdown();
  return status;
}

}  // namespace slkv
