#pragma once
// The GPT-2 byte <-> unicode mapping used by byte-level BPE (Llama-3, Qwen):
// every byte becomes one printable code point so that vocabulary entries are
// readable strings ("Ġ" is the space byte 0x20).
#include <cstdint>
#include <string>
#include <string_view>

namespace slkv {

// Appends the mapped characters (UTF-8) of every byte of `bytes`.
void append_byte_level(std::string& out, std::string_view bytes);

// The byte a mapped code point stands for, or -1 when it is not a mapped one.
int byte_level_byte(uint32_t code_point);

// Decodes one vocabulary entry back to bytes; an entry holding a character
// outside the mapping (an added token such as "<|a b|>") is kept as is,
// like the Hugging Face ByteLevel decoder does.
std::string byte_level_decode(std::string_view token);

}  // namespace slkv
