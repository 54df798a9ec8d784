#pragma once
// Tokenizer: a Hugging Face tokenizer.json (+ tokenizer_config.json) BPE
// tokenizer of either kind in use: SentencePiece-style (Llama-2, Mistral:
// Prepend/Replace normalizer, byte fallback) or byte-level (Llama-3, Qwen:
// regex pre-tokenizer via PCRE2, ByteLevel mapping, NFC via utf8proc).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizer/tokenizer_decode_stream.h"

namespace slkv {

class Tokenizer {
 public:
  // Reads dir/tokenizer.json and, when present, dir/tokenizer_config.json.
  static Tokenizer load(const std::filesystem::path& dir);
  // Builds from in-memory JSON texts (config may be empty).
  static Tokenizer from_json(const std::string& tokenizer_json, const std::string& tokenizer_config_json);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Added/special tokens are matched in the text first; with
  // add_special_tokens the post-processor's tokens (e.g. BOS) are added.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // Inverse of encode; special tokens are dropped when skip_special_tokens.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  int32_t vocab_size() const;          // highest id + 1, added tokens included
  int32_t bos_id() const;              // -1 when the tokenizer has none
  int32_t eos_id() const;              // -1 when the tokenizer has none
  bool is_special(int32_t id) const;   // an added token marked special
  // The raw vocabulary entry (e.g. "▁Hello", "Ġworld", "<0x0A>", "<s>");
  // throws slkv::Error for an id outside [0, vocab_size()).
  std::string token_string(int32_t id) const;
  // The bytes token `id` adds inside a text, after other tokens: without the
  // leading-space strip a text's first token gets ("▁there" is " there",
  // where decode({id}) gives "there"). May be part of a UTF-8 character (a
  // byte-fallback token); throws slkv::Error for an id outside the vocabulary.
  std::string token_bytes(int32_t id) const;

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class IncrementalDecoder;
};

// Streams text for ids as they are generated, never emitting half a UTF-8
// character (bytes of an incomplete character are held back until complete).
class IncrementalDecoder {
 public:
  explicit IncrementalDecoder(const Tokenizer& tokenizer, bool skip_special_tokens = true);
  // Returns the new text that became final with this id (may be empty).
  std::string push(int32_t id);
  // Returns whatever is still held back (invalid bytes become U+FFFD).
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_tokens_;
  DecodeStream stream_;  // held-back bytes and the leading-space state
};

}  // namespace slkv
