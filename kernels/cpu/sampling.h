#pragma once
// The CPU's token draw: the reference for TokenDraw's definition
// (kernels/token_draw.h), finding each filter's crossing in candidate order
// by partitioning the candidates around pivots (expected linear time), not
// by sorting them all.
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "kernels/token_draw.h"

namespace slkv::cpu {

// Index of the largest value; the lowest index wins ties.
int32_t argmax(std::span<const float> values);

// The token `draw` picks from one row of logits. `candidates` is scratch
// (reused across calls to avoid reallocating a vocabulary-sized vector).
int32_t draw_token(std::span<const float> logits, const TokenDraw& draw,
                   std::vector<std::pair<float, int32_t>>& candidates);

}  // namespace slkv::cpu
