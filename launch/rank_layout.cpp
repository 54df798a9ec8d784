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
    layout.context = std::make_unique<ParallelContext>(topology, stages, slice);
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

void broadcast_token_lists(const RankLayout& layout, std::vector<std::vector<int32_t>>& lists) {
  if (!layout.context) return;
  // Packed as [count, len0, ids0..., len1, ids1...].
  std::vector<int32_t> packed{static_cast<int32_t>(lists.size())};
  for (const auto& tokens : lists) {
    packed.push_back(static_cast<int32_t>(tokens.size()));
    packed.insert(packed.end(), tokens.begin(), tokens.end());
  }
  layout.context->broadcast_ints(packed);
  lists.assign(packed[0], {});
  size_t at = 1;
  for (auto& tokens : lists) {
    tokens.assign(packed.begin() + at + 1, packed.begin() + at + 1 + packed[at]);
    at += 1 + packed[at];
  }
}

void share_logits(const RankLayout& layout, std::vector<float>& logits, int64_t rows, int64_t vocab) {
  if (!layout.context) return;
  layout.context->logits_to_coordinator(logits, rows, vocab);
  logits.resize(rows * vocab);
  layout.context->world().broadcast(logits.data(), rows * vocab * static_cast<int64_t>(sizeof(float)), 0);
}

void merge_kv_reports(const RankLayout& layout, std::vector<KvReport*> reports) {
  if (!layout.context) return;
  for (KvReport* report : reports) {
    KvReport& kv = *report;
    const size_t layers = kv.kv_tokens_per_layer.size();
    std::vector<double> sums(layers + 3, 0.0);
    // Tokens per layer: one TP rank of every stage (stages hold disjoint
    // layers, TP ranks of a stage the same tokens); bytes and blocks: every rank.
    if (layout.topology.tp_rank == 0)
      for (size_t l = 0; l < layers; ++l) sums[l] = static_cast<double>(kv.kv_tokens_per_layer[l]);
    sums[layers] = static_cast<double>(kv.kv_bytes);
    sums[layers + 1] = static_cast<double>(kv.kv_bytes_full);
    sums[layers + 2] = static_cast<double>(kv.kv_blocks);
    layout.context->world().all_reduce_sum(sums.data(), static_cast<int64_t>(sums.size()));
    for (size_t l = 0; l < layers; ++l) kv.kv_tokens_per_layer[l] = static_cast<int64_t>(sums[l]);
    kv.kv_bytes = static_cast<int64_t>(sums[layers]);
    kv.kv_bytes_full = static_cast<int64_t>(sums[layers + 1]);
    kv.kv_blocks = static_cast<int64_t>(sums[layers + 2]);
    kv.compression_ratio = kv.kv_bytes > 0 ? static_cast<double>(kv.kv_bytes_full) / kv.kv_bytes : 1.0;
  }
}

std::vector<double> per_rank_values(const RankLayout& layout, double mine) {
  std::vector<double> values(layout.topology.world_size, 0.0);
  values[layout.topology.rank] = mine;
  if (layout.context) layout.context->world().all_reduce_sum(values.data(), layout.topology.world_size);
  return values;
}

}  // namespace slkv
