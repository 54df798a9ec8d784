#pragma once
// JSON access helpers for the tokenizer loaders: every error names the file
// and the field ("tokenizer.json: model.type: ..."), as slkv::Error.
#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace slkv {

using Json = nlohmann::json;

// Where a JSON value sits: the file it came from and its field path.
struct JsonPath {
  std::string source;  // file name, e.g. ".../tokenizer.json"
  std::string field;   // e.g. "pre_tokenizer.pretokenizers[0].pattern"

  JsonPath operator/(std::string_view key) const;  // a child field
  JsonPath operator[](size_t index) const;         // an array element
  [[noreturn]] void fail(const std::string& message) const;
};

// Parses a whole JSON text; malformed JSON throws naming `source`.
Json parse_json_text(const std::string& text, const std::string& source);

// obj[key] where obj must be an object holding key.
const Json& json_require(const Json& obj, std::string_view key, const JsonPath& path);
std::string json_string(const Json& obj, std::string_view key, const JsonPath& path);
// obj[key] as a bool; `fallback` when absent or null.
bool json_bool_or(const Json& obj, std::string_view key, bool fallback, const JsonPath& path);
// obj[key] as a string; `fallback` when absent or null.
std::string json_string_or(const Json& obj, std::string_view key, const std::string& fallback,
                           const JsonPath& path);
// The "type" field of a component object.
std::string json_type(const Json& obj, const JsonPath& path);

}  // namespace slkv
