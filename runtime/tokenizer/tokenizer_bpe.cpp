#include "runtime/tokenizer/tokenizer_bpe.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv {

BpeModel BpeModel::from_json(const Json& value, const JsonPath& path) {
  if (!value.is_object()) path.fail("expected an object");
  // Very old files omit "type"; anything with merges is then BPE.
  const std::string type = json_string_or(value, "type", value.contains("merges") ? "BPE" : "", path);
  if (type != "BPE") {
    (path / "type").fail("unsupported model type '" + type + "' (only BPE is supported)");
  }

  BpeModel model;
  const Json& vocab = json_require(value, "vocab", path);
  if (!vocab.is_object()) (path / "vocab").fail("expected an object of token: id");
  model.vocab_.reserve(vocab.size());
  int32_t max_id = -1;
  for (const auto& [token, id_value] : vocab.items()) {
    if (!id_value.is_number_integer() || id_value.get<int64_t>() < 0 ||
        id_value.get<int64_t>() > INT32_MAX) {
      (path / "vocab" / token).fail("expected a non-negative integer id");
    }
    const auto id = static_cast<int32_t>(id_value.get<int64_t>());
    model.vocab_.emplace(token, id);
    max_id = std::max(max_id, id);
  }
  model.id_to_token_.resize(static_cast<size_t>(max_id + 1));
  model.has_id_.assign(static_cast<size_t>(max_id + 1), false);
  model.first_char_.assign(static_cast<size_t>(max_id + 1), 0);
  model.last_char_.assign(static_cast<size_t>(max_id + 1), 0);
  for (const auto& [token, id] : model.vocab_) {
    model.id_to_token_[id] = token;
    model.has_id_[id] = true;
    if (token.empty()) continue;
    const Utf8Char first = decode_utf8(token, 0);
    model.first_char_[id] = first.code_point;
    // Every word starts as characters: look those up without hashing strings.
    if (first.status == Utf8Char::Status::Complete && first.length == token.size()) {
      model.char_ids_.insert(first.code_point, 0, id);
    }
    size_t last = token.size() - 1;
    while (last > 0 && (static_cast<uint8_t>(token[last]) & 0xC0) == 0x80) --last;
    model.last_char_[id] = decode_utf8(token, last).code_point;
  }

  const std::string unk = json_string_or(value, "unk_token", "", path);
  if (!unk.empty()) {
    model.unk_id_ = model.token_to_id(unk);
    if (model.unk_id_ < 0) (path / "unk_token").fail("'" + unk + "' is not in the vocabulary");
  }
  model.fuse_unk_ = json_bool_or(value, "fuse_unk", false, path);
  model.byte_fallback_ = json_bool_or(value, "byte_fallback", false, path);
  model.ignore_merges_ = json_bool_or(value, "ignore_merges", false, path);
  model.continuing_subword_prefix_ = json_string_or(value, "continuing_subword_prefix", "", path);
  model.end_of_word_suffix_ = json_string_or(value, "end_of_word_suffix", "", path);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    model.byte_ids_[b] = model.token_to_id(name);
  }
  model.load_merges(json_require(value, "merges", path), path / "merges");
  return model;
}

void BpeModel::load_merges(const Json& merges, const JsonPath& path) {
  if (!merges.is_array()) path.fail("expected an array");
  merges_.reserve(merges.size());
  const size_t prefix_length = continuing_subword_prefix_.size();
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const Json& merge = merges[rank];
    std::string left, right;
    if (merge.is_string()) {  // "a b"
      const std::string& text = merge.get_ref<const std::string&>();
      const size_t space = text.find(' ');
      if (space == std::string::npos) path[rank].fail("expected \"left right\"");
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {  // ["a", "b"]
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    } else {
      path[rank].fail("expected \"left right\" or [left, right]");
    }
    // The right part loses its continuation prefix in the merged token.
    std::string merged = left;
    if (prefix_length > 0 && right.compare(0, prefix_length, continuing_subword_prefix_) == 0) {
      merged += right.substr(prefix_length);
    } else {
      merged += right;
    }
    const int32_t left_id = token_to_id(left);
    const int32_t right_id = token_to_id(right);
    const int32_t new_id = token_to_id(merged);
    if (left_id < 0 || right_id < 0 || new_id < 0) {
      path[rank].fail("merge of '" + left + "' and '" + right + "' uses a token not in the vocabulary");
    }
    // A duplicated merge keeps its first (best) rank.
    merges_.insert(left_id, right_id, Merge{static_cast<int32_t>(rank), new_id});
    joinable_.insert(last_char_[left_id], first_char_[right_id], true);
  }
}

int32_t BpeModel::token_to_id(std::string_view token) const {
  const auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() || !has_id_[id]) return nullptr;
  return &id_to_token_[id];
}

bool BpeModel::has_byte_tokens(std::string_view bytes) const {
  for (const char b : bytes) {
    if (byte_ids_[static_cast<uint8_t>(b)] < 0) return false;
  }
  return true;
}

void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>& ids) const {
  const bool affixes = !continuing_subword_prefix_.empty() || !end_of_word_suffix_.empty();
  std::string key;
  bool pending_unk = false;  // an unk symbol not yet pushed (fuse_unk may extend it)
  const auto flush_unk = [&] {
    if (pending_unk) ids.push_back(unk_id_);
    pending_unk = false;
  };
  for (size_t pos = 0; pos < word.size();) {
    const Utf8Char c = decode_utf8(word, pos);
    const std::string_view bytes = word.substr(pos, c.length);
    int32_t id = -1;
    if (affixes) {
      key.clear();
      if (pos > 0) key += continuing_subword_prefix_;
      key += bytes;
      if (pos + c.length == word.size()) key += end_of_word_suffix_;
      id = token_to_id(key);
    } else if (const int32_t* found = char_ids_.find(c.code_point, 0)) {
      id = *found;
    }

    if (id >= 0) {
      flush_unk();
      ids.push_back(id);
    } else if (byte_fallback_ && has_byte_tokens(bytes)) {
      flush_unk();
      for (const char b : bytes) ids.push_back(byte_ids_[static_cast<uint8_t>(b)]);
    } else if (unk_id_ >= 0) {
      if (!fuse_unk_) flush_unk();
      pending_unk = true;
    }
    // else: no unk token at all, so the character is dropped (as Hugging Face does).
    pos += c.length;
  }
  flush_unk();
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    // Llama-3: a word that is itself a token is not split and re-merged.
    const int32_t id = token_to_id(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  std::vector<int32_t> ids;
  ids.reserve(word.size());
  initial_symbols(word, ids);

  // A merge across symbols i and i+1 makes a token in which the last
  // character of symbol i meets the first of symbol i+1; when no merge has
  // such a junction the boundary is permanent, and since merges on either
  // side never interact, merging each stretch alone gives the same result.
  Scratch scratch;
  auto begin = ids.begin();
  for (auto it = ids.begin() + 1; it <= ids.end(); ++it) {
    if (it == ids.end() || !can_join(*(it - 1), *it)) {
      merge_stretch(begin, it, scratch, out);
      begin = it;
    }
  }
}

void BpeModel::merge_stretch(std::vector<int32_t>::iterator begin, std::vector<int32_t>::iterator end,
                             Scratch& scratch, std::vector<int32_t>& out) const {
  const auto count = static_cast<int32_t>(end - begin);
  if (count < 2) {
    out.insert(out.end(), begin, end);
    return;
  }
  // Symbols form a doubly linked list over `ids`; a merged-away symbol has id -1.
  int32_t* ids = &*begin;
  std::vector<int32_t>& prev = scratch.prev;
  std::vector<int32_t>& next = scratch.next;
  prev.resize(count);
  next.resize(count);
  for (int32_t i = 0; i < count; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < count ? i + 1 : -1;
  }

  // Candidate merges, lowest rank first, then leftmost. Entries go stale as
  // symbols merge; a popped one is used only if its pair still has that rank.
  using Candidate = Scratch::Candidate;
  std::vector<Candidate>& queue = scratch.queue;
  queue.clear();
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  const auto consider = [&](int32_t left) {
    if (const Merge* merge = merges_.find(ids[left], ids[next[left]])) {
      queue.push_back({merge->rank, left});
      std::push_heap(queue.begin(), queue.end(), later);
    }
  };
  for (int32_t i = 0; i + 1 < count; ++i) consider(i);

  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), later);
    const Candidate top = queue.back();
    queue.pop_back();
    const int32_t left = top.pos;
    const int32_t right = next[left];
    if (ids[left] < 0 || right < 0) continue;
    const Merge* merge = merges_.find(ids[left], ids[right]);
    if (merge == nullptr || merge->rank != top.rank) continue;

    ids[left] = merge->new_id;
    ids[right] = -1;
    next[left] = next[right];
    if (next[left] >= 0) prev[next[left]] = left;
    if (prev[left] >= 0) consider(prev[left]);
    if (next[left] >= 0) consider(left);
  }
  for (int32_t i = 0; i >= 0; i = next[i]) out.push_back(ids[i]);
}

}  // namespace slkv
