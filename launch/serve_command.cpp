// slkv serve: the OpenAI-compatible HTTP server (launch/serve/) over the
// engine, with chat sessions, metrics and graceful shutdown. Under mpirun
// world rank 0 listens and drives the engine; the other ranks follow it.
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "core/error.h"
#include "launch/cli_common.h"
#include "launch/commands.h"
#include "launch/device_choice.h"
#include "launch/kv_policy_options.h"
#include "launch/offload_options.h"
#include "launch/rank_layout.h"
#include "launch/sampling_options.h"
#include "launch/serve/http_server.h"
#include "launch/serve/openai_server.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/engine_loop.h"
#include "runtime/tokenizer/chat_template.h"
#include "runtime/tokenizer/tokenizer.h"

namespace slkv {

int run_serve(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Serve a model over the OpenAI API (completions, chat completions, streaming)");
  // clang-format off
  options.add_options()
      ("model", "model directory (config.json, *.safetensors, tokenizer.json, tokenizer_config.json)", cxxopts::value<std::string>())
      ("host", "address to listen on", cxxopts::value<std::string>()->default_value("127.0.0.1"))
      ("port", "port to listen on (0: any free port, printed at start)", cxxopts::value<int>()->default_value("8000"))
      ("api-key", "require 'Authorization: Bearer KEY' on /v1 routes (default: none)", cxxopts::value<std::string>())
      ("served-model-name", "the model's name in the API (default: the model directory's name)", cxxopts::value<std::string>())
      ("max-queue", "requests waiting beyond the running ones before the server answers 429", cxxopts::value<int64_t>()->default_value("256"))
      ("max-body-bytes", "largest request body (413 beyond)", cxxopts::value<int64_t>()->default_value("8388608"))
      ("shutdown-timeout-s", "on SIGTERM/SIGINT, how long in-flight requests may finish before they are cancelled",
       cxxopts::value<double>()->default_value("30"));
  // clang-format on
  add_kv_policy_options(options);
  add_offload_options(options);
  add_engine_options(options);
  add_parallel_options(options);
  add_device_options(options, default_thread_count());
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::filesystem::path model_dir = required_flag(args, "model", "DIR");
  const int port = args["port"].as<int>();
  if (port < 0 || port > 65535) throw UsageError("--port must be in 0..65535, got " + std::to_string(port));
  const int64_t max_queue = args["max-queue"].as<int64_t>();
  if (max_queue < 0) throw UsageError("--max-queue must be >= 0");
  const int64_t max_body = args["max-body-bytes"].as<int64_t>();
  if (max_body < 1) throw UsageError("--max-body-bytes must be >= 1");
  const double shutdown_timeout = args["shutdown-timeout-s"].as<double>();
  if (!(shutdown_timeout >= 0)) throw UsageError("--shutdown-timeout-s must be >= 0");
  const double idle_seconds = session_idle_seconds(args);

  RankLayout layout = make_rank_layout(args, model_dir);
  const bool coordinator = layout.coordinator();
  std::optional<Tokenizer> tokenizer;
  std::optional<ChatTemplate> chat_template;
  if (coordinator) {
    tokenizer.emplace(Tokenizer::load(model_dir));
    chat_template.emplace(ChatTemplate::load(model_dir));
  }
  RankModel rank = load_rank_model(layout, model_dir, device_choice(args));
  SessionEngine session_engine = make_session_engine(args, layout, rank, tokenizer ? &*tokenizer : nullptr);
  Engine& engine = *session_engine.engine;
  if (!coordinator) {
    // mpirun passes SIGTERM/SIGINT to every rank: rank 0 shuts the job down
    // (its plans tell this rank when), so this one must not die of them first.
    std::signal(SIGTERM, SIG_IGN);
    std::signal(SIGINT, SIG_IGN);
    engine.follow();
    return 0;
  }

  ServeSettings settings;
  settings.model_name = args.count("served-model-name") ? args["served-model-name"].as<std::string>()
                                                        : std::filesystem::absolute(model_dir).filename().string();
  if (settings.model_name.empty()) settings.model_name = "slkv";
  if (args.count("api-key")) settings.api_key = args["api-key"].as<std::string>();
  settings.max_queue = max_queue;
  settings.max_batch = engine.config().limits.max_batch;
  settings.shutdown_timeout_seconds = shutdown_timeout;
  settings.session_idle_seconds = idle_seconds;
  settings.sampling = generation_defaults(model_dir);
  settings.stop_ids = stop_token_ids(rank.model->config(), *tokenizer);
  settings.kv_policy = session_engine.kv_policy;
  settings.context = rank.model->config().max_position_embeddings;

  HttpLimits limits;
  limits.max_body_bytes = static_cast<uint64_t>(max_body);
  std::unique_ptr<OpenAiServer> api;
  HttpServer http(args["host"].as<std::string>(), static_cast<uint16_t>(port), limits,
                  [&api](const HttpRequest& request, std::shared_ptr<HttpExchange> exchange) {
                    api->handle(request, std::move(exchange));
                  });
  int status = 0;
  {
    EngineLoop loop(engine);
    api = std::make_unique<OpenAiServer>(http, loop, *tokenizer, *chat_template, session_engine.offload.get(), settings);
    boost::asio::signal_set signals(http.context(), SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& error, int) {
      if (error) return;
      std::cerr << "slkv serve: shutting down (in-flight requests: " << api->in_flight() << ")" << std::endl;
      api->begin_shutdown();
    });
    std::cout << "slkv serve: listening on http://" << args["host"].as<std::string>() << ":" << http.port() << " ("
              << settings.model_name << ")" << std::endl;
    try {
      http.run();
    } catch (const std::exception& e) {
      std::cerr << "slkv serve: " << e.what() << std::endl;
      status = 1;
    }
    loop.stop();
  }
  engine.shutdown();
  return status;
}

}  // namespace slkv
