#pragma once
// PredictionFile: a JSON-lines file of per-row results that a run appends
// to as rows finish (flushed line by line), so that an interrupted run can
// resume: a new run keeps every complete line, cuts off a torn last line,
// and skips the rows already there (by their "index" field).
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace slkv {

class PredictionFile {
 public:
  // Reads what `path` already holds (creating its directory). Throws
  // slkv::Error naming the file and line of a complete line that is not a
  // JSON object with an integer "index".
  explicit PredictionFile(std::filesystem::path path);

  bool has(int64_t index) const { return done_.count(index) > 0; }
  int64_t rows() const { return static_cast<int64_t>(done_.size()); }
  // Writes `line` (which carries "index") and flushes it.
  void append(const nlohmann::json& line);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::set<int64_t> done_;
  std::ofstream out_;
};

}  // namespace slkv
