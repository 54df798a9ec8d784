#pragma once
// The flags of the subcommands that hold chat sessions (chat, serve):
// --offload-capacity and --session-idle-s, and the offload manager a rank
// builds from them.
#include <cxxopts.hpp>
#include <memory>

#include "kernels/backend.h"
#include "launch/rank_layout.h"
#include "offload/offload_manager.h"
#include "runtime/engine/engine.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/model.h"

namespace slkv {

void add_offload_options(cxxopts::Options& options);

// This rank's offload manager: pages of its KV heads, --offload-capacity
// bytes of host memory at most (default: half the available host memory).
std::unique_ptr<OffloadManager> make_offload_manager(const cxxopts::ParseResult& args, const Model& model,
                                                     Backend& backend);

// What a session-holding subcommand (chat, serve) runs on each rank: the KV
// policy and engine flags, this rank's offload manager and the engine over
// them (tokenizer: the coordinator's, for stop strings; null elsewhere).
struct SessionEngine {
  std::unique_ptr<OffloadManager> offload;
  std::unique_ptr<Engine> engine;
  KvPolicyConfig kv_policy;
};
SessionEngine make_session_engine(const cxxopts::ParseResult& args, const RankLayout& layout, RankModel& rank,
                                  const Tokenizer* tokenizer);

// --session-idle-s, checked (> 0).
double session_idle_seconds(const cxxopts::ParseResult& args);

}  // namespace slkv
