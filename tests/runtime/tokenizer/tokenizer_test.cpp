// Tokenizer tests: exact ids against the golden encodings and llama.cpp's
// test vectors for every tokenizer in shared/, round trips, streaming
// decode, a hand-written tokenizer.json, and load errors.
#include "runtime/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tests/test_support.h"
#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv {
namespace {

namespace fs = std::filesystem;

using testing::shared_dir;

#define REQUIRE_SHARED(relative)                                                        \
  const fs::path shared = shared_dir();                                                 \
  if (!fs::exists(shared / (relative))) {                             \
    GTEST_SKIP() << "shared test data not found (" << (relative)                        \
                 << "); set SLKV_SHARED to the shared/ directory";                      \
  }

// Tokenizers are big (Llama-3: 9 MB of JSON), so each is loaded once.
const Tokenizer& cached_tokenizer(const fs::path& dir) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[dir.string()];
  if (!slot) slot = std::make_unique<Tokenizer>(Tokenizer::load(dir));
  return *slot;
}

std::string read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

struct GoldenCase {
  std::string text;
  std::vector<int32_t> ids;
  std::vector<int32_t> ids_with_special;
};

std::vector<GoldenCase> read_golden(const fs::path& path) {
  std::vector<GoldenCase> cases;
  std::ifstream file(path);
  for (std::string line; std::getline(file, line);) {
    if (line.empty()) continue;
    const nlohmann::json row = nlohmann::json::parse(line);
    cases.push_back({row["text"], row["ids"], row["ids_with_special"]});
  }
  return cases;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string out;
  for (const int32_t id : ids) out += std::to_string(id) + " ";
  return out;
}

// Every golden line must match exactly, with and without special tokens;
// decode must give the text back. Exception: SentencePiece-style tokenizers
// prepend "▁" to the text after an added token, so "<s>x" decodes as "<s> x"
// (Hugging Face does the same); lines holding `lossy_marker` skip that check.
void check_golden(const fs::path& tokenizer_dir, const fs::path& golden, const std::string& lossy_marker) {
  const Tokenizer& tokenizer = cached_tokenizer(tokenizer_dir);
  const std::vector<GoldenCase> cases = read_golden(golden);
  ASSERT_FALSE(cases.empty()) << golden;
  int passed = 0;
  for (const GoldenCase& c : cases) {
    const std::vector<int32_t> ids = tokenizer.encode(c.text, false);
    const std::vector<int32_t> with_special = tokenizer.encode(c.text, true);
    EXPECT_EQ(ids, c.ids) << "text: " << c.text << "\n got: " << show(ids) << "\nwant: " << show(c.ids);
    EXPECT_EQ(with_special, c.ids_with_special) << "text: " << c.text;
    if (lossy_marker.empty() || c.text.find(lossy_marker) == std::string::npos) {
      EXPECT_EQ(tokenizer.decode(ids), c.text);
    }
    IncrementalDecoder stream(tokenizer, /*skip_special_tokens=*/false);
    std::string streamed;
    for (const int32_t id : with_special) streamed += stream.push(id);
    EXPECT_EQ(streamed + stream.finish(), tokenizer.decode(with_special)) << "text: " << c.text;
    passed += ids == c.ids && with_special == c.ids_with_special;
  }
  std::cout << golden.filename().string() << ": " << passed << "/" << cases.size() << " match\n";
}

// llama.cpp vectors: inputs separated by "\n__ggml_vocab_test__\n" (the file
// ends with one), expected ids one line per input, without BOS.
void check_vectors(const fs::path& tokenizer_dir, const fs::path& inputs_path) {
  const Tokenizer& tokenizer = cached_tokenizer(tokenizer_dir);
  const std::string separator = "\n__ggml_vocab_test__\n";
  const std::string inputs_text = read_file(inputs_path);
  std::vector<std::string> inputs;
  for (size_t pos = 0; pos < inputs_text.size();) {
    size_t end = inputs_text.find(separator, pos);
    if (end == std::string::npos) end = inputs_text.size();
    inputs.push_back(inputs_text.substr(pos, end - pos));
    pos = end + separator.size();
  }
  std::ifstream expected_file(fs::path(inputs_path).replace_extension(".out"));
  std::vector<std::vector<int32_t>> expected;
  for (std::string line; std::getline(expected_file, line);) {
    std::istringstream fields(line);
    std::vector<int32_t> ids;
    for (int32_t id; fields >> id;) ids.push_back(id);
    expected.push_back(ids);
  }
  ASSERT_EQ(inputs.size(), expected.size()) << inputs_path;
  int passed = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<int32_t> ids = tokenizer.encode(inputs[i], false);
    EXPECT_EQ(ids, expected[i]) << "input " << i << ": " << inputs[i];
    EXPECT_EQ(tokenizer.decode(ids), inputs[i]);
    passed += ids == expected[i];
  }
  std::cout << inputs_path.filename().string() << ": " << passed << "/" << inputs.size() << " match\n";
}

TEST(TokenizerGolden, Llama2) {
  REQUIRE_SHARED("tokenizers/golden/llama2.jsonl");
  check_golden(shared / "tokenizers/llama2", shared / "tokenizers/golden/llama2.jsonl", "<s>");
}

TEST(TokenizerGolden, Llama3) {
  REQUIRE_SHARED("tokenizers/golden/llama3.jsonl");
  check_golden(shared / "tokenizers/llama3", shared / "tokenizers/golden/llama3.jsonl", "");
}

TEST(TokenizerGolden, Qwen3) {
  // NFC makes Qwen3 lossy only for non-NFC input, which the file does not hold.
  REQUIRE_SHARED("tokenizers/golden/qwen3.jsonl");
  check_golden(shared / "tokenizers/qwen3", shared / "tokenizers/golden/qwen3.jsonl", "");
}

TEST(TokenizerGolden, Stories260K) {
  REQUIRE_SHARED("tokenizers/golden/stories260K.jsonl");
  check_golden(shared / "models/stories260K", shared / "tokenizers/golden/stories260K.jsonl", "<s>");
}

TEST(TokenizerVectors, LlamaSpm) {
  REQUIRE_SHARED("tokenizers/test-vectors/ggml-vocab-llama-spm.gguf.inp");
  check_vectors(shared / "tokenizers/llama2", shared / "tokenizers/test-vectors/ggml-vocab-llama-spm.gguf.inp");
}

TEST(TokenizerVectors, LlamaBpe) {
  REQUIRE_SHARED("tokenizers/test-vectors/ggml-vocab-llama-bpe.gguf.inp");
  check_vectors(shared / "tokenizers/llama3", shared / "tokenizers/test-vectors/ggml-vocab-llama-bpe.gguf.inp");
}

TEST(TokenizerVectors, Qwen2) {
  REQUIRE_SHARED("tokenizers/test-vectors/ggml-vocab-qwen2.gguf.inp");
  check_vectors(shared / "tokenizers/qwen3", shared / "tokenizers/test-vectors/ggml-vocab-qwen2.gguf.inp");
}

// Streaming must never cut a character and must add up to decode();
// `text_without_specials` is what decoding with skip_special_tokens gives.
void check_incremental(const Tokenizer& tokenizer, const std::string& text,
                       const std::string& text_without_specials) {
  for (const bool with_special : {false, true}) {
    const std::vector<int32_t> ids = tokenizer.encode(text, with_special);
    for (const bool skip : {true, false}) {
      IncrementalDecoder decoder(tokenizer, skip);
      std::string streamed;
      for (const int32_t id : ids) {
        const std::string piece = decoder.push(id);
        EXPECT_TRUE(is_valid_utf8(piece)) << "id " << id << " emitted part of a character";
        streamed += piece;
      }
      streamed += decoder.finish();
      EXPECT_EQ(streamed, tokenizer.decode(ids, skip));
      if (skip) {
        EXPECT_EQ(streamed, text_without_specials);
      }
    }
  }
}

const char* const kMultiByteText = " Hello 🦙🚀 世界! 😶‍🌫️ naïve — 日本語のテキスト 👍🏽";

TEST(TokenizerIncremental, Llama2ByteFallback) {
  REQUIRE_SHARED("tokenizers/llama2/tokenizer.json");
  const Tokenizer& tokenizer = cached_tokenizer(shared / "tokenizers/llama2");
  // The emoji are not in the vocabulary: they arrive as <0xNN> byte tokens.
  const std::vector<int32_t> ids = tokenizer.encode("🦙", false);
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(tokenizer.token_string(ids.back()).substr(0, 3), "<0x");
  IncrementalDecoder decoder(tokenizer);
  std::string streamed;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string piece = decoder.push(ids[i]);
    if (i + 1 < ids.size()) {
      EXPECT_EQ(piece, "") << "half a character emitted";
    }
    streamed += piece;
  }
  EXPECT_EQ(streamed + decoder.finish(), "🦙");
  check_incremental(tokenizer, kMultiByteText, kMultiByteText);
  check_incremental(tokenizer, "Hello world", "Hello world");
  check_incremental(tokenizer, "  two leading spaces", "  two leading spaces");
  check_incremental(tokenizer, "</s>x", "x");  // the skipped </s> leaves "▁x" first: stripped
}

TEST(TokenizerIncremental, Llama3ByteLevel) {
  REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  const Tokenizer& tokenizer = cached_tokenizer(shared / "tokenizers/llama3");
  check_incremental(tokenizer, kMultiByteText, kMultiByteText);
  check_incremental(tokenizer, "<|begin_of_text|>hi 🦙<|eot_id|>", "hi 🦙");
}

TEST(TokenizerIncremental, TruncatedCharacterBecomesReplacement) {
  REQUIRE_SHARED("tokenizers/llama2/tokenizer.json");
  const Tokenizer& tokenizer = cached_tokenizer(shared / "tokenizers/llama2");
  const std::vector<int32_t> ids = tokenizer.encode("🦙", false);  // ▁ then 4 byte tokens
  const std::vector<int32_t> cut(ids.begin(), ids.end() - 1);
  IncrementalDecoder decoder(tokenizer);
  std::string streamed;
  for (const int32_t id : cut) streamed += decoder.push(id);
  streamed += decoder.finish();
  EXPECT_EQ(streamed, "\xEF\xBF\xBD");
  EXPECT_EQ(tokenizer.decode(cut), streamed);
}

TEST(TokenizerTokenBytes, TokensReadAsInsideATextAndJoinIntoIt) {
  // token_bytes(id) is what the token adds after other tokens (logprobs
  // report it): "▁there" is " there", where decode({id}) strips the space.
  REQUIRE_SHARED("tokenizers/llama2/tokenizer.json");
  const Tokenizer& llama2 = cached_tokenizer(shared / "tokenizers/llama2");
  const std::vector<int32_t> there = llama2.encode("there", false);  // "▁there": SentencePiece prepends the space
  ASSERT_EQ(there.size(), 1u);
  EXPECT_EQ(llama2.decode(there), "there");
  EXPECT_EQ(llama2.token_bytes(there[0]), " there");
  const std::vector<int32_t> llama = llama2.encode("🦙", false);  // ▁ then four <0xNN> byte tokens
  EXPECT_EQ(llama2.token_bytes(llama.back()), std::string(1, "🦙"[3]));
  EXPECT_THROW(llama2.token_bytes(32000), Error);
  // Joined after a prefix, the tokens' bytes are the rest of the decoded text,
  // for every kind of tokenizer.
  for (const char* name : {"llama2", "llama3", "qwen3", "mistral-lenml"}) {
    const Tokenizer& tokenizer = cached_tokenizer(shared / "tokenizers" / name);
    const std::vector<int32_t> prefix = tokenizer.encode("Hello", false);
    for (const std::string text : {std::string(" there was a  cat"), std::string(kMultiByteText), std::string("\n\tx 12345")}) {
      std::vector<int32_t> ids = tokenizer.encode(text, false);
      std::string joined;
      for (const int32_t id : ids) joined += tokenizer.token_bytes(id);
      ids.insert(ids.begin(), prefix.begin(), prefix.end());
      EXPECT_EQ(tokenizer.decode(prefix) + joined, tokenizer.decode(ids)) << name << ": " << text;
    }
  }
}

TEST(TokenizerSpecial, Llama2Ids) {
  REQUIRE_SHARED("tokenizers/llama2/tokenizer.json");
  const Tokenizer& tokenizer = cached_tokenizer(shared / "tokenizers/llama2");
  EXPECT_EQ(tokenizer.vocab_size(), 32000);
  EXPECT_EQ(tokenizer.bos_id(), 1);
  EXPECT_EQ(tokenizer.eos_id(), 2);
  EXPECT_TRUE(tokenizer.is_special(1));
  EXPECT_FALSE(tokenizer.is_special(15043));
  EXPECT_EQ(tokenizer.token_string(1), "<s>");
  const std::vector<int32_t> ids = tokenizer.encode("Hello", true);
  EXPECT_EQ(tokenizer.decode(ids, false), "<s> Hello");
  EXPECT_EQ(tokenizer.decode(ids, true), "Hello");
  EXPECT_THROW(tokenizer.token_string(32000), Error);
}

TEST(TokenizerSpecial, Llama3AndQwen3Ids) {
  REQUIRE_SHARED("tokenizers/qwen3/tokenizer.json");
  const Tokenizer& llama3 = cached_tokenizer(shared / "tokenizers/llama3");
  EXPECT_EQ(llama3.vocab_size(), 128256);
  EXPECT_EQ(llama3.bos_id(), 128000);
  EXPECT_EQ(llama3.eos_id(), 128001);
  const std::vector<int32_t> ids = llama3.encode("<|begin_of_text|>hi<|eot_id|>", false);
  EXPECT_EQ(llama3.decode(ids, true), "hi");
  EXPECT_EQ(llama3.decode(ids, false), "<|begin_of_text|>hi<|eot_id|>");

  const Tokenizer& qwen3 = cached_tokenizer(shared / "tokenizers/qwen3");
  EXPECT_EQ(qwen3.bos_id(), -1);
  EXPECT_EQ(qwen3.eos_id(), 151645);  // <|im_end|>
  EXPECT_TRUE(qwen3.is_special(151645));
  EXPECT_FALSE(qwen3.is_special(151667));  // <think> is added but not special
  EXPECT_EQ(qwen3.encode("<think>x</think>", false).front(), 151667);
  EXPECT_EQ(qwen3.decode(qwen3.encode("<think>x</think>", false), true), "<think>x</think>");
}

// Oniguruma's \s (Unicode White_Space) excludes U+180E, PCRE2's includes it;
// ids from the Hugging Face tokenizers.js implementation.
TEST(TokenizerSpecial, RegexWhiteSpaceMatchesHuggingFace) {
  REQUIRE_SHARED("tokenizers/qwen3/tokenizer.json");
  const std::string text = "a \u180Eb  \u3000c\u2028";
  EXPECT_EQ(cached_tokenizer(shared / "tokenizers/llama3").encode(text, false),
            (std::vector<int32_t>{64, 87189, 254, 236, 65, 256, 23249, 66, 378, 101}));
  EXPECT_EQ(cached_tokenizer(shared / "tokenizers/qwen3").encode(text, false),
            (std::vector<int32_t>{64, 86089, 254, 236, 65, 256, 22441, 66, 378, 101}));
  // Qwen3's NFC composes "e" + U+0301 into "é".
  EXPECT_EQ(cached_tokenizer(shared / "tokenizers/qwen3").encode("e\u0301t\u00e9 \uFF21", false),
            (std::vector<int32_t>{38783, 62823, 94}));
}

// encode/decode are const and keep no shared state: threads may share one.
TEST(TokenizerSpecial, ConcurrentUseGivesTheSameIds) {
  REQUIRE_SHARED("tokenizers/golden/llama3.jsonl");
  const Tokenizer& tokenizer = cached_tokenizer(shared / "tokenizers/llama3");
  const std::vector<GoldenCase> cases = read_golden(shared / "tokenizers/golden/llama3.jsonl");
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (const GoldenCase& c : cases) {
        const std::vector<int32_t> ids = tokenizer.encode(c.text, false);
        mismatches[t] += ids != c.ids || tokenizer.decode(ids) != c.text;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(TokenizerMistral, LoadsAndRoundTrips) {
  REQUIRE_SHARED("tokenizers/mistral-lenml/tokenizer.json");
  const Tokenizer& tokenizer = cached_tokenizer(shared / "tokenizers/mistral-lenml");
  EXPECT_EQ(tokenizer.vocab_size(), 32000);
  EXPECT_EQ(tokenizer.bos_id(), 1);
  for (const std::string text : {"Hello world", " leading space", "naïve café 🦙 世界\n\tend", ""}) {
    const std::vector<int32_t> ids = tokenizer.encode(text, true);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids.front(), 1);
    EXPECT_EQ(tokenizer.decode(ids, true), text);
  }
}

// A tiny byte-level tokenizer written by hand: checks merges as pairs,
// ranks, added tokens with lstrip, a template post-processor with EOS.
TEST(TokenizerFromJson, SmallHandWritten) {
  const std::string tokenizer_json = R"({
    "added_tokens": [
      {"id": 9, "content": "<eos>", "special": true, "lstrip": true, "rstrip": false,
       "normalized": false, "single_word": false}
    ],
    "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<eos>", "type_id": 0}}],
      "special_tokens": {"<eos>": {"id": "<eos>", "ids": [9], "tokens": ["<eos>"]}}},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "ignore_merges": false,
      "vocab": {"a": 0, "b": 1, "c": 2, "Ġ": 3, "ab": 4, "abc": 5, "Ġa": 6, "bc": 7, "Ġab": 8},
      "merges": [["a", "b"], "b c", ["Ġ", "a"], ["ab", "c"], ["Ġa", "b"]]}
  })";
  const std::string config_json = R"({"eos_token": {"content": "<eos>"}, "bos_token": null})";
  const Tokenizer tokenizer = Tokenizer::from_json(tokenizer_json, config_json);
  EXPECT_EQ(tokenizer.vocab_size(), 10);
  EXPECT_EQ(tokenizer.bos_id(), -1);
  EXPECT_EQ(tokenizer.eos_id(), 9);
  // "abc": a+b (rank 0) first, then ab+c. "Ġab": a+b (rank 0) beats Ġ+a (rank 2),
  // and "Ġ" + "ab" is no merge.
  EXPECT_EQ(tokenizer.encode("abc", false), (std::vector<int32_t>{5}));
  EXPECT_EQ(tokenizer.encode("abc ab", false), (std::vector<int32_t>{5, 3, 4}));
  EXPECT_EQ(tokenizer.encode("bc", false), (std::vector<int32_t>{7}));
  // lstrip: the space before <eos> is swallowed by the added token.
  EXPECT_EQ(tokenizer.encode("ab <eos>", true), (std::vector<int32_t>{4, 9, 9}));
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{5, 3, 4, 9}, true), "abc ab");
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{5, 3, 4, 9}, false), "abc ab<eos>");
  // Unknown characters with neither unk nor byte fallback are dropped.
  EXPECT_EQ(tokenizer.encode("axb", false), (std::vector<int32_t>{4}));
}

// SentencePiece-style by hand: Prepend/Replace normalizer, byte fallback,
// the ▁ / ByteFallback / Fuse / Strip decoder.
TEST(TokenizerFromJson, SentencePieceStyle) {
  nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"\u2581", 2}, {"h", 3}, {"i", 4}, {"\u2581h", 5}, {"\u2581hi", 6}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = 7 + b;
  }
  const nlohmann::json tokenizer_json = {
      {"added_tokens", {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
                        {{"id", 1}, {"content", "<s>"}, {"special", true}, {"normalized", false}}}},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", {{{"type", "Prepend"}, {"prepend", "\u2581"}},
                      {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor", {{"type", "TemplateProcessing"},
                          {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                      {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
                          {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder", {{"type", "Sequence"}, {"decoders", {
                       {{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                       {{"type", "ByteFallback"}}, {{"type", "Fuse"}},
                       {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model", {{"type", "BPE"}, {"unk_token", "<unk>"}, {"byte_fallback", true}, {"fuse_unk", true},
                 {"vocab", vocab}, {"merges", {"\u2581 h", "\u2581h i"}}}}};
  const Tokenizer tokenizer = Tokenizer::from_json(tokenizer_json.dump(), R"({"bos_token": "<s>"})");
  EXPECT_EQ(tokenizer.bos_id(), 1);
  EXPECT_EQ(tokenizer.encode("hi", true), (std::vector<int32_t>{1, 6}));
  const std::vector<int32_t> ids = tokenizer.encode("hi é", false);  // é = C3 A9 via byte fallback
  EXPECT_EQ(ids, (std::vector<int32_t>{6, 2, 7 + 0xC3, 7 + 0xA9}));
  EXPECT_EQ(tokenizer.decode(ids), "hi é");
  EXPECT_EQ(tokenizer.encode("<s>hi", false), (std::vector<int32_t>{1, 6}));
}

TEST(TokenizerErrors, MissingTokenizerJson) {
  const fs::path dir = fs::temp_directory_path() / "slkv_tokenizer_missing";
  fs::create_directories(dir);
  try {
    Tokenizer::load(dir);
    FAIL() << "expected slkv::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
  }
}

TEST(TokenizerErrors, MalformedJson) {
  try {
    Tokenizer::from_json("{\"model\": {", "");
    FAIL() << "expected slkv::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("malformed JSON"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Tokenizer::from_json(R"({"model": {"type": "BPE", "vocab": {}, "merges": []}})", "{oops"), Error);
}

TEST(TokenizerErrors, UnsupportedModelType) {
  for (const char* type : {"WordPiece", "Unigram"}) {
    const std::string json = std::string(R"({"model": {"type": ")") + type + R"(", "vocab": {}}})";
    try {
      Tokenizer::from_json(json, "");
      FAIL() << "expected slkv::Error for " << type;
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("tokenizer.json"), std::string::npos) << message;
      EXPECT_NE(message.find("model.type"), std::string::npos) << message;
      EXPECT_NE(message.find(type), std::string::npos) << message;
    }
  }
}

TEST(TokenizerErrors, BadFields) {
  // An unsupported pre-tokenizer, a missing vocab, and a bad regex name their field.
  const auto message_of = [](const std::string& json) {
    try {
      Tokenizer::from_json(json, "");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string model = R"("model": {"type": "BPE", "vocab": {"a": 0}, "merges": []})";
  EXPECT_NE(message_of("{" + model + R"(, "pre_tokenizer": {"type": "Whitespace"}})").find("pre_tokenizer.type"),
            std::string::npos);
  EXPECT_NE(message_of(R"({"model": {"type": "BPE", "merges": []}})").find("model.vocab"), std::string::npos);
  EXPECT_NE(message_of("{" + model +
                       R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(["}, "behavior": "Isolated"}})")
                .find("pre_tokenizer.pattern.Regex"),
            std::string::npos);
  // A value of the wrong JSON type is still an slkv::Error naming the file.
  EXPECT_NE(message_of("{" + model + R"(, "decoder": {"type": "Strip", "content": " ", "start": "x", "stop": 0}})")
                .find("tokenizer.json"),
            std::string::npos);
}

}  // namespace
}  // namespace slkv
