#pragma once
// Launcher of the token draw on the device (sampling_kernels.cu), so that only
// token ids, not vocabulary-sized logits, travel to the host each step.
// Semantics: kernels/token_draw.h, the same token as cpu::draw_token.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/kernel_types.h"

namespace slkv::cuda {

// tokens[row] = the token draws[row] picks from logits row `row`
// ([n_rows][vocab]); all device memory. One block per row: greedy rows take a
// block argmax; sampled rows find the top-k, top-p and drawn candidates by
// radix selection over (z descending, id ascending) keys, with no sort.
void launch_sample_tokens(const float* logits, int64_t n_rows, int64_t vocab, const DeviceTokenDraw* draws,
                          int32_t* tokens, cudaStream_t stream);

}  // namespace slkv::cuda
