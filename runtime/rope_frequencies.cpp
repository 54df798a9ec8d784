#include "runtime/rope_frequencies.h"

#include <cmath>
#include <numbers>

namespace slkv {

std::vector<float> rope_inverse_frequencies(const ModelConfig& config) {
  const int64_t half = config.head_dim / 2;
  const RopeScaling& scaling = config.rope_scaling;
  // Computed in double and rounded once, so results do not depend on the order of float ops.
  const double old_context = double(scaling.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / scaling.low_freq_factor;
  const double high_freq_wavelen = old_context / scaling.high_freq_factor;

  std::vector<float> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    double freq = 1.0 / std::pow(config.rope_theta, double(2 * i) / double(config.head_dim));
    if (scaling.type == RopeScaling::Type::Llama3) {
      double wavelen = 2.0 * std::numbers::pi / freq;
      if (wavelen > low_freq_wavelen) {
        freq /= scaling.factor;
      } else if (wavelen >= high_freq_wavelen) {
        double smooth = (old_context / wavelen - scaling.low_freq_factor) /
                        (scaling.high_freq_factor - scaling.low_freq_factor);
        freq = (1.0 - smooth) * freq / scaling.factor + smooth * freq;
      }
    }
    inv_freq[size_t(i)] = float(freq);
  }
  return inv_freq;
}

}  // namespace slkv
