#pragma once
// Chinese word segmentation as LongBench scores Chinese answers:
// list(jieba.cut(text, cut_all=False)). jieba is Python, so the words come
// from scripts/jieba_cut.py, one Python run per batch of texts, cached.
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

namespace slkv::eval {

class ChineseSegmenter {
 public:
  // The interpreter is default_python(); the script is the source tree's scripts/jieba_cut.py.
  ChineseSegmenter();
  ChineseSegmenter(std::string python, std::filesystem::path script);

  // $SLKV_PYTHON if set, else /usr/bin/python3 when it exists (Debian's
  // python3-jieba is installed for it; the python3 on PATH may be another
  // installation), else python3.
  static std::string default_python();

  // Segments, with one Python run, every text not already cached.
  void prepare(const std::vector<std::string>& texts);

  // jieba's words of `text`: from the cache, else from a run for this text alone.
  const std::vector<std::string>& cut(const std::string& text);

 private:
  // Throws slkv::Error when Python, jieba or the script fails.
  std::vector<std::vector<std::string>> run(const std::vector<std::string>& texts) const;

  std::string python_;
  std::filesystem::path script_;
  std::unordered_map<std::string, std::vector<std::string>> cache_;
};

}  // namespace slkv::eval
