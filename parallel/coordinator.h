#pragma once
// Coordinator: the whole coordinator protocol of a tp x pp job, in one
// place. World rank 0 takes requests, schedules and samples; every rank
// follows. It carries, over MPI on host data:
//   * step plans and finished sequences, rank 0 -> every rank (broadcast_words);
//   * the last stage's logits -> rank 0 (pipeline parallel);
//   * per-layer lazy scores: summed over each TP group, then the PP stages,
//     -> rank 0, which decides; the decision vectors -> every rank;
//   * SnapKV key masses among the ranks that share a replicated KV head;
//   * KV reports summed over the ranks; small setup broadcasts (prompts as
//     token ids, the seed, stop ids).
// It implements runtime/distributed_sync.h, which the Engine and KvPolicy use.
#include <cstdint>
#include <vector>

#include "parallel/parallel_context.h"
#include "runtime/distributed_sync.h"

namespace slkv {

class Coordinator final : public DistributedSync {
 public:
  // context: the rank's groups; layers: the layers its stage runs.
  Coordinator(ParallelContext& context, IndexRange layers) : context_(context), layers_(layers) {}

  bool is_coordinator() const override { return context_.topology().is_coordinator(); }
  bool owns_layer(int64_t layer) const override { return layers_.contains(layer); }
  void broadcast_words(std::vector<int64_t>& words) override;
  int64_t max_over_ranks(int64_t value) override;
  void before_step(int64_t step) override;
  void logits_to_coordinator(std::vector<float>& logits, int64_t rows, int64_t vocab) override;
  void gather_scores(std::vector<double>& values) override;
  void broadcast_decisions(std::vector<double>& buffer) override;
  void reduce_key_mass(std::vector<float>& key_mass) override;
  void merge_kv_report(KvReport& report) override;

  // Setup, rank 0 -> every rank: lists of token ids (only rank 0 tokenizes),
  // a list of ints, one number.
  void broadcast_token_lists(std::vector<std::vector<int32_t>>& lists);
  void broadcast_ints(std::vector<int32_t>& values);
  void broadcast_u64(uint64_t& value);
  // One value per rank, gathered into a world-size vector on every rank.
  std::vector<double> per_rank_values(double mine);

 private:
  ParallelContext& context_;
  IndexRange layers_;
};

}  // namespace slkv
