#include "launch/serve/openai_server.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <random>

#include "core/error.h"
#include "launch/serve/generation_stream.h"

namespace slkv {

// One generation request, from the network thread to the engine's and back.
struct RequestState {
  std::shared_ptr<HttpExchange> exchange;
  CompletionRequest request;
  std::vector<int32_t> prompt;  // empty for a session turn (the session renders it)
  KvPolicyConfig policy;
  std::unique_ptr<GenerationStream> stream;
  SequenceId sequence = -1;
  bool done = false;
  bool sent_first = false;
};

namespace {

const char* const kJson = "application/json";

std::string path_of(const HttpRequest& request) {
  const std::string target(request.target());
  return target.substr(0, target.find('?'));
}

void require_method(const HttpRequest& request, boost::beast::http::verb verb, const std::string& allowed) {
  if (request.method() != verb) throw ApiError(405, "method not allowed; use " + allowed);
}

}  // namespace

OpenAiServer::OpenAiServer(HttpServer& http, EngineLoop& loop, const Tokenizer& tokenizer,
                           const ChatTemplate& chat_template, OffloadManager* offload, ServeSettings settings)
    : http_(http),
      loop_(loop),
      tokenizer_(tokenizer),
      template_(chat_template),
      offload_(offload),
      settings_(std::move(settings)) {
  std::random_device entropy;
  char prefix[17];
  std::snprintf(prefix, sizeof prefix, "%08x%08x", entropy(), entropy());
  id_prefix_ = std::string(prefix) + "-";
}

void OpenAiServer::handle(const HttpRequest& request, std::shared_ptr<HttpExchange> exchange) {
  using boost::beast::http::verb;
  const std::string path = path_of(request);
  try {
    const bool v1 = path.rfind("/v1/", 0) == 0;
    if (v1 && settings_.api_key) {
      const auto header = request.find(boost::beast::http::field::authorization);
      if (header == request.end() || std::string(header->value()) != "Bearer " + *settings_.api_key)
        throw ApiError(401, "a valid API key is required: Authorization: Bearer <key>");
    }
    if (path == "/health") {
      require_method(request, verb::get, "GET");
      exchange->respond(200, kJson, R"({"status": "ok"})");
    } else if (path == "/metrics") {
      require_method(request, verb::get, "GET");
      exchange->respond(200, "text/plain; version=0.0.4; charset=utf-8", metrics_.render(loop_.snapshot()));
    } else if (path == "/v1/models") {
      require_method(request, verb::get, "GET");
      const nlohmann::json models = {
          {"object", "list"},
          {"data", {{{"id", settings_.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "slkv"},
                     {"max_model_len", settings_.context}}}}};
      exchange->respond(200, kJson, models.dump());
    } else if (path == "/v1/completions" || path == "/v1/chat/completions") {
      require_method(request, verb::post, "POST");
      generate(request, exchange, path == "/v1/chat/completions");
    } else {
      throw ApiError(404, "no route " + path);
    }
  } catch (const ApiError& e) {
    metrics_.request_finished(std::to_string(e.status()));
    const std::string allow = e.status() == 405 ? std::string("Allow: ") +
                                                      (path == "/v1/completions" || path == "/v1/chat/completions" ? "POST" : "GET") +
                                                      "\r\n"
                                                : "";
    exchange->respond(e.status(), kJson, e.body().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), allow);
  }
}

void OpenAiServer::generate(const HttpRequest& http_request, std::shared_ptr<HttpExchange> exchange, bool chat) {
  if (shutting_down_) throw ApiError(503, "the server is shutting down");
  auto state = std::make_shared<RequestState>();
  state->exchange = exchange;
  CompletionRequest& request = state->request;
  request = parse_completion_request(http_request.body(), chat, settings_.sampling);
  if (!request.seed_given) request.sampling.seed = std::random_device{}();
  try {
    request.sampling.validate();
  } catch (const Error& e) {
    throw ApiError(400, e.what());
  }
  if (!request.model.empty() && request.model != settings_.model_name)
    throw ApiError(404, "the model '" + request.model + "' does not exist; this server serves '" + settings_.model_name + "'", "model");
  state->policy = settings_.kv_policy;
  try {
    if (request.kv_policy) state->policy.kind = parse_kv_policy(*request.kv_policy);
  } catch (const Error& e) {
    throw ApiError(400, e.what(), "kv_policy");
  }
  if (request.lazy_threshold) state->policy.threshold = *request.lazy_threshold;
  if (!request.session_id) {
    if (chat) {
      std::string text;
      try {
        text = template_.render_ordered(request.messages, /*add_generation_prompt=*/true);
      } catch (const Error& e) {
        throw ApiError(400, std::string("the chat template: ") + e.what(), "messages");
      }
      state->prompt = tokenizer_.encode(text, /*add_special_tokens=*/false);
    } else {
      state->prompt = request.prompt_ids ? *request.prompt_ids : tokenizer_.encode(request.prompt, true);
    }
    const int64_t prompt = static_cast<int64_t>(state->prompt.size());
    if (prompt == 0) throw ApiError(400, "the prompt is empty", chat ? "messages" : "prompt");
    for (int32_t id : state->prompt)
      if (id >= tokenizer_.vocab_size()) throw ApiError(400, "token id " + std::to_string(id) + " is outside the vocabulary", "prompt");
    if (chat && !request.max_tokens_given) request.max_tokens = std::max<int64_t>(1, settings_.context - prompt);
    if (prompt + request.max_tokens > settings_.context)
      throw ApiError(400, "this model's maximum context length is " + std::to_string(settings_.context) +
                              " tokens, but the request has " + std::to_string(prompt) + " prompt tokens and max_tokens " +
                              std::to_string(request.max_tokens),
                     request.max_tokens_given ? "max_tokens" : (chat ? "messages" : "prompt"));
  }
  if (in_flight_.load() >= settings_.max_batch + settings_.max_queue)
    throw ApiError(429, "the server's queue is full (--max-queue " + std::to_string(settings_.max_queue) + "): retry later");
  ++in_flight_;
  // A client that goes away cancels its request; its blocks are freed at once.
  exchange->on_disconnect([this, state] {
    loop_.post([state](Engine& engine) {
      if (state->sequence >= 0 && !state->done) engine.cancel(state->sequence);
    });
  });
  loop_.post([this, state](Engine& engine) { run_request(engine, state); });
}

void OpenAiServer::run_request(Engine& engine, std::shared_ptr<RequestState> state) {
  CompletionRequest& request = state->request;
  const std::string id = (request.chat ? "chatcmpl-" : "cmpl-") + id_prefix_ + std::to_string(next_id_++);
  Session* session = nullptr;
  try {
    if (request.session_id) {
      const auto now = std::chrono::steady_clock::now();
      for (auto& [name, other] : sessions_)
        if (!other.busy) other.chat->expire_if_idle(now);
      Session& s = sessions_[*request.session_id];
      if (!s.chat) {
        ChatSettings chat_settings;
        chat_settings.sampling = request.sampling;
        chat_settings.stop_ids = settings_.stop_ids;
        chat_settings.stop_strings = request.stop;
        chat_settings.kv_policy = state->policy;
        chat_settings.idle_seconds = settings_.session_idle_seconds;
        s.chat = std::make_unique<ChatSession>(engine, tokenizer_, template_, chat_settings);
      }
      if (s.busy) throw ApiError(409, "session '" + *request.session_id + "' is answering another request", "session_id");
      // The client may send the whole conversation or only its new messages.
      // Messages match whatever the order of their keys.
      const nlohmann::ordered_json& held = s.chat->messages();
      auto same = [](const nlohmann::ordered_json& a, const nlohmann::ordered_json& b) {
        return nlohmann::json(a) == nlohmann::json(b);
      };
      size_t common = 0;
      if (request.messages.size() > held.size() &&
          std::equal(held.begin(), held.end(), request.messages.begin(), same))
        common = held.size();
      const size_t before = held.size();
      for (size_t i = common; i < request.messages.size(); ++i) s.chat->add_message(request.messages[i]);
      try {
        std::optional<int64_t> max_tokens;
        if (request.max_tokens_given) max_tokens = request.max_tokens;
        else max_tokens = settings_.context;  // until the context ends
        state->sequence = s.chat->start_turn(max_tokens);
      } catch (...) {
        s.chat->truncate_messages(before);
        throw;
      }
      s.busy = true;
      session = &s;
      state->stream = std::make_unique<GenerationStream>(tokenizer_, request, id, settings_.model_name,
                                                         engine.tokens(state->sequence));
    } else {
      EngineRequest engine_request;
      engine_request.prompt = state->prompt;
      engine_request.sampling = request.sampling;
      engine_request.max_new_tokens = request.max_tokens;
      engine_request.stop_ids = settings_.stop_ids;
      engine_request.stop_strings = request.stop;
      engine_request.kv_policy = state->policy;
      state->sequence = engine.submit(std::move(engine_request));
      state->stream = std::make_unique<GenerationStream>(tokenizer_, request, id, settings_.model_name, state->prompt);
    }
  } catch (const ApiError& e) {
    state->exchange->respond(e.status(), kJson, e.body().dump());
    finished(state, std::to_string(e.status()));
    return;
  } catch (const Error& e) {
    const ApiError error(400, e.what());
    state->exchange->respond(400, kJson, error.body().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    finished(state, "400");
    return;
  }
  by_sequence_[state->sequence] = state;
  if (request.logprobs)  // the logits reach the host only while someone asks for logprobs
    engine.set_logits_callback([this](SequenceId sequence, std::span<const float> row) {
      auto it = by_sequence_.find(sequence);
      if (it != by_sequence_.end()) it->second->stream->logits(row);
    });
  if (request.stream) state->exchange->start_events();
  auto dump = [](const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); };
  loop_.watch(state->sequence, [this, state, session, dump, &engine](const EngineEvent& event) {
    GenerationStream& stream = *state->stream;
    const auto now = std::chrono::steady_clock::now();
    if (event.kind == EngineEvent::Kind::Token) {
      if (stream.generated() == 0)
        metrics_.first_token(std::chrono::duration<double>(now - stream.arrived).count());
      else
        metrics_.inter_token(std::chrono::duration<double>(now - stream.last_token).count());
      stream.last_token = now;
      const std::string delta = stream.token(event.token);
      if (state->request.stream && (!delta.empty() || state->request.logprobs)) {
        state->exchange->send_event(dump(stream.chunk(delta, !state->sent_first)));
        state->sent_first = true;
      }
      return;
    }
    state->done = true;
    by_sequence_.erase(state->sequence);
    bool any_logprobs = false;
    for (const auto& [sequence, other] : by_sequence_) any_logprobs |= other->request.logprobs;
    if (!any_logprobs) engine.set_logits_callback(nullptr);
    if (session) {
      session->busy = false;
      try {
        session->chat->finish_turn(stream.tokens(), event);
      } catch (const Error&) {
        // The turn failed or was cancelled: the session starts over next time (see below for the reply).
      }
    }
    if (event.reason == FinishReason::Cancelled || event.reason == FinishReason::Error) {
      const ApiError error(event.reason == FinishReason::Error ? 400 : 499,
                           event.reason == FinishReason::Error ? event.error : "the request was cancelled");
      if (state->request.stream) {
        state->exchange->send_event(dump(error.body()));
        state->exchange->send_event("[DONE]");
        state->exchange->end_events();
      } else {
        state->exchange->respond(error.status() == 499 ? 400 : error.status(), kJson, dump(error.body()));
      }
      finished(state, event.reason == FinishReason::Error ? "error" : "cancelled");
      return;
    }
    const std::string rest = stream.finish(event);
    metrics_.tokens(stream.prompt_tokens(), stream.generated());
    metrics_.kv_report(event.kv);
    metrics_.end_to_end(std::chrono::duration<double>(now - stream.arrived).count());
    if (offload_) metrics_.offload(offload_->totals());
    if (state->request.stream) {
      if (!rest.empty() || !state->sent_first) state->exchange->send_event(dump(stream.chunk(rest, !state->sent_first)));
      state->exchange->send_event(dump(stream.final_chunk()));
      if (state->request.include_usage) state->exchange->send_event(dump(stream.usage_chunk()));
      state->exchange->send_event("[DONE]");
      state->exchange->end_events();
    } else {
      state->exchange->respond(200, kJson, dump(stream.response()));
    }
    finished(state, "ok");
  });
}

void OpenAiServer::finished(const std::shared_ptr<RequestState>& state, const std::string& status) {
  metrics_.request_finished(status);
  state->done = true;
  --in_flight_;
}

void OpenAiServer::begin_shutdown() {
  if (shutting_down_.exchange(true)) return;
  http_.stop_accepting();
  shutdown_deadline_ = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(settings_.shutdown_timeout_seconds));
  check_shutdown();
}

void OpenAiServer::check_shutdown() {
  if (in_flight_.load() == 0) {
    http_.stop();
    return;
  }
  if (std::chrono::steady_clock::now() > shutdown_deadline_ && !cancelled_all_) {
    cancelled_all_ = true;  // past the timeout: what still runs is cancelled
    loop_.post([this](Engine& engine) {
      for (const auto& [sequence, state] : by_sequence_) engine.cancel(sequence);
    });
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(http_.context(), std::chrono::milliseconds(50));
  timer->async_wait([this, timer](const boost::system::error_code&) { check_shutdown(); });
}

}  // namespace slkv
