#pragma once
// BpeModel: the tokenizer.json "model" of type BPE: vocabulary, ranked merges
// and the rank-based merge loop (lowest-rank pair first, leftmost on ties,
// via a priority queue over a linked list of symbols: O(n log n) per word).
// A word is first cut where no merge can ever join two neighbours, which
// keeps the queue small even when SentencePiece-style tokenizers hand over a
// whole 100 KB text as one word.
// Handles byte_fallback (<0xNN> tokens), unk/fuse_unk, ignore_merges,
// continuing_subword_prefix / end_of_word_suffix, merges as "a b" or [a, b].
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/tokenizer/tokenizer_json.h"
#include "runtime/tokenizer/tokenizer_pair_map.h"

namespace slkv {

class BpeModel {
 public:
  // `value` is the "model" field; a type other than BPE is refused.
  static BpeModel from_json(const Json& value, const JsonPath& path);

  // Appends the ids of one pre-tokenized word (valid UTF-8).
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  int32_t token_to_id(std::string_view token) const;  // -1 when absent
  // The vocabulary entry of `id`, or nullptr when the vocabulary lacks it.
  const std::string* id_to_token(int32_t id) const;
  int32_t max_id() const { return static_cast<int32_t>(id_to_token_.size()) - 1; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  // Reused buffers of the merge loop.
  struct Scratch {
    struct Candidate {
      int32_t rank;
      int32_t pos;  // the left symbol
    };
    std::vector<int32_t> prev, next;
    std::vector<Candidate> queue;  // a binary heap, lowest rank then leftmost on top
  };
  void load_merges(const Json& merges, const JsonPath& path);
  // The initial symbols of a word: one per character, unknown characters as
  // their <0xNN> byte tokens (byte_fallback) or as unk.
  void initial_symbols(std::string_view word, std::vector<int32_t>& ids) const;
  bool has_byte_tokens(std::string_view bytes) const;  // every byte has its <0xNN> token
  // Whether some merge could ever join a symbol ending like `left` to one
  // starting like `right`.
  bool can_join(int32_t left, int32_t right) const {
    return joinable_.find(last_char_[left], first_char_[right]) != nullptr;
  }
  // Runs the merge loop on `ids` (one cut-free stretch) and appends the result.
  void merge_stretch(std::vector<int32_t>::iterator begin, std::vector<int32_t>::iterator end,
                     Scratch& scratch, std::vector<int32_t>& out) const;

  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_id_;
  PairMap<int32_t> char_ids_;       // (code point, 0) -> id of the one-character entry
  PairMap<Merge> merges_;           // (left id, right id) -> merge
  PairMap<bool> joinable_;          // (last code point of left, first of right) of every merge
  std::vector<uint32_t> first_char_, last_char_;  // by id: first/last code point of the entry
  std::array<int32_t, 256> byte_ids_{};  // id of "<0xNN>", -1 when missing
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
};

}  // namespace slkv
