#include "runtime/tokenizer/unicode_utf8.h"

#include <utf8proc.h>

namespace slkv {

Utf8Char decode_utf8(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(pos);
  if (lead < 0x80) return {Utf8Char::Status::Complete, lead, 1};

  // Expected length and the allowed range of the second byte (the narrowed
  // ranges exclude overlongs, surrogates and code points above U+10FFFF).
  size_t need = 0;
  uint8_t second_lo = 0x80, second_hi = 0xBF;
  uint32_t code_point = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 2, code_point = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3, code_point = lead & 0x0F;
    if (lead == 0xE0) second_lo = 0xA0;
    if (lead == 0xED) second_hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4, code_point = lead & 0x07;
    if (lead == 0xF0) second_lo = 0x90;
    if (lead == 0xF4) second_hi = 0x8F;
  } else {
    return {Utf8Char::Status::Invalid, 0, 1};
  }

  for (size_t i = 1; i < need; ++i) {
    if (pos + i >= text.size()) return {Utf8Char::Status::Incomplete, 0, i};
    const uint8_t b = byte(pos + i);
    const uint8_t lo = i == 1 ? second_lo : 0x80;
    const uint8_t hi = i == 1 ? second_hi : 0xBF;
    if (b < lo || b > hi) return {Utf8Char::Status::Invalid, 0, i};
    code_point = (code_point << 6) | (b & 0x3F);
  }
  return {Utf8Char::Status::Complete, code_point, need};
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_valid_utf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const Utf8Char c = decode_utf8(text, pos);
    if (c.status != Utf8Char::Status::Complete) return false;
    pos += c.length;
  }
  return true;
}

size_t append_complete_utf8(std::string& out, std::string_view bytes, bool final) {
  size_t pos = 0;
  size_t run_start = 0;  // start of the valid run not yet copied
  while (pos < bytes.size()) {
    const Utf8Char c = decode_utf8(bytes, pos);
    if (c.status == Utf8Char::Status::Complete) {
      pos += c.length;
      continue;
    }
    if (c.status == Utf8Char::Status::Incomplete && !final) break;
    out.append(bytes.substr(run_start, pos - run_start));
    out.append(kReplacementCharacter);
    pos += c.length;
    run_start = pos;
  }
  out.append(bytes.substr(run_start, pos - run_start));
  return pos;
}

std::string to_valid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  append_complete_utf8(out, bytes, /*final=*/true);
  return out;
}

bool is_unicode_whitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

bool is_word_character(uint32_t cp) {
  if (cp == '_') return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

std::u32string to_code_points(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = decode_utf8(text, pos);
    out += c.status == Utf8Char::Status::Complete ? static_cast<char32_t>(c.code_point) : U'\uFFFD';
    pos += c.length;
  }
  return out;
}

}  // namespace slkv
