#include "runtime/session/chat_session.h"

#include "core/error.h"

namespace slkv {

ChatSession::ChatSession(Engine& engine, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                         ChatSettings settings)
    : engine_(engine), tokenizer_(tokenizer), template_(chat_template), settings_(std::move(settings)) {}

ChatSession::~ChatSession() {
  if (sequence_) engine_.release(*sequence_);
}

void ChatSession::add_message(const nlohmann::ordered_json& message) {
  if (!message.is_object() || !message.contains("role") || !message["role"].is_string())
    throw Error("a chat message is an object with a \"role\" string and a \"content\", got " + message.dump());
  messages_.push_back(message);
}

void ChatSession::truncate_messages(size_t count) {
  if (count < messages_.size()) messages_.erase(messages_.begin() + static_cast<std::ptrdiff_t>(count), messages_.end());
}

std::vector<int32_t> ChatSession::history() const {
  if (!sequence_) return {};
  return engine_.tokens(*sequence_);
}

void ChatSession::reset() {
  if (sequence_) engine_.release(*sequence_);
  sequence_.reset();
  messages_ = nlohmann::ordered_json::array();
  fed_text_.clear();
  restarted_tokens_ = 0;
}

bool ChatSession::expire_if_idle(std::chrono::steady_clock::time_point now) {
  if (!sequence_ || std::chrono::duration<double>(now - last_used_).count() <= settings_.idle_seconds) return false;
  engine_.evict(*sequence_);
  return true;
}

ChatReply ChatSession::send(const nlohmann::ordered_json& message, const std::function<void(int32_t)>& on_token) {
  add_message(message);
  try {
    return reply(on_token);
  } catch (...) {
    messages_.erase(messages_.size() - 1);
    throw;
  }
}

ChatReply ChatSession::reply(const std::function<void(int32_t)>& on_token) {
  const SequenceId id = start_turn();
  std::vector<int32_t> tokens;
  while (true)
    for (const EngineEvent& event : engine_.step()) {
      if (event.sequence != id) continue;
      if (event.kind == EngineEvent::Kind::Finished) return finish_turn(tokens, event);
      tokens.push_back(event.token);
      if (on_token) on_token(event.token);
    }
}

SequenceId ChatSession::start_turn(std::optional<int64_t> max_new_tokens) {
  expire_if_idle(std::chrono::steady_clock::now());
  const std::string render = template_.render_ordered(messages_, /*add_generation_prompt=*/true);
  // The template writes BOS and special tokens itself: encode without adding any.
  const bool continues = sequence_ && render.compare(0, fed_text_.size(), fed_text_) == 0;
  const std::vector<int32_t> input =
      tokenizer_.encode(continues ? render.substr(fed_text_.size()) : render, /*add_special_tokens=*/false);
  const int64_t new_tokens = max_new_tokens.value_or(settings_.max_new_tokens);
  if (continues) {
    engine_.extend(*sequence_, input, new_tokens);
  } else {
    EngineRequest request;
    request.prompt = input;
    request.sampling = settings_.sampling;
    request.max_new_tokens = new_tokens;
    request.stop_ids = settings_.stop_ids;
    request.stop_strings = settings_.stop_strings;
    request.kv_policy = settings_.kv_policy;
    request.keep = true;
    const SequenceId fresh = engine_.submit(std::move(request));  // throws before anything changes
    if (sequence_) {  // the template rewrote the history: it is prefilled again
      restarted_tokens_ += static_cast<int64_t>(engine_.tokens(*sequence_).size());
      engine_.release(*sequence_);
    }
    sequence_ = fresh;
  }
  fed_text_ = render;
  turn_input_tokens_ = static_cast<int64_t>(input.size());
  return *sequence_;
}

ChatReply ChatSession::finish_turn(const std::vector<int32_t>& tokens, const EngineEvent& finished) {
  ChatReply out;
  out.tokens = tokens;
  out.reason = finished.reason;
  out.error = finished.error;
  out.kv = finished.kv;
  out.decode_seconds = finished.decode_seconds;
  out.first_token_seconds = finished.queue_seconds + finished.prefill_seconds;
  out.reprefilled_tokens = restarted_tokens_ + finished.reprefilled_tokens;
  out.turn_input_tokens = turn_input_tokens_;
  last_used_ = std::chrono::steady_clock::now();
  if (out.reason == FinishReason::Error || out.reason == FinishReason::Cancelled) {
    sequence_.reset();  // the engine dropped it; the next turn starts over from the whole render
    fed_text_.clear();
    throw Error(out.error.empty() ? "the turn was cancelled" : out.error);
  }
  out.text = tokenizer_.decode(out.tokens, /*skip_special_tokens=*/true);
  // The reply ends before its stop string, as its reader sees it, and the
  // history holds that text: a client sending the conversation back then
  // matches it. The KV still holds the stop string's tokens, so the next
  // turn's render no longer continues fed_text_ and is prefilled afresh.
  if (!finished.stop_string.empty()) {
    const size_t at = out.text.find(finished.stop_string);
    if (at != std::string::npos) out.text.resize(at);
  }
  fed_text_ += tokenizer_.decode(out.tokens, /*skip_special_tokens=*/false);
  messages_.push_back({{"role", "assistant"}, {"content", out.text}});
  return out;
}

}  // namespace slkv
