#pragma once
// OpenAiServer: the routes of `slkv serve` over an HttpServer and an
// EngineLoop: /v1/completions, /v1/chat/completions (streamed or not, with
// the session_id extension), /v1/models, /health, /metrics; API-key checks,
// the queue bound (429) and graceful shutdown. Requests are checked and
// tokenized on the network thread; the engine work runs as EngineLoop
// commands; each request's events go back to its HttpExchange.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "launch/serve/http_server.h"
#include "launch/serve/metrics.h"
#include "launch/serve/openai_protocol.h"
#include "offload/offload_manager.h"
#include "runtime/engine/engine_loop.h"
#include "runtime/session/chat_session.h"
#include "runtime/tokenizer/chat_template.h"
#include "runtime/tokenizer/tokenizer.h"

namespace slkv {

struct ServeSettings {
  std::string model_name;
  std::optional<std::string> api_key;
  int64_t max_queue = 256;             // requests waiting beyond the running ones before 429
  int64_t max_batch = 64;
  double shutdown_timeout_seconds = 30;
  double session_idle_seconds = 600;
  SamplingParams sampling;             // the model's defaults
  std::vector<int32_t> stop_ids;
  KvPolicyConfig kv_policy;            // the server's default policy
  int64_t context = 0;                 // max_position_embeddings
};

class OpenAiServer {
 public:
  // The engine loop must run on `engine`; offload may be null.
  OpenAiServer(HttpServer& http, EngineLoop& loop, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
               OffloadManager* offload, ServeSettings settings);
  // The handler for the HttpServer.
  void handle(const HttpRequest& request, std::shared_ptr<HttpExchange> exchange);
  // Stops accepting, lets in-flight requests finish within the shutdown
  // timeout, cancels the rest, then stops the HTTP server (run() returns).
  void begin_shutdown();
  int64_t in_flight() const { return in_flight_.load(); }

 private:
  struct Session {
    std::unique_ptr<ChatSession> chat;
    bool busy = false;
  };
  void generate(const HttpRequest& request, std::shared_ptr<HttpExchange> exchange, bool chat);
  // Engine-loop thread: submits, watches, streams.
  void run_request(Engine& engine, std::shared_ptr<struct RequestState> state);
  void finished(const std::shared_ptr<struct RequestState>& state, const std::string& status);
  void check_shutdown();

  HttpServer& http_;
  EngineLoop& loop_;
  const Tokenizer& tokenizer_;
  const ChatTemplate& template_;
  OffloadManager* offload_;
  ServeSettings settings_;
  ServerMetrics metrics_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> next_id_{0};
  // Random per server start, before next_id_: ids stay unique across
  // restarts, as clients and logs that key on them expect.
  std::string id_prefix_;
  std::atomic<bool> shutting_down_{false};
  std::chrono::steady_clock::time_point shutdown_deadline_;
  bool cancelled_all_ = false;
  std::map<std::string, Session> sessions_;  // engine-loop thread only
  std::map<SequenceId, std::shared_ptr<struct RequestState>> by_sequence_;  // engine-loop thread only (logprobs)
};

}  // namespace slkv
