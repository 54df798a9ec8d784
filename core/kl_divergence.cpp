#include "core/kl_divergence.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace slkv {

namespace {

std::vector<double> log_softmax(std::span<const float> logits) {
  const double max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float x : logits) sum += std::exp(x - max);
  const double log_sum = max + std::log(sum);
  std::vector<double> out(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) out[i] = logits[i] - log_sum;
  return out;
}

}  // namespace

double kl_divergence(std::span<const float> p_logits, std::span<const float> q_logits) {
  SLKV_CHECK(p_logits.size() == q_logits.size() && !p_logits.empty(),
             "KL of logit rows of " << p_logits.size() << " and " << q_logits.size() << " entries");
  const std::vector<double> log_p = log_softmax(p_logits), log_q = log_softmax(q_logits);
  double kl = 0;
  for (size_t i = 0; i < log_p.size(); ++i) kl += std::exp(log_p[i]) * (log_p[i] - log_q[i]);
  return std::max(kl, 0.0);  // rounding can leave -1e-17 for identical rows
}

}  // namespace slkv
