#include "launch/eval/prediction_file.h"

#include <string>

#include "core/error.h"
#include "core/text_file.h"

namespace slkv {

PredictionFile::PredictionFile(std::filesystem::path path) : path_(std::move(path)) {
  if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path());
  if (std::filesystem::exists(path_)) {
    const std::string text = read_text_file(path_);
    // A run killed mid-write leaves a last line without its newline: drop it.
    const size_t complete = text.empty() || text.back() == '\n' ? text.size() : text.rfind('\n') + 1;
    size_t begin = 0;
    for (int64_t line = 1; begin < complete; ++line) {
      const size_t end = text.find('\n', begin);
      const std::string row = text.substr(begin, end - begin);
      begin = end + 1;
      if (row.empty()) continue;
      const nlohmann::json value = nlohmann::json::parse(row, nullptr, /*allow_exceptions=*/false);
      if (!value.is_object() || !value.contains("index") || !value["index"].is_number_integer())
        throw Error(path_.string() + ":" + std::to_string(line) +
                    ": not a prediction line (a JSON object with an integer \"index\"); remove the file to start over");
      done_.insert(value["index"].get<int64_t>());
    }
    if (complete < text.size()) std::filesystem::resize_file(path_, complete);
  }
  out_.open(path_, std::ios::app | std::ios::binary);
  if (!out_) throw Error("cannot write " + path_.string());
}

void PredictionFile::append(const nlohmann::json& line) {
  out_ << line.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace) << "\n";
  out_.flush();
  if (!out_) throw Error("cannot write " + path_.string());
  done_.insert(line.at("index").get<int64_t>());
}

}  // namespace slkv
