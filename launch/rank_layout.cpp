#include "launch/rank_layout.h"

#include "parallel/mpi_communicator.h"
#ifdef SLKV_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#include "parallel/nccl_communicator.h"
#endif
#include "core/error.h"
#include "runtime/checkpoint/model_config.h"

namespace slkv {

void add_parallel_options(cxxopts::Options& options) {
  // clang-format off
  options.add_options()
      ("tp", "tensor-parallel ranks (launch tp x pp ranks with mpirun)", cxxopts::value<int>()->default_value("1"))
      ("pp", "pipeline-parallel stages", cxxopts::value<int>()->default_value("1"))
      ("pp-layers", "layers per pipeline stage, e.g. 3,2 (default: even split)", cxxopts::value<std::string>());
  // clang-format on
}

RankLayout make_rank_layout(const cxxopts::ParseResult& args, const std::filesystem::path& model_dir) {
  RankLayout layout;
  layout.topology = Topology::make(world_size(), world_rank(), args["tp"].as<int>(), args["pp"].as<int>());
  const Topology& topology = layout.topology;
  const ModelConfig config = ModelConfig::load(model_dir);
  std::vector<int64_t> counts;
  if (args.count("pp-layers")) counts = parse_layer_counts(args["pp-layers"].as<std::string>());
  std::vector<IndexRange> stages = stage_layers(config.num_layers, topology.pp, counts);
  const TensorSlice slice = tensor_slice(config, topology.tp, topology.tp_rank);
  ModelShard& shard = layout.shard;
  shard.tp = topology.tp;
  shard.tp_rank = topology.tp_rank;
  shard.pp = topology.pp;
  shard.pp_rank = topology.pp_rank;
  shard.layers = stages[topology.pp_rank];
  if (topology.world_size > 1) {
    layout.context = std::make_unique<ParallelContext>(topology, slice);
    layout.protocol = std::make_unique<Coordinator>(*layout.context, shard.layers);
    shard.tp_comm = &layout.context->tp();
    shard.pp_comm = &layout.context->pp();
  }
  return layout;
}

namespace {

// NCCL communicators over the shard's TP and PP ranks for a backend whose
// activations are not in host memory; the shard is pointed at them.
std::vector<std::unique_ptr<Communicator>> attach_device_communicators(RankLayout& layout, Backend& backend) {
  std::vector<std::unique_ptr<Communicator>> communicators;
  if (!layout.context || backend.uses_host_memory()) return communicators;
#ifdef SLKV_HAVE_CUDA
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  if (!cuda) throw Error("no device communicator for the " + backend.name() + " backend");
  auto nccl = [&](MPI_Comm group) {
    communicators.push_back(std::make_unique<NcclCommunicator>(group, cuda->compute_stream()));
    return communicators.back().get();
  };
  // Every rank creates the groups in the same order (NCCL init is collective;
  // TP groups are disjoint, so all of them finish before any PP group starts).
  if (layout.topology.tp > 1) layout.shard.tp_comm = nccl(layout.context->tp_group());
  if (layout.topology.pp > 1) layout.shard.pp_comm = nccl(layout.context->pp_group());
  return communicators;
#else
  throw Error("no device communicator for the " + backend.name() + " backend in this build");
#endif
}

}  // namespace

RankModel load_rank_model(RankLayout& layout, const std::filesystem::path& model_dir, const DeviceChoice& choice) {
  RankModel rank;
  rank.backend = make_backend(choice);
  rank.device_communicators = attach_device_communicators(layout, *rank.backend);
  rank.model = Model::load(model_dir, layout.shard, rank.backend.get());
  return rank;
}

void add_engine_options(cxxopts::Options& options) {
  // clang-format off
  options.add_options()
      ("max-batch", "running sequences per step at most", cxxopts::value<int64_t>()->default_value("64"))
      ("max-batch-tokens", "tokens per step at most (decode tokens + prefill chunks; longer prompts are prefilled over several steps)",
       cxxopts::value<int64_t>()->default_value("512"))
      ("kv-blocks", "KV pool size in blocks of 16 tokens (default: max-batch sequences of full context, at most half the free memory)",
       cxxopts::value<int64_t>());
  // clang-format on
}

EngineConfig engine_config_from_args(const cxxopts::ParseResult& args, const KvPolicyConfig& policy) {
  EngineConfig config;
  config.limits.max_batch = args["max-batch"].as<int64_t>();
  config.limits.max_batch_tokens = args["max-batch-tokens"].as<int64_t>();
  if (args.count("kv-blocks")) {
    config.kv_blocks = args["kv-blocks"].as<int64_t>();
    if (config.kv_blocks < 1) throw Error("--kv-blocks must be >= 1, got " + std::to_string(config.kv_blocks));
  }
  config.kv_policy = policy;
  return config;
}

void broadcast_token_lists(const RankLayout& layout, std::vector<std::vector<int32_t>>& lists) {
  if (layout.protocol) layout.protocol->broadcast_token_lists(lists);
}

void merge_kv_report(const RankLayout& layout, KvReport& report) {
  if (layout.protocol) layout.protocol->merge_kv_report(report);
}

std::vector<double> per_rank_values(const RankLayout& layout, double mine) {
  if (layout.protocol) return layout.protocol->per_rank_values(mine);
  return {mine};
}

}  // namespace slkv
