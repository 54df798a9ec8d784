#include "runtime/sampler.h"

#include <cmath>
#include <string>

#include "core/error.h"

namespace slkv {

void SamplingParams::validate() const {
  if (!(temperature >= 0.f) || !std::isfinite(temperature))
    throw Error("--temperature must be a finite number >= 0, got " + std::to_string(temperature));
  if (top_k < 0) throw Error("--top-k must be >= 0, got " + std::to_string(top_k));
  if (!(top_p > 0.f && top_p <= 1.f)) throw Error("--top-p must be in (0, 1], got " + std::to_string(top_p));
}

Sampler::Sampler(const SamplingParams& params) : params_(params), generator_(params.seed) { params.validate(); }

TokenDraw Sampler::next_draw() {
  if (params_.greedy()) return TokenDraw{0.f, params_.top_k, params_.top_p, 0.0};
  return TokenDraw{params_.temperature, params_.top_k, params_.top_p,
                   std::uniform_real_distribution<double>(0.0, 1.0)(generator_)};
}

}  // namespace slkv
