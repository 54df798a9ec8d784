#pragma once
// A needle-in-a-haystack score grid as a heat map PNG in the original's
// look (LLMTest_NeedleInAHaystack's seaborn plot: context length across,
// depth down from 0 at the top, scores 0..100 from red through yellow to
// green), drawn by gnuplot (pngcairo). Next to the PNG stay the data file
// (.tsv) and the gnuplot script (.gp) that drew it, to redraw or restyle.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace slkv {

struct HeatMap {
  std::string title;                        // may hold newlines
  std::vector<int64_t> lengths;             // x axis
  std::vector<double> depths;               // y axis, percent
  std::vector<std::vector<double>> scores;  // scores[length][depth], 0..100
};

// The gnuplot script that draws `map` from `data` into `png`.
std::string heat_map_script(const HeatMap& map, const std::filesystem::path& data, const std::filesystem::path& png);

// Writes png's .tsv and .gp siblings and runs gnuplot on them. Throws
// slkv::Error when gnuplot is not installed or fails.
void render_heat_map(const HeatMap& map, const std::filesystem::path& png);

}  // namespace slkv
