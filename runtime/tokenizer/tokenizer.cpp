#include "runtime/tokenizer/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "core/error.h"
#include "runtime/tokenizer/tokenizer_added_tokens.h"
#include "runtime/tokenizer/tokenizer_bpe.h"
#include "runtime/tokenizer/tokenizer_decoder.h"
#include "runtime/tokenizer/tokenizer_json.h"
#include "runtime/tokenizer/tokenizer_normalizer.h"
#include "runtime/tokenizer/tokenizer_post_processor.h"
#include "runtime/tokenizer/tokenizer_pre_tokenizer.h"
#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv {

struct Tokenizer::Impl {
  BpeModel model;
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  TokenDecoder decoder;
  PostProcessor post_processor;
  std::vector<AddedToken> added_tokens;
  std::vector<int32_t> added_index;      // by id: index into added_tokens, or -1
  AddedTokenMatcher raw_matcher;         // added tokens matched in the raw text
  AddedTokenMatcher normalized_matcher;  // those matched after normalization
  int32_t vocab_size = 0;
  int32_t bos_id = -1;
  int32_t eos_id = -1;

  const AddedToken* added(int32_t id) const {
    if (id < 0 || id >= static_cast<int32_t>(added_index.size()) || added_index[id] < 0) return nullptr;
    return &added_tokens[added_index[id]];
  }
  // The string of `id`: an added token's content, else the vocabulary entry.
  const std::string* token_text(int32_t id) const {
    if (const AddedToken* token = added(id)) return &token->content;
    return model.id_to_token(id);
  }
  int32_t find_token(const std::string& text) const {
    for (const AddedToken& token : added_tokens) {
      if (token.content == text) return token.id;
    }
    return model.token_to_id(text);
  }

  // Normalizes, pre-tokenizes and BPE-encodes one stretch of raw text that
  // holds no raw-matched added token.
  void encode_text(std::string_view raw, bool at_text_start, std::vector<int32_t>& ids) const;
  void decode_token(DecodeStream& stream, int32_t id, bool skip_special, std::string& out) const;
};

namespace {

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(path.string() + ": cannot open file");
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

const Json& field_or_null(const Json& root, const char* key) {
  static const Json null_value;
  const auto it = root.find(key);
  return it == root.end() ? null_value : *it;
}

std::vector<AddedToken> parse_added_tokens(const Json& list, const JsonPath& path) {
  std::vector<AddedToken> tokens;
  if (list.is_null()) return tokens;
  if (!list.is_array()) path.fail("expected an array");
  for (size_t i = 0; i < list.size(); ++i) {
    const JsonPath item = path[i];
    const Json& value = list[i];
    AddedToken token;
    const Json& id = json_require(value, "id", item);
    if (!id.is_number_integer() || id.get<int64_t>() < 0) (item / "id").fail("expected a non-negative id");
    token.id = id.get<int32_t>();
    token.content = json_string(value, "content", item);
    token.special = json_bool_or(value, "special", false, item);
    token.normalized = json_bool_or(value, "normalized", !token.special, item);
    token.lstrip = json_bool_or(value, "lstrip", false, item);
    token.rstrip = json_bool_or(value, "rstrip", false, item);
    token.single_word = json_bool_or(value, "single_word", false, item);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

// tokenizer_config.json names tokens as "<s>" or {"content": "<s>", ...}.
std::string config_token(const Json& config, const char* key, const JsonPath& path) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) return json_string(*it, "content", path / key);
  (path / key).fail("expected a string or {\"content\": ...}");
}

// add_bos_token / add_eos_token, when the config states them, override the
// post-processor (transformers rebuilds the template from them).
void apply_add_flag(const Json& config, const char* key, int32_t id, bool at_front,
                    std::vector<int32_t>& ids, const JsonPath& path) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null() || id < 0) return;
  const bool wanted = json_bool_or(config, key, false, path);
  const bool present = !ids.empty() && (at_front ? ids.front() : ids.back()) == id;
  if (wanted && !present) ids.insert(at_front ? ids.begin() : ids.end(), id);
  if (!wanted && present) ids.erase(at_front ? ids.begin() : ids.end() - 1);
}

// Type mismatches that the field checks do not cover (an id that is a
// string, say) surface as nlohmann exceptions: report them as input errors.
template <typename Function>
void with_json_errors(const std::string& source, Function&& function) {
  try {
    function();
  } catch (const Json::exception& e) {
    throw Error(source + ": unexpected JSON content: " + e.what());
  }
}

std::unique_ptr<Tokenizer::Impl> build(const std::string& tokenizer_text, const std::string& source,
                                       const std::string& config_text, const std::string& config_source) {
  auto impl = std::make_unique<Tokenizer::Impl>();
  Tokenizer::Impl& t = *impl;
  with_json_errors(source, [&] {
    const Json root = parse_json_text(tokenizer_text, source);
    const JsonPath path{source, ""};
    if (!root.is_object()) path.fail("expected a JSON object");
    t.model = BpeModel::from_json(json_require(root, "model", path), path / "model");
    t.normalizer = Normalizer::from_json(field_or_null(root, "normalizer"), path / "normalizer");
    t.pre_tokenizer = PreTokenizer::from_json(field_or_null(root, "pre_tokenizer"), path / "pre_tokenizer");
    t.decoder = TokenDecoder::from_json(field_or_null(root, "decoder"), path / "decoder");
    t.post_processor = PostProcessor::from_json(field_or_null(root, "post_processor"), path / "post_processor");
    t.added_tokens = parse_added_tokens(field_or_null(root, "added_tokens"), path / "added_tokens");
  });

  int32_t max_id = t.model.max_id();
  for (const AddedToken& token : t.added_tokens) max_id = std::max(max_id, token.id);
  t.vocab_size = max_id + 1;
  t.added_index.assign(static_cast<size_t>(t.vocab_size), -1);
  for (size_t i = 0; i < t.added_tokens.size(); ++i) {
    const AddedToken& token = t.added_tokens[i];
    t.added_index[token.id] = static_cast<int32_t>(i);
    if (token.normalized) {
      // Hugging Face matches these in normalized text, against their own
      // normalized content.
      t.normalized_matcher.add(token, t.normalizer.apply(token.content));
    } else {
      t.raw_matcher.add(token, token.content);
    }
  }

  if (config_text.empty()) return impl;
  with_json_errors(config_source, [&] {
    const Json config = parse_json_text(config_text, config_source);
    const JsonPath config_path{config_source, ""};
    if (!config.is_object()) config_path.fail("expected a JSON object");
    for (const auto& [key, id] : {std::pair{"bos_token", &t.bos_id}, std::pair{"eos_token", &t.eos_id}}) {
      const std::string name = config_token(config, key, config_path);
      if (name.empty()) continue;
      *id = t.find_token(name);
      if (*id < 0) (config_path / key).fail("'" + name + "' is not a token of " + source);
    }
    apply_add_flag(config, "add_bos_token", t.bos_id, true, t.post_processor.prefix, config_path);
    apply_add_flag(config, "add_eos_token", t.eos_id, false, t.post_processor.suffix, config_path);
  });
  return impl;
}

}  // namespace

void Tokenizer::Impl::encode_text(std::string_view raw, bool at_text_start,
                                  std::vector<int32_t>& ids) const {
  const std::string normalized = normalizer.apply(raw);
  std::vector<TextSpan> spans;
  if (normalized_matcher.empty()) {
    spans.push_back({0, normalized.size(), -1});
  } else {
    normalized_matcher.split(normalized, spans);
  }
  std::vector<std::string> words;
  for (const TextSpan& span : spans) {
    if (span.token_id >= 0) {
      ids.push_back(span.token_id);
      continue;
    }
    words.clear();
    const std::string_view text = std::string_view(normalized).substr(span.begin, span.end - span.begin);
    pre_tokenizer.split(text, at_text_start && span.begin == 0, words);
    for (const std::string& word : words) model.encode_word(word, ids);
  }
}

void Tokenizer::Impl::decode_token(DecodeStream& stream, int32_t id, bool skip_special,
                                   std::string& out) const {
  const std::string* text = token_text(id);
  if (text == nullptr) return;  // ids outside the vocabulary are skipped, as in Hugging Face
  if (skip_special) {
    const AddedToken* token = added(id);
    if (token != nullptr && token->special) return;
  }
  decoder.push(stream, *text, out);
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::filesystem::path& dir) {
  // A path to tokenizer.json itself is accepted too.
  const bool is_file = std::filesystem::is_regular_file(dir);
  const std::filesystem::path tokenizer_path = is_file ? dir : dir / "tokenizer.json";
  const std::filesystem::path config_path = tokenizer_path.parent_path() / "tokenizer_config.json";
  if (!std::filesystem::exists(tokenizer_path)) {
    throw Error(tokenizer_path.string() + ": file not found (expected a Hugging Face tokenizer.json)");
  }
  const std::string config_text =
      std::filesystem::exists(config_path) ? read_text_file(config_path) : std::string();
  return Tokenizer(build(read_text_file(tokenizer_path), tokenizer_path.string(), config_text,
                         config_path.string()));
}

Tokenizer Tokenizer::from_json(const std::string& tokenizer_json,
                               const std::string& tokenizer_config_json) {
  return Tokenizer(build(tokenizer_json, "tokenizer.json", tokenizer_config_json, "tokenizer_config.json"));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const Impl& t = *impl_;
  std::string repaired;
  if (!is_valid_utf8(text)) {
    // Everything downstream (PCRE2, utf8proc) needs valid UTF-8.
    repaired = to_valid_utf8(text);
    text = repaired;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 8);
  if (add_special_tokens) ids = t.post_processor.prefix;

  std::vector<TextSpan> spans;
  t.raw_matcher.split(text, spans);
  for (const TextSpan& span : spans) {
    if (span.token_id >= 0) {
      ids.push_back(span.token_id);
    } else {
      t.encode_text(text.substr(span.begin, span.end - span.begin), span.begin == 0, ids);
    }
  }
  if (add_special_tokens) ids.insert(ids.end(), t.post_processor.suffix.begin(), t.post_processor.suffix.end());
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  DecodeStream stream = impl_->decoder.start();
  std::string out;
  for (const int32_t id : ids) impl_->decode_token(stream, id, skip_special_tokens, out);
  impl_->decoder.finish(stream, out);
  return out;
}

int32_t Tokenizer::vocab_size() const { return impl_->vocab_size; }
int32_t Tokenizer::bos_id() const { return impl_->bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->eos_id; }

bool Tokenizer::is_special(int32_t id) const {
  const AddedToken* token = impl_->added(id);
  return token != nullptr && token->special;
}

std::string Tokenizer::token_string(int32_t id) const {
  if (id < 0 || id >= impl_->vocab_size) {
    throw Error("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                std::to_string(impl_->vocab_size) + ")");
  }
  const std::string* text = impl_->token_text(id);
  return text != nullptr ? *text : std::string();
}

std::string Tokenizer::token_bytes(int32_t id) const {
  const std::string text = token_string(id);  // checks the id
  return impl_->decoder.bytes_in_text(text);
}

IncrementalDecoder::IncrementalDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer),
      skip_special_tokens_(skip_special_tokens),
      stream_(tokenizer.impl_->decoder.start()) {}

std::string IncrementalDecoder::push(int32_t id) {
  std::string out;
  tokenizer_.impl_->decode_token(stream_, id, skip_special_tokens_, out);
  return out;
}

std::string IncrementalDecoder::finish() {
  std::string out;
  tokenizer_.impl_->decoder.finish(stream_, out);
  return out;
}

}  // namespace slkv
