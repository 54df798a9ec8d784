#pragma once
// KL divergence between the next-token distributions of two logit rows: the
// fidelity measure of the KV-policy benchmarks.
#include <span>

namespace slkv {

// KL(p || q) in nats between softmax(p_logits) and softmax(q_logits), in double.
double kl_divergence(std::span<const float> p_logits, std::span<const float> q_logits);

}  // namespace slkv
