// slkv eval scbench: SCBench-style shared-context tasks.
//
// Multi-turn mode (SCBench's default): one session per row. A kept
// sequence holds the conversation as SCBench builds it, with the golden
// answers of earlier turns: it is prefilled with the context once and each
// turn appends the query and its golden answer (a new turn of the session,
// so the lazy layers are identified again and parked KV is restored or
// not, per --reidentify). Each turn's prediction is generated on a fork of
// the session (sharing its KV blocks and parked KV), released after the
// answer, so the model's own answer never enters the history.
//
// Multi-request mode: the context is prefilled once, and every query runs
// at once on its own fork of it.
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/error.h"
#include "core/timer.h"
#include "launch/cli_common.h"
#include "launch/eval/eval_commands.h"
#include "launch/eval/eval_model.h"
#include "launch/eval/eval_output.h"
#include "launch/eval/longbench_prompt.h"
#include "launch/eval/prediction_file.h"
#include "launch/eval/progress_line.h"
#include "launch/eval/scbench_rows.h"

namespace slkv {
namespace {

struct Finished {
  std::vector<int32_t> tokens;
  EngineEvent event;
};

// Steps the engine until every sequence of `ids` has finished.
std::map<SequenceId, Finished> run_until_finished(Engine& engine, const std::vector<SequenceId>& ids,
                                                  const std::string& where) {
  std::map<SequenceId, Finished> out;
  for (SequenceId id : ids) out[id];
  size_t left = ids.size();
  while (left > 0) {
    for (const EngineEvent& event : engine.step()) {
      auto it = out.find(event.sequence);
      if (it == out.end()) continue;
      if (event.kind == EngineEvent::Kind::Token) {
        it->second.tokens.push_back(event.token);
        continue;
      }
      if (event.reason == FinishReason::Error) throw Error(where + ": " + event.error);
      it->second.event = event;
      --left;
    }
  }
  return out;
}

// Where the context ends in a render (templates may trim the message's
// edges). Throws when the template does not keep the context verbatim.
size_t context_end(const std::string& render, const std::string& context, const std::string& where) {
  const size_t first = context.find_first_not_of(" \t\r\n");
  const size_t last = context.find_last_not_of(" \t\r\n");
  const std::string core = first == std::string::npos ? context : context.substr(first, last - first + 1);
  const size_t at = render.find(core);
  if (at == std::string::npos || core.empty())
    throw Error(where + ": the chat template's render does not hold the row's context verbatim");
  return at + core.size();
}

class ScbenchRun {
 public:
  ScbenchRun(EvalModel& model, const KvPolicyConfig& policy, int64_t max_new_tokens, const std::string& task,
             bool with_prompt_ids)
      : model_(model), policy_(policy), max_new_tokens_(max_new_tokens), task_(task), with_prompt_ids_(with_prompt_ids) {}

  // The row with its context cut in the middle (as LongBench cuts prompts)
  // so that the longest prompt of its first `turns` turns leaves room for
  // max_new_tokens; `cut` says whether it was.
  ScbenchRow fit(const ScbenchRow& row, size_t turns, bool multi_turn, bool& cut) const {
    ScbenchRow out = row;
    cut = false;
    const Tokenizer& tokenizer = model_.tokenizer();
    for (int attempt = 0; attempt < 4; ++attempt) {
      int64_t longest = 0;
      for (size_t turn = 0; turn < turns; ++turn) {
        const nlohmann::json messages = multi_turn ? scbench_turn_messages(out, turn) : scbench_request_messages(out, turn);
        const std::string render = model_.chat_template().render(messages, /*add_generation_prompt=*/true);
        longest = std::max(longest, static_cast<int64_t>(tokenizer.encode(render, false).size()));
      }
      const int64_t excess = longest + max_new_tokens_ - model_.context();
      if (excess <= 0) return out;
      const std::vector<int32_t> context = tokenizer.encode(out.context, /*add_special_tokens=*/false);
      const int64_t keep = static_cast<int64_t>(context.size()) - excess - 2 * attempt - 1;
      if (keep < 1)
        throw Error(row.where + ": the turns leave no room for the context in the model's " +
                    std::to_string(model_.context()) + "-token context (fewer --max-turns or --max-new-tokens?)");
      out.context = tokenizer.decode(truncate_middle(context, keep), /*skip_special_tokens=*/true);
      cut = true;
    }
    throw Error(row.where + ": could not cut the context to fit the model's context");
  }

  nlohmann::json multi_turn(const ScbenchRow& row, size_t turns) {
    const ChatTemplate& chat = model_.chat_template();
    // The session starts as the context: the first turn's render up to the context's end.
    const std::string first = chat.render(scbench_turn_messages(row, 0), /*add_generation_prompt=*/true);
    start_session(row, first.substr(0, context_end(first, row.context, row.where)));
    nlohmann::json out = nlohmann::json::array();
    for (size_t turn = 0; turn < turns; ++turn) {
      nlohmann::json messages = scbench_turn_messages(row, turn);
      out.push_back(ask(row, turn, chat.render(messages, /*add_generation_prompt=*/true)));
      if (turn + 1 == turns) break;
      // The golden answer joins the session: its next turn.
      messages.push_back({{"role", "assistant"}, {"content", row.turns[turn].answers.front()}});
      commit(row, chat.render(messages, /*add_generation_prompt=*/false));
    }
    model_.engine().release(*session_);
    session_.reset();
    return out;
  }

  nlohmann::json multi_request(const ScbenchRow& row, size_t turns) {
    const ChatTemplate& chat = model_.chat_template();
    std::vector<std::string> renders;
    for (size_t turn = 0; turn < turns; ++turn)
      renders.push_back(chat.render(scbench_request_messages(row, turn), /*add_generation_prompt=*/true));
    // The shared part: what every query's render starts with, up to the context's end.
    size_t shared = renders[0].size();
    for (const std::string& render : renders) {
      size_t same = 0;
      while (same < shared && same < render.size() && render[same] == renders[0][same]) ++same;
      shared = same;
    }
    shared = std::min(shared, context_end(renders[0], row.context, row.where));
    start_session(row, renders[0].substr(0, shared));
    Engine& engine = model_.engine();
    std::vector<SequenceId> forks;
    std::vector<std::vector<int32_t>> prompts;
    for (size_t turn = 0; turn < turns; ++turn) {
      const SequenceId fork = engine.fork(*session_);
      engine.extend(fork, encode(renders[turn].substr(fed_.size())), max_new_tokens_);
      forks.push_back(fork);
      prompts.push_back(engine.tokens(fork));
    }
    std::map<SequenceId, Finished> done = run_until_finished(engine, forks, row.where);
    nlohmann::json out = nlohmann::json::array();
    for (size_t turn = 0; turn < turns; ++turn) {
      out.push_back(turn_result(row, turn, prompts[turn], done[forks[turn]]));
      engine.release(forks[turn]);
    }
    engine.release(*session_);
    session_.reset();
    return out;
  }

 private:
  std::vector<int32_t> encode(const std::string& text) const {
    // The template writes BOS and special tokens itself.
    return model_.tokenizer().encode(text, /*add_special_tokens=*/false);
  }

  // A kept sequence of `text`, prefilled with nothing generated.
  void start_session(const ScbenchRow& row, const std::string& text) {
    const SequenceId id = model_.engine().submit(request(encode(text), 0, true));
    run_until_finished(model_.engine(), {id}, row.where);
    session_ = id;
    fed_ = text;
  }

  EngineRequest request(std::vector<int32_t> ids, int64_t max_new_tokens, bool keep) const {
    EngineRequest request = model_.request(std::move(ids), max_new_tokens, policy_);
    request.keep = keep;
    return request;
  }

  // The session grows to `text` (the render with this turn's golden answer).
  void commit(const ScbenchRow& row, const std::string& text) {
    Engine& engine = model_.engine();
    if (text.compare(0, fed_.size(), fed_) != 0) {
      // The template rewrote earlier turns: the session starts over from the whole render.
      engine.release(*session_);
      start_session(row, text);
      return;
    }
    engine.extend(*session_, encode(text.substr(fed_.size())), 0);
    run_until_finished(engine, {*session_}, row.where);
    fed_ = text;
  }

  // This turn's prediction, on a fork of the session.
  nlohmann::json ask(const ScbenchRow& row, size_t turn, const std::string& render) {
    Engine& engine = model_.engine();
    if (render.compare(0, fed_.size(), fed_) != 0) {
      // The template rewrote earlier turns: the session starts over from what this turn shares with them.
      size_t same = 0;
      while (same < fed_.size() && same < render.size() && fed_[same] == render[same]) ++same;
      engine.release(*session_);
      start_session(row, render.substr(0, std::min(same, context_end(render, row.context, row.where))));
    }
    const SequenceId fork = engine.fork(*session_);
    engine.extend(fork, encode(render.substr(fed_.size())), max_new_tokens_);
    const std::vector<int32_t> prompt = engine.tokens(fork);
    std::map<SequenceId, Finished> done = run_until_finished(engine, {fork}, row.where);
    engine.release(fork);
    return turn_result(row, turn, prompt, done[fork]);
  }

  nlohmann::json turn_result(const ScbenchRow& row, size_t turn, const std::vector<int32_t>& prompt,
                             const Finished& finished) const {
    const std::string pred = model_.tokenizer().decode(finished.tokens, /*skip_special_tokens=*/true);
    nlohmann::json out = {{"turn", turn + 1},
                          {"input", row.turns[turn].input},
                          {"answer", row.turns[turn].answers},
                          {"pred", pred},
                          {"tokens", finished.tokens},
                          {"score", scbench_turn_score(task_, pred, row.turns[turn].answers)},
                          {"prompt_tokens", prompt.size()},
                          {"finish_reason", finish_reason_name(finished.event.reason)},
                          {"first_token_ms", (finished.event.queue_seconds + finished.event.prefill_seconds) * 1e3},
                          {"kv", to_json(finished.event.kv)},
                          {"offload", to_json(finished.event.kv.offload)}};
    if (with_prompt_ids_) out["prompt_ids"] = prompt;
    return out;
  }

  EvalModel& model_;
  const KvPolicyConfig& policy_;
  int64_t max_new_tokens_;
  std::string task_;
  bool with_prompt_ids_;
  std::optional<SequenceId> session_;
  std::string fed_;  // the text the session's ids stand for
};

}  // namespace

int run_eval_scbench(int argc, char** argv) {
  cxxopts::Options options(argv[0], "SCBench-style shared-context evaluation: multi-turn sessions or multi-request forks");
  // clang-format off
  options.add_options("SCBench")
      ("data", "SCBench jsonl file (rows: id, context, multi_turns [{input, answer[, options]}])", cxxopts::value<std::string>())
      ("task", "the scorer to use (default: the file's stem, e.g. scbench_kv)", cxxopts::value<std::string>())
      ("mode", "multi-turn (one session per row, golden answers in the history) or multi-request (forks of the prefilled context)",
       cxxopts::value<std::string>()->default_value("multi-turn"))
      ("max-turns", "the first N turns of each row", cxxopts::value<int64_t>())
      ("limit", "the first N rows", cxxopts::value<int64_t>())
      ("max-new-tokens", "generated tokens per turn at most", cxxopts::value<int64_t>()->default_value("64"))
      ("prompt-ids", "add each turn's prompt token ids to its record (to rerun it with generate --prompt-ids)")
      ("out", "output directory: <task>.jsonl (per policy with several --kv-policy) and result.json", cxxopts::value<std::string>());
  // clang-format on
  add_eval_model_options(options);
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::filesystem::path data = required_flag(args, "data", "FILE");
  const std::filesystem::path out = required_flag(args, "out", "DIR");
  const std::string mode = args["mode"].as<std::string>();
  if (mode != "multi-turn" && mode != "multi-request")
    throw UsageError("--mode must be multi-turn or multi-request, got '" + mode + "'");
  const std::string task = args.count("task") ? args["task"].as<std::string>() : data.stem().string();
  const int64_t max_new_tokens = args["max-new-tokens"].as<int64_t>();
  if (max_new_tokens < 1) throw UsageError("--max-new-tokens must be >= 1, got " + std::to_string(max_new_tokens));
  std::optional<int64_t> max_turns, limit;
  if (args.count("max-turns")) max_turns = args["max-turns"].as<int64_t>();
  if (args.count("limit")) limit = args["limit"].as<int64_t>();
  if (max_turns && *max_turns < 1) throw UsageError("--max-turns must be >= 1, got " + std::to_string(*max_turns));
  if (limit && *limit < 1) throw UsageError("--limit must be >= 1, got " + std::to_string(*limit));

  EvalModel model(args);
  std::vector<ScbenchRow> rows;
  if (model.coordinator()) {
    std::vector<JsonLine> lines = read_json_lines(data);
    if (lines.empty()) throw Error(data.string() + " holds no rows");
    if (limit && static_cast<int64_t>(lines.size()) > *limit) lines.resize(static_cast<size_t>(*limit));
    for (const JsonLine& line : lines) rows.push_back(parse_scbench_row(line));
  }
  model.load();
  return model.run([&] {
    nlohmann::json results = nlohmann::json::object();
    for (const KvPolicyConfig& policy : model.policies()) {
      const std::string policy_name = kv_policy_name(policy.kind);
      const std::filesystem::path dir = policy_output_dir(out, model.policies(), policy);
      PredictionFile predictions(dir / (task + ".jsonl"));
      ScbenchRun run(model, policy, max_new_tokens, task, args.count("prompt-ids") > 0);
      const Timer timer;
      int64_t cut_rows = 0;
      {
        ProgressLine progress("scbench " + task + " [" + policy_name + ", " + mode + "]", static_cast<int64_t>(rows.size()));
        for (size_t i = 0; i < rows.size(); ++i) {
          if (predictions.has(static_cast<int64_t>(i))) continue;
          const size_t turns = std::min(rows[i].turns.size(), max_turns ? static_cast<size_t>(*max_turns) : SIZE_MAX);
          bool cut = false;
          const ScbenchRow row = run.fit(rows[i], turns, mode == "multi-turn", cut);
          if (cut) ++cut_rows;
          nlohmann::json line = {{"index", i}, {"id", rows[i].id}, {"mode", mode}, {"context_cut", cut}};
          try {
            line["turns"] = mode == "multi-turn" ? run.multi_turn(row, turns) : run.multi_request(row, turns);
          } catch (const Error& e) {
            const std::string what = e.what();
            throw Error(what.rfind(row.where, 0) == 0 ? what : row.where + ": " + what);
          }
          predictions.append(line);
          progress.advance();
        }
      }
      if (cut_rows > 0)
        std::cerr << "[" << task << " [" << policy_name << "]: " << cut_rows
                  << " rows had their context cut in the middle to fit the model's " << model.context()
                  << "-token context]\n";
      // Scores per turn over every row the file holds (this run's and earlier ones').
      std::vector<double> turn_sum, ratios;
      std::vector<int64_t> turn_rows;
      for (const JsonLine& line : read_json_lines(predictions.path()))
        for (const nlohmann::json& turn : line.value.at("turns")) {
          const size_t t = turn.at("turn").get<size_t>() - 1;
          if (turn_sum.size() <= t) turn_sum.resize(t + 1, 0.0), turn_rows.resize(t + 1, 0);
          turn_sum[t] += turn.at("score").get<double>();
          turn_rows[t] += 1;
          ratios.push_back(turn.at("kv").at("compression_ratio").get<double>());
        }
      nlohmann::json per_turn = nlohmann::json::array();
      double total = 0;
      for (size_t t = 0; t < turn_sum.size(); ++t) {
        per_turn.push_back(100.0 * turn_sum[t] / static_cast<double>(turn_rows[t]));
        total += per_turn.back().get<double>();
      }
      const double mean = per_turn.empty() ? 0.0 : total / static_cast<double>(per_turn.size());
      results[policy_name] = {{"task", task},
                              {"mode", mode},
                              {"reidentify", reidentify_name(policy.reidentify)},
                              {"turn_scores", per_turn},
                              {"mean", mean},
                              {"compression_ratio", mean_compression_ratio(ratios)},
                              {"rows", predictions.rows()},
                              {"seconds", timer.seconds()}};
      std::cout << task << " [" << policy_name << ", " << mode << ", reidentify " << reidentify_name(policy.reidentify)
                << "]: score by turn " << per_turn.dump() << ", mean " << mean << ", compression "
                << mean_compression_ratio(ratios) << "x, " << timer.seconds() << " s" << std::endl;
    }
    std::filesystem::create_directories(out);
    std::ofstream file(out / "result.json");
    if (!(file << results.dump(2) << "\n")) throw Error("cannot write " + (out / "result.json").string());
    write_run_file(out, model.policies(), {{"model", model.model_dir().string()}, {"task", task}, {"mode", mode}});
    return 0;
  });
}

}  // namespace slkv
