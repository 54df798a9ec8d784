#pragma once
// UTF-8 helpers for the tokenizer: decoding one character with the
// "maximal subpart" error rule (the one Rust's String::from_utf8_lossy and
// the Unicode standard recommend, so lossy output matches Hugging Face),
// encoding code points, and Unicode character classes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace slkv {

struct Utf8Char {
  enum class Status { Complete, Incomplete, Invalid };
  Status status = Status::Invalid;
  uint32_t code_point = 0;  // valid only when Complete
  // Complete: bytes of the character. Incomplete: bytes present (a valid
  // prefix cut off by the end of the text). Invalid: bytes of the maximal
  // invalid subpart (at least 1), each such subpart becomes one U+FFFD.
  size_t length = 0;
};

// Decodes the character starting at text[pos] (pos < text.size()).
Utf8Char decode_utf8(std::string_view text, size_t pos);

void append_utf8(std::string& out, uint32_t code_point);

bool is_valid_utf8(std::string_view text);

// Replaces every invalid subpart (and a truncated tail) with U+FFFD.
std::string to_valid_utf8(std::string_view bytes);

// The text's code points (what Python's str indexes); an invalid byte
// becomes U+FFFD rather than being lost.
std::u32string to_code_points(std::string_view text);

// Appends the longest prefix of `bytes` made of whole characters (invalid
// subparts become U+FFFD) and returns how many bytes were consumed. An
// incomplete character at the end is left unconsumed unless `final`.
size_t append_complete_utf8(std::string& out, std::string_view bytes, bool final);

// Unicode White_Space (what Rust's char::is_whitespace accepts).
bool is_unicode_whitespace(uint32_t code_point);

// Letters, numbers and '_' (word characters for single_word added tokens).
bool is_word_character(uint32_t code_point);

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace slkv
