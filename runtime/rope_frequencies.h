#pragma once
// RoPE inverse frequencies for a model, Llama-3 frequency scaling included.
#include <vector>

#include "runtime/checkpoint/model_config.h"

namespace slkv {

// head_dim / 2 values: inv_freq[i] = 1 / rope_theta^(2i / head_dim). With
// "llama3" rope_scaling, low frequencies (wavelength above
// original_max_position_embeddings / low_freq_factor) are divided by factor,
// high ones (below .../ high_freq_factor) kept, and those between
// interpolated smoothly, as transformers' _compute_llama3_parameters does.
std::vector<float> rope_inverse_frequencies(const ModelConfig& config);

}  // namespace slkv
