#pragma once
// Summary statistics of repeated measurements.
#include <algorithm>
#include <vector>

#include "core/error.h"

namespace slkv {

// The middle value; for an even count, the mean of the two middle values.
// Takes a copy: the values are partially reordered.
inline double median(std::vector<double> values) {
  SLKV_CHECK(!values.empty(), "median of no values");
  const size_t middle = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + middle, values.end());
  const double upper = values[middle];
  if (values.size() % 2 == 1) return upper;
  // After nth_element the lower middle value is the largest one before `middle`.
  const double lower = *std::max_element(values.begin(), values.begin() + middle);
  return (lower + upper) / 2;
}

}  // namespace slkv
