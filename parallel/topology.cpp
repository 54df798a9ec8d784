#include "parallel/topology.h"

#include <numeric>
#include <sstream>

#include "core/comma_list.h"
#include "core/error.h"

namespace slkv {

Topology Topology::make(int world_size, int rank, int tp, int pp) {
  if (tp < 1 || pp < 1)
    throw Error("--tp and --pp must be >= 1, got --tp " + std::to_string(tp) + " --pp " + std::to_string(pp));
  if (tp * pp != world_size)
    throw Error("--tp " + std::to_string(tp) + " x --pp " + std::to_string(pp) + " = " + std::to_string(tp * pp) +
                " ranks, but the MPI world has " + std::to_string(world_size) +
                (world_size == 1 ? " (launch with mpirun -np " + std::to_string(tp * pp) + ")" : ""));
  Topology t;
  t.world_size = world_size;
  t.rank = rank;
  t.tp = tp;
  t.pp = pp;
  t.tp_rank = rank % tp;
  t.pp_rank = rank / tp;
  return t;
}

std::vector<int64_t> parse_layer_counts(const std::string& text) { return parse_int_list(text, "--pp-layers"); }

std::vector<IndexRange> stage_layers(int64_t num_layers, int pp, const std::vector<int64_t>& counts) {
  if (pp > num_layers)
    throw Error("--pp " + std::to_string(pp) + " is more pipeline stages than the model's " +
                std::to_string(num_layers) + " layers");
  std::vector<IndexRange> stages;
  if (counts.empty()) {
    for (int s = 0; s < pp; ++s) stages.push_back(split_evenly(num_layers, pp, s));
    return stages;
  }
  std::string listed;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (i > 0) listed += ',';
    listed += std::to_string(counts[i]);
  }
  if (static_cast<int>(counts.size()) != pp)
    throw Error("--pp-layers " + listed + " gives " + std::to_string(counts.size()) + " stages, --pp is " +
                std::to_string(pp));
  int64_t total = 0;
  for (int64_t c : counts) {
    if (c < 1) throw Error("--pp-layers " + listed + ": every stage needs at least one layer");
    total += c;
  }
  if (total != num_layers)
    throw Error("--pp-layers " + listed + " sums to " + std::to_string(total) + " layers, the model has " +
                std::to_string(num_layers));
  int64_t begin = 0;
  for (int64_t c : counts) {
    stages.push_back(IndexRange{begin, begin + c});
    begin += c;
  }
  return stages;
}

}  // namespace slkv
