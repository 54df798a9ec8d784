#include "runtime/tokenizer/tokenizer_byte_level.h"

#include <array>

#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv {
namespace {

// GPT-2's table: printable Latin-1 bytes map to themselves, the other 68
// bytes (controls, space, 0x7F-0xA0, 0xAD) to U+0100.. in byte order.
struct ByteLevelTables {
  std::array<std::string, 256> byte_to_utf8;
  std::array<int16_t, 512> code_point_to_byte;  // all mapped code points are < 0x144

  ByteLevelTables() {
    code_point_to_byte.fill(-1);
    uint32_t next_extra = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const uint32_t cp = printable ? static_cast<uint32_t>(b) : next_extra++;
      append_utf8(byte_to_utf8[b], cp);
      code_point_to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelTables& tables() {
  static const ByteLevelTables instance;
  return instance;
}

}  // namespace

void append_byte_level(std::string& out, std::string_view bytes) {
  const ByteLevelTables& t = tables();
  for (const char c : bytes) out += t.byte_to_utf8[static_cast<uint8_t>(c)];
}

int byte_level_byte(uint32_t code_point) {
  const ByteLevelTables& t = tables();
  return code_point < t.code_point_to_byte.size() ? t.code_point_to_byte[code_point] : -1;
}

std::string byte_level_decode(std::string_view token) {
  std::string bytes;
  bytes.reserve(token.size());
  for (size_t pos = 0; pos < token.size();) {
    const Utf8Char c = decode_utf8(token, pos);
    const int b = c.status == Utf8Char::Status::Complete ? byte_level_byte(c.code_point) : -1;
    if (b < 0) return std::string(token);
    bytes += static_cast<char>(b);
    pos += c.length;
  }
  return bytes;
}

}  // namespace slkv
