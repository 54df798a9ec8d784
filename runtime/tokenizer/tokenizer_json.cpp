#include "runtime/tokenizer/tokenizer_json.h"

#include "core/error.h"

namespace slkv {

JsonPath JsonPath::operator/(std::string_view key) const {
  return {source, field.empty() ? std::string(key) : field + "." + std::string(key)};
}

JsonPath JsonPath::operator[](size_t index) const {
  return {source, field + "[" + std::to_string(index) + "]"};
}

void JsonPath::fail(const std::string& message) const {
  throw Error(source + ": " + (field.empty() ? std::string("(root)") : field) + ": " + message);
}

Json parse_json_text(const std::string& text, const std::string& source) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw Error(source + ": malformed JSON: " + e.what());
  }
}

const Json& json_require(const Json& obj, std::string_view key, const JsonPath& path) {
  if (!obj.is_object()) path.fail("expected an object");
  const auto it = obj.find(key);
  if (it == obj.end()) (path / key).fail("missing");
  return *it;
}

std::string json_string(const Json& obj, std::string_view key, const JsonPath& path) {
  const Json& value = json_require(obj, key, path);
  if (!value.is_string()) (path / key).fail("expected a string");
  return value.get<std::string>();
}

bool json_bool_or(const Json& obj, std::string_view key, bool fallback, const JsonPath& path) {
  if (!obj.is_object()) return fallback;
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) (path / key).fail("expected true or false");
  return it->get<bool>();
}

std::string json_string_or(const Json& obj, std::string_view key, const std::string& fallback,
                           const JsonPath& path) {
  if (!obj.is_object()) return fallback;
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_string()) (path / key).fail("expected a string");
  return it->get<std::string>();
}

std::string json_type(const Json& obj, const JsonPath& path) {
  return json_string(obj, "type", path);
}

}  // namespace slkv
