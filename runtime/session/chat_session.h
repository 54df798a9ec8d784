#pragma once
// ChatSession: one conversation held as a kept engine sequence. Each turn
// renders the whole conversation with the model's chat template and feeds
// the engine only what the render adds after the text the sequence already
// holds (the template's end of the last reply, the new message, the
// generation prompt), as prefix-caching engines do; the ids the model
// generated stay in the history verbatim. When the template rewrites earlier
// turns (the render no longer starts with what was fed), the session starts
// a fresh sequence from the whole render, and counts it as re-prefilled.
//
// Between turns the sequence keeps its KV (the lazy layers' dropped middle
// parked in host memory when the engine has an offload store); after
// `idle_seconds` without a turn, or when the engine needs the room, the KV
// goes and the next turn re-prefills the history (Engine::extend).
#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runtime/engine/engine.h"
#include "runtime/tokenizer/chat_template.h"
#include "runtime/tokenizer/tokenizer.h"

namespace slkv {

struct ChatSettings {
  SamplingParams sampling;
  int64_t max_new_tokens = 256;
  std::vector<int32_t> stop_ids;
  std::vector<std::string> stop_strings;
  std::optional<KvPolicyConfig> kv_policy;  // default: the engine's
  double idle_seconds = 600;
};

struct ChatReply {
  std::vector<int32_t> tokens;  // generated ids (a stop id excluded)
  std::string text;             // the reply as read: special tokens dropped, cut before a stop string
  FinishReason reason = FinishReason::Length;
  std::string error;
  KvReport kv;                     // the sequence's KV at the end of the reply (offload counters included)
  int64_t reprefilled_tokens = 0;  // the session's history tokens prefilled again so far
  int64_t turn_input_tokens = 0;   // ids this turn fed before generating
  double first_token_seconds = 0;  // turn start -> first token (queue + prefill)
  double decode_seconds = 0;
};

class ChatSession {
 public:
  ChatSession(Engine& engine, const Tokenizer& tokenizer, const ChatTemplate& chat_template, ChatSettings settings);
  ~ChatSession();
  ChatSession(const ChatSession&) = delete;
  ChatSession& operator=(const ChatSession&) = delete;

  // Adds a message ({"role", "content", ...}) without replying (a system prompt).
  void add_message(const nlohmann::ordered_json& message);
  // Adds the message and runs a turn: the engine generates the assistant's
  // reply, which joins the conversation. on_token sees each id as it comes.
  // Throws slkv::Error, the message not added, when the turn cannot run
  // (e.g. it would pass the model's context, or the template raises).
  ChatReply send(const nlohmann::ordered_json& message, const std::function<void(int32_t)>& on_token = {});
  // The two halves of a turn, for a caller that steps the engine itself
  // (the server's engine thread): start_turn renders the conversation and
  // submits or extends the sequence, returning it (throws slkv::Error with
  // nothing changed); finish_turn takes the generated ids and the Finished
  // event, adds the reply to the conversation and returns it (throws when the
  // turn failed; the session then starts over from the whole render).
  SequenceId start_turn(std::optional<int64_t> max_new_tokens = std::nullopt);
  ChatReply finish_turn(const std::vector<int32_t>& tokens, const EngineEvent& finished);
  // Drops the messages after the first `count` (a turn that could not start).
  void truncate_messages(size_t count);
  // Forgets the conversation and frees its KV.
  void reset();
  // Frees the KV when the session has been idle longer than its limit (the
  // next turn re-prefills); true when it did.
  bool expire_if_idle(std::chrono::steady_clock::time_point now);

  // In the order their keys were given (a template's `tojson` writes them so).
  const nlohmann::ordered_json& messages() const { return messages_; }
  // The token history: everything fed and generated (empty before a turn).
  std::vector<int32_t> history() const;
  std::optional<SequenceId> sequence() const { return sequence_; }

 private:
  Engine& engine_;
  const Tokenizer& tokenizer_;
  const ChatTemplate& template_;
  ChatReply reply(const std::function<void(int32_t)>& on_token);

  ChatSettings settings_;
  nlohmann::ordered_json messages_ = nlohmann::ordered_json::array();
  std::optional<SequenceId> sequence_;
  std::string fed_text_;  // the text the sequence's ids stand for (renders and replies)
  int64_t turn_input_tokens_ = 0;
  int64_t restarted_tokens_ = 0;  // history re-prefilled because the template rewrote it
  std::chrono::steady_clock::time_point last_used_ = std::chrono::steady_clock::now();
};

}  // namespace slkv
