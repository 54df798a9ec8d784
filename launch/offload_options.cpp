#include "launch/offload_options.h"

#include <string>

#include "core/byte_size.h"
#include "core/error.h"
#include "core/host_memory.h"
#include "launch/kv_policy_options.h"

namespace slkv {

void add_offload_options(cxxopts::Options& options) {
  // clang-format off
  options.add_options("Sessions")
      ("offload-capacity", "host memory for the KV that lazy layers drop, per rank: bytes or KiB/MiB/GiB (default: half the available host memory)",
       cxxopts::value<std::string>())
      ("session-idle-s", "a session idle this long loses its KV (its next turn re-prefills its history)",
       cxxopts::value<double>()->default_value("600"));
  // clang-format on
}

std::unique_ptr<OffloadManager> make_offload_manager(const cxxopts::ParseResult& args, const Model& model,
                                                     Backend& backend) {
  int64_t capacity = 0;
  if (args.count("offload-capacity")) {
    capacity = parse_byte_size(args["offload-capacity"].as<std::string>(), "--offload-capacity");
  } else {
    const int64_t available = host_memory_available_bytes();
    capacity = available > 0 ? available / 2 : int64_t{1} << 30;
  }
  const AttentionShape shape = model.attention_shape();
  return std::make_unique<OffloadManager>(backend, shape.n_kv_heads * shape.head_dim, capacity);
}

SessionEngine make_session_engine(const cxxopts::ParseResult& args, const RankLayout& layout, RankModel& rank,
                                  const Tokenizer* tokenizer) {
  SessionEngine out;
  out.kv_policy = kv_policy_from_args(args, rank.model->config());
  EngineConfig config = engine_config_from_args(args, out.kv_policy);
  config.micro_batches = layout.topology.pp;
  out.offload = make_offload_manager(args, *rank.model, *rank.backend);
  out.engine = std::make_unique<Engine>(*rank.model, *rank.backend, config, layout.sync(), tokenizer, out.offload.get());
  return out;
}

double session_idle_seconds(const cxxopts::ParseResult& args) {
  const double seconds = args["session-idle-s"].as<double>();
  if (!(seconds > 0)) throw UsageError("--session-idle-s must be > 0, got " + std::to_string(seconds));
  return seconds;
}

}  // namespace slkv
