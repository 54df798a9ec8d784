// Tokenizer throughput: encode (and decode) ~100 KB of English prose (the
// Paul Graham essays in shared/) with the Llama-2 (SentencePiece-style, one
// 100 KB "word" for BPE) and Llama-3 (byte-level, regex pre-tokenizer)
// tokenizers. Reports bytes/s of input text.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;

constexpr size_t kTextBytes = 100 * 1024;

fs::path shared_dir() {
  const char* env = std::getenv("SLKV_SHARED");
  for (const fs::path& dir : {env != nullptr ? fs::path(env) : fs::path("../shared"),
                              fs::path(SLKV_SOURCE_DIR "/../shared")}) {
    if (fs::exists(dir / "tokenizers")) return dir;
  }
  return {};
}

// The essays, concatenated in name order and cut to 100 KB (at a line end,
// so no character is split).
const std::string& essay_text() {
  static const std::string text = [] {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(shared_dir() / "data/paul-graham-essays")) {
      if (entry.path().extension() == ".txt") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    std::string all;
    for (const fs::path& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::ostringstream content;
      content << in.rdbuf();
      all += content.str();
      if (all.size() >= kTextBytes) break;
    }
    all.resize(std::min(all.size(), kTextBytes));
    return all.substr(0, all.rfind('\n') + 1);
  }();
  return text;
}

const slkv::Tokenizer* tokenizer_for(const std::string& name) {
  static std::map<std::string, std::unique_ptr<slkv::Tokenizer>> cache;
  auto& slot = cache[name];
  if (!slot) slot = std::make_unique<slkv::Tokenizer>(slkv::Tokenizer::load(shared_dir() / "tokenizers" / name));
  return slot.get();
}

bool have_data(benchmark::State& state) {
  const fs::path shared = shared_dir();
  if (shared.empty() || !fs::exists(shared / "data/paul-graham-essays")) {
    state.SkipWithError("shared/ test data not found; set SLKV_SHARED");
    return false;
  }
  return true;
}

void BM_Encode(benchmark::State& state, const std::string& name) {
  if (!have_data(state)) return;
  const slkv::Tokenizer& tokenizer = *tokenizer_for(name);
  const std::string& text = essay_text();
  size_t tokens = 0;
  for (auto _ : state) {
    const std::vector<int32_t> ids = tokenizer.encode(text, true);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["text_bytes"] = static_cast<double>(text.size());
  state.counters["tokens"] = static_cast<double>(tokens);
}

void BM_Decode(benchmark::State& state, const std::string& name) {
  if (!have_data(state)) return;
  const slkv::Tokenizer& tokenizer = *tokenizer_for(name);
  const std::string& text = essay_text();
  const std::vector<int32_t> ids = tokenizer.encode(text, false);
  for (auto _ : state) {
    const std::string decoded = tokenizer.decode(ids);
    benchmark::DoNotOptimize(decoded.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

BENCHMARK_CAPTURE(BM_Encode, llama2, std::string("llama2"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, llama3, std::string("llama3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, llama2, std::string("llama2"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, llama3, std::string("llama3"))->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
