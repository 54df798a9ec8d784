// The device token draw's logic (kernels/cuda/token_select.h) run on the
// host, pass by pass as sampling_kernels.cu runs it on one block, against the
// CPU reference cpu::draw_token. This checks the key order, the eight radix
// passes and the out-of-reach fallback here, without a GPU; the CUDA backend
// test checks the kernel itself where a GPU exists.
#include "kernels/cuda/token_select.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/sampling.h"

namespace slkv {
namespace {

using cuda::BinChoice;
using cuda::candidate_key;

// candidate order: z descending, then id ascending.
bool before_in_order(float za, int64_t ida, float zb, int64_t idb) { return za > zb || (za == zb && ida < idb); }

TEST(TokenSelect, KeyOrderIsCandidateOrder) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> values = {-inf, -1e30f, -2.5f, -1.f, -1e-30f, -0.f, 0.f, 1e-30f, 1.f, 2.5f, 1e30f, inf};
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.f, 10.f);
  for (int i = 0; i < 40; ++i) values.push_back(normal(rng));
  for (float za : values)
    for (float zb : values)
      for (int64_t ida : {0, 7, 128255})
        for (int64_t idb : {0, 7, 128255}) {
          if (za == zb && ida == idb) continue;
          EXPECT_EQ(candidate_key(za, ida) < candidate_key(zb, idb), before_in_order(za, ida, zb, idb))
              << za << "#" << ida << " vs " << zb << "#" << idb;
        }
}

TEST(TokenSelect, ChooseBinFindsTheCrossingAndFallsBackToTheLastBin) {
  unsigned count[cuda::kSelectBins] = {};
  double weight[cuda::kSelectBins] = {};
  count[3] = 2, weight[3] = 0.5;
  count[9] = 1, weight[9] = 0.25;
  count[200] = 4, weight[200] = 0.25;
  BinChoice c = cuda::choose_bin(count, weight, true, 0.5, true);  // reached exactly at bin 3
  EXPECT_EQ(c.bin, 3);
  EXPECT_EQ(c.before, 0.0);
  c = cuda::choose_bin(count, weight, true, 0.5, false);  // must exceed: bin 9
  EXPECT_EQ(c.bin, 9);
  EXPECT_EQ(c.before, 0.5);
  c = cuda::choose_bin(count, weight, false, 3, true);  // counts: 2, then 3 at bin 9
  EXPECT_EQ(c.bin, 9);
  EXPECT_EQ(c.before, 2.0);
  c = cuda::choose_bin(count, weight, true, 2.0, true);  // out of reach: the last non-empty bin
  EXPECT_EQ(c.bin, 200);
  EXPECT_EQ(c.before, 0.75);
}

// sampling_kernels.cu's select_key on one thread: eight passes of one key byte.
uint64_t select_key(const std::vector<float>& logits, float temperature, float z_max, uint64_t limit, double target,
                    bool inclusive, bool weighted) {
  uint64_t prefix = 0;
  for (int shift = cuda::kFirstShift; shift >= 0; shift -= 8) {
    std::vector<unsigned> count(cuda::kSelectBins, 0);
    std::vector<double> weight(cuda::kSelectBins, 0.0);
    for (size_t i = 0; i < logits.size(); ++i) {
      const float z = logits[i] / temperature;
      const uint64_t key = candidate_key(z, static_cast<int64_t>(i));
      if (key > limit || (key & cuda::chosen_mask(shift)) != prefix) continue;
      const int bin = static_cast<int>((key >> shift) & (cuda::kSelectBins - 1));
      ++count[bin];
      weight[bin] += static_cast<double>(std::exp(z - z_max));
    }
    const BinChoice choice = cuda::choose_bin(count.data(), weight.data(), weighted, target, inclusive);
    prefix |= static_cast<uint64_t>(choice.bin) << shift;
    target -= choice.before;
  }
  return prefix;
}

double kept_weight(const std::vector<float>& logits, float temperature, float z_max, uint64_t limit) {
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float z = logits[i] / temperature;
    if (candidate_key(z, static_cast<int64_t>(i)) <= limit) sum += static_cast<double>(std::exp(z - z_max));
  }
  return sum;
}

// sampling_kernels.cu's sampled-row path (temperature > 0) on one thread.
int32_t draw_by_selection(const std::vector<float>& logits, const TokenDraw& draw) {
  float z_max = -std::numeric_limits<float>::infinity();
  for (float logit : logits) z_max = std::fmax(z_max, logit / draw.temperature);
  const int64_t vocab = static_cast<int64_t>(logits.size());
  uint64_t limit = cuda::kAllKeys;
  if (draw.top_k > 0 && draw.top_k < vocab)
    limit = select_key(logits, draw.temperature, z_max, limit, static_cast<double>(draw.top_k), true, false);
  double total = kept_weight(logits, draw.temperature, z_max, limit);
  if (draw.top_p < 1.f) {
    limit = select_key(logits, draw.temperature, z_max, limit, static_cast<double>(draw.top_p) * total, true, true);
    total = kept_weight(logits, draw.temperature, z_max, limit);
  }
  const uint64_t drawn = select_key(logits, draw.temperature, z_max, limit, draw.uniform * total, false, true);
  return static_cast<int32_t>(static_cast<uint32_t>(drawn));
}

TEST(TokenSelect, RadixSelectionDrawsWhatTheCpuReferenceDraws) {
  std::mt19937_64 rng(17);
  std::normal_distribution<float> normal(0.f, 3.f);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<std::pair<float, int32_t>> scratch;
  const std::vector<TokenDraw> shapes = {{1.f, 0, 1.f, 0},   {0.7f, 0, 1.f, 0},  {1.f, 1, 1.f, 0},   {1.f, 5, 1.f, 0},
                                         {1.3f, 0, 0.5f, 0}, {1.f, 0, 0.05f, 0}, {0.8f, 40, 0.9f, 0}, {1.f, 3, 0.99f, 0}};
  int checked = 0;
  for (int64_t vocab : {1, 2, 7, 300, 5000}) {
    for (int row_kind = 0; row_kind < 3; ++row_kind) {
      std::vector<float> logits(static_cast<size_t>(vocab));
      for (float& logit : logits) logit = normal(rng);
      if (row_kind == 1)  // many exact ties: values on a coarse grid
        for (float& logit : logits) logit = std::round(logit);
      if (row_kind == 2 && vocab > 2) {  // -inf entries and a shared maximum
        logits[0] = -std::numeric_limits<float>::infinity();
        logits[vocab / 2] = logits[vocab - 1] = 20.f;
      }
      for (TokenDraw draw : shapes) {
        if (draw.top_k > vocab) draw.top_k = vocab + 1;  // also covers top_k above the vocabulary
        for (double u : {0.0, 0.25, 0.5, 0.999999, uniform(rng), uniform(rng)}) {
          draw.uniform = u;
          EXPECT_EQ(draw_by_selection(logits, draw), cpu::draw_token(logits, draw, scratch))
              << "vocab " << vocab << " row kind " << row_kind << " T " << draw.temperature << " k " << draw.top_k
              << " p " << draw.top_p << " u " << u;
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 5 * 3 * 8 * 6);
}

}  // namespace
}  // namespace slkv
