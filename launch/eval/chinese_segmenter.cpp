#include "launch/eval/chinese_segmenter.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "core/error.h"
#include "core/text_file.h"

namespace slkv::eval {

namespace {

// A word for /bin/sh: single-quoted, with ' written as '\''.
std::string shell_quote(const std::string& word) {
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Temporary files for one run, removed when it ends.
class RunFiles {
 public:
  RunFiles() {
    static std::atomic<int> counter{0};
    const std::string stem = "slkv_jieba_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    const std::filesystem::path dir = std::filesystem::temp_directory_path();
    input = dir / (stem + "_in.json");
    output = dir / (stem + "_out.json");
    errors = dir / (stem + "_err.txt");
  }
  ~RunFiles() {
    std::error_code ignored;
    for (const auto& path : {input, output, errors}) std::filesystem::remove(path, ignored);
  }
  RunFiles(const RunFiles&) = delete;
  RunFiles& operator=(const RunFiles&) = delete;

  std::filesystem::path input, output, errors;
};

std::string read_if_present(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

ChineseSegmenter::ChineseSegmenter()
    : ChineseSegmenter(default_python(), std::filesystem::path(SLKV_SOURCE_DIR) / "scripts" / "jieba_cut.py") {}

ChineseSegmenter::ChineseSegmenter(std::string python, std::filesystem::path script)
    : python_(std::move(python)), script_(std::move(script)) {}

std::string ChineseSegmenter::default_python() {
  if (const char* python = std::getenv("SLKV_PYTHON"); python && *python) return python;
  if (::access("/usr/bin/python3", X_OK) == 0) return "/usr/bin/python3";
  return "python3";
}

void ChineseSegmenter::prepare(const std::vector<std::string>& texts) {
  std::vector<std::string> missing;
  std::set<std::string> seen;
  for (const std::string& text : texts)
    if (!cache_.count(text) && seen.insert(text).second) missing.push_back(text);
  if (missing.empty()) return;
  std::vector<std::vector<std::string>> words = run(missing);
  for (size_t i = 0; i < missing.size(); ++i) cache_[missing[i]] = std::move(words[i]);
}

const std::vector<std::string>& ChineseSegmenter::cut(const std::string& text) {
  auto found = cache_.find(text);
  if (found == cache_.end()) {
    prepare({text});
    found = cache_.find(text);
  }
  return found->second;
}

std::vector<std::vector<std::string>> ChineseSegmenter::run(const std::vector<std::string>& texts) const {
  if (!std::filesystem::exists(script_)) throw Error("Chinese scoring: " + script_.string() + " not found");
  RunFiles files;
  std::ofstream(files.input, std::ios::binary) << nlohmann::json(texts).dump();
  const std::string command = shell_quote(python_) + " " + shell_quote(script_.string()) + " < " +
                              shell_quote(files.input.string()) + " > " + shell_quote(files.output.string()) +
                              " 2> " + shell_quote(files.errors.string());
  const int status = std::system(command.c_str());
  const int exit_code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  const std::string errors = read_if_present(files.errors);
  // 3: the script found no jieba; 127: the shell found no interpreter.
  if (exit_code == 3 || exit_code == 127)
    throw Error("Chinese scoring needs python3-jieba (Debian package; scripts/setup.sh installs it) for " + python_ +
                " (set SLKV_PYTHON to an interpreter that has jieba): " + errors);
  if (exit_code != 0)
    throw Error("Chinese scoring: " + script_.string() + " failed (exit " + std::to_string(exit_code) + "): " + errors);

  const std::string where = script_.string() + " output";
  nlohmann::json value = nlohmann::json::parse(read_text_file(files.output), nullptr, /*allow_exceptions=*/false);
  if (!value.is_array() || value.size() != texts.size())
    throw Error("Chinese scoring: " + where + " is not a JSON array of " + std::to_string(texts.size()) + " word lists");
  std::vector<std::vector<std::string>> words;
  for (const nlohmann::json& list : value) {
    if (!list.is_array()) throw Error("Chinese scoring: " + where + " holds a non-list: " + list.dump());
    std::vector<std::string>& out = words.emplace_back();
    for (const nlohmann::json& word : list) {
      if (!word.is_string()) throw Error("Chinese scoring: " + where + " holds a non-string word: " + word.dump());
      out.push_back(word.get<std::string>());
    }
  }
  return words;
}

}  // namespace slkv::eval
