#pragma once
// RankLayout: what every model-running subcommand needs to run under mpirun:
// the --tp/--pp/--pp-layers flags, this rank's place in the grid, the shard
// of the model it loads, the MPI groups and the coordinator protocol over
// them (none on a single process), and the engine every such subcommand runs.
#include <cstdint>
#include <cxxopts.hpp>
#include <filesystem>
#include <memory>
#include <vector>

#include "launch/device_choice.h"
#include "parallel/coordinator.h"
#include "parallel/parallel_context.h"
#include "parallel/topology.h"
#include "runtime/engine/engine.h"
#include "runtime/model.h"

namespace slkv {

// Adds --tp, --pp and --pp-layers.
void add_parallel_options(cxxopts::Options& options);

struct RankLayout {
  Topology topology;
  ModelShard shard;                          // this rank's layers, heads and groups
  std::unique_ptr<ParallelContext> context;  // null on a single process
  std::unique_ptr<Coordinator> protocol;     // over `context`; null on a single process

  bool coordinator() const { return topology.is_coordinator(); }
  bool distributed() const { return context != nullptr; }
  // Null on a single process: what the Engine takes.
  DistributedSync* sync() const { return protocol.get(); }
};

// Checks the grid against the MPI world and config.json (head counts, layer
// counts) before any weight is read, then builds the groups (collective).
RankLayout make_rank_layout(const cxxopts::ParseResult& args, const std::filesystem::path& model_dir);

// What a rank runs: its backend, the communicators a GPU backend needs for
// the shard's activations (NCCL over the TP and PP ranks, on the backend's
// compute stream; none for host backends or one process), and its shard of
// the model in the backend's memory. Members go in reverse order, so the
// backend outlives what lives in its memory; declare caches after it.
struct RankModel {
  std::unique_ptr<Backend> backend;
  std::vector<std::unique_ptr<Communicator>> device_communicators;
  std::unique_ptr<Model> model;
};
RankModel load_rank_model(RankLayout& layout, const std::filesystem::path& model_dir, const DeviceChoice& choice);

// Adds the engine's flags: --max-batch, --max-batch-tokens, --kv-blocks.
void add_engine_options(cxxopts::Options& options);
EngineConfig engine_config_from_args(const cxxopts::ParseResult& args, const KvPolicyConfig& policy);

// Coordinator -> every rank: lists of token ids only rank 0 has (it tokenizes).
void broadcast_token_lists(const RankLayout& layout, std::vector<std::vector<int32_t>>& lists);

// Sums the per-rank KV reports (each rank holds its own KV heads of its
// stage's layers) into whole-model figures, on every rank.
void merge_kv_report(const RankLayout& layout, KvReport& report);

// One value per rank, gathered into a world-size vector on every rank.
std::vector<double> per_rank_values(const RankLayout& layout, double mine);

}  // namespace slkv
