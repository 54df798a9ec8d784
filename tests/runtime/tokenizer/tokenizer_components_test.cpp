// Unit tests of the tokenizer's parts: UTF-8 helpers, the PCRE2 wrapper,
// the GPT-2 byte mapping, pre-tokenizer split behaviours and the legacy
// Metaspace pre-tokenizer / decoder.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/tokenizer/tokenizer_byte_level.h"
#include "runtime/tokenizer/tokenizer_pre_tokenizer.h"
#include "runtime/tokenizer/tokenizer_regex.h"
#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv {
namespace {

TEST(TokenizerUtf8, LossyConversionUsesMaximalSubparts) {
  EXPECT_TRUE(is_valid_utf8("héllo 🦙"));
  EXPECT_FALSE(is_valid_utf8("\xC3"));
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));  // a surrogate
  // E4 B8 is a valid prefix cut short: one U+FFFD for both bytes.
  EXPECT_EQ(to_valid_utf8("a\xE4\xB8" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(to_valid_utf8("\xFF\xC0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  std::string out;
  EXPECT_EQ(append_complete_utf8(out, "ok\xF0\x9F\xA6", false), 2u);  // holds back the cut emoji
  EXPECT_EQ(out, "ok");
}

TEST(TokenizerRegex, UnicodePropertiesAndWhiteSpace) {
  const Regex words(R"(\p{L}+|\p{N}{1,3}|\s+(?!\S)|\s+)", "test");
  std::vector<std::pair<size_t, size_t>> matches;
  const std::string text = "héllo 12345\u3000x";
  words.find_all(text, matches);
  std::vector<std::string> pieces;
  for (const auto& [begin, end] : matches) pieces.push_back(text.substr(begin, end - begin));
  EXPECT_EQ(pieces, (std::vector<std::string>{"héllo", " ", "123", "45", "\u3000", "x"}));

  // U+180E is not White_Space (Oniguruma agrees); U+00A0 and U+2028 are.
  const Regex space(R"(\s)", "test");
  for (const auto& [sample, is_space] : std::vector<std::pair<std::string, bool>>{
           {"\u180E", false}, {"\u00A0", true}, {"\u2028", true}, {"\u0085", true}, {"a", false}}) {
    matches.clear();
    space.find_all(sample, matches);
    EXPECT_EQ(!matches.empty(), is_space) << sample;
  }
  const Regex not_space(R"([^\s\p{L}]+)", "test");
  matches.clear();
  not_space.find_all("!\u180E? a", matches);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0], (std::pair<size_t, size_t>{0, 5}));  // "!", U+180E (3 bytes), "?"

  EXPECT_THROW(Regex("(unclosed", "field.Regex"), Error);
}

TEST(TokenizerByteLevel, Gpt2Mapping) {
  std::string mapped;
  append_byte_level(mapped, std::string("a \n\xFF", 4));
  EXPECT_EQ(mapped, "aĠĊÿ");
  EXPECT_EQ(byte_level_byte(0x120), 0x20);  // Ġ
  EXPECT_EQ(byte_level_byte('A'), 'A');
  EXPECT_EQ(byte_level_byte(0x4E16), -1);
  EXPECT_EQ(byte_level_decode("ĠhelloĊ"), " hello\n");
  EXPECT_EQ(byte_level_decode("<|a b|>"), "<|a b|>");  // a space is no mapped character: kept as is
}

std::vector<std::string> pre_tokenize(const nlohmann::json& config, const std::string& text) {
  const PreTokenizer pre_tokenizer = PreTokenizer::from_json(config, JsonPath{"test.json", "pre_tokenizer"});
  std::vector<std::string> words;
  pre_tokenizer.split(text, true, words);
  return words;
}

TEST(TokenizerPreTokenizer, SplitBehaviours) {
  const auto split = [](const char* behavior, bool invert = false) {
    return nlohmann::json{{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}};
  };
  const std::string text = "a-b--c";
  using Words = std::vector<std::string>;
  EXPECT_EQ(pre_tokenize(split("Isolated"), text), (Words{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(pre_tokenize(split("Removed"), text), (Words{"a", "b", "c"}));
  EXPECT_EQ(pre_tokenize(split("MergedWithPrevious"), text), (Words{"a-", "b-", "-", "c"}));
  EXPECT_EQ(pre_tokenize(split("MergedWithNext"), text), (Words{"a", "-b", "-", "-c"}));
  EXPECT_EQ(pre_tokenize(split("Contiguous"), text), (Words{"a", "-", "b", "--", "c"}));
  EXPECT_EQ(pre_tokenize(split("Removed", true), text), (Words{"-", "-", "-"}));  // each match is its own stretch
}

TEST(TokenizerPreTokenizer, MetaspaceAndByteLevel) {
  using Words = std::vector<std::string>;
  // Hugging Face's documented example: every "▁" starts a word.
  EXPECT_EQ(pre_tokenize({{"type", "Metaspace"}, {"replacement", "▁"}, {"add_prefix_space", true}}, "Hey   friend!"),
            (Words{"▁Hey", "▁", "▁", "▁friend!"}));
  EXPECT_EQ(pre_tokenize({{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "never"}, {"split", false}},
                         "Hey friend"),
            (Words{"Hey▁friend"}));
  EXPECT_EQ(pre_tokenize({{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}, "Hello world's"),
            (Words{"ĠHello", "Ġworld", "'s"}));
}

// A legacy SentencePiece layout: no normalizer, Metaspace pre-tokenizer and
// decoder (older Llama tokenizer.json files).
TEST(TokenizerPreTokenizer, LegacyMetaspaceTokenizer) {
  const nlohmann::json json = {
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "▁"}, {"add_prefix_space", true}}},
      {"decoder", {{"type", "Metaspace"}, {"replacement", "▁"}, {"add_prefix_space", true}}},
      {"model", {{"type", "BPE"},
                 {"vocab", {{"▁", 0}, {"h", 1}, {"i", 2}, {"▁h", 3}, {"▁hi", 4}}},
                 {"merges", {"▁ h", "▁h i"}}}}};
  const Tokenizer tokenizer = Tokenizer::from_json(json.dump(), "");
  const std::vector<int32_t> ids = tokenizer.encode("hi  hi", false);
  EXPECT_EQ(ids, (std::vector<int32_t>{4, 0, 4}));
  EXPECT_EQ(tokenizer.decode(ids), "hi  hi");
  EXPECT_EQ(tokenizer.bos_id(), -1);
}

}  // namespace
}  // namespace slkv
