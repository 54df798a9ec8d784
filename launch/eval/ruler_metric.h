#pragma once
// RULER's metric for the NIAH tasks (RULER scripts/eval/synthetic/constants.py):
// string_match_all, after RULER's postprocess_pred. Lowercasing is ASCII
// (RULER's answers are numbers, uuids and English words).
#include <string>
#include <vector>

namespace slkv {

// RULER's postprocess_pred: control characters (0x00-0x1f) become
// newlines, surrounding whitespace is stripped.
std::string ruler_postprocess(const std::string& prediction);

// One row: the share (0..1) of `outputs` found, case-insensitively, as
// substrings of `prediction`. 0 for no outputs.
double string_match_all_row(const std::string& prediction, const std::vector<std::string>& outputs);

// The rows' mean x 100, rounded to 2 decimals (0 for no rows);
// predictions[i] answers outputs[i].
double string_match_all(const std::vector<std::string>& predictions, const std::vector<std::vector<std::string>>& outputs);

}  // namespace slkv
