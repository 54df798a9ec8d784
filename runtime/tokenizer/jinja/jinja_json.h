#pragma once
// JSON in and out of templates.
//
// In: the messages, tools and keyword values a template is rendered with
// (nlohmann::ordered_json keeps the caller's key order, which `tojson` then
// reproduces; nlohmann::json has sorted its keys already).
// Out: the `tojson` filter as Hugging Face transformers defines it, i.e.
// Python's json.dumps(x, ensure_ascii=False, indent=None, separators=None,
// sort_keys=False): ", " and ": " separators, non-ASCII kept, float repr,
// and no HTML escaping (unlike stock Jinja's tojson).
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/tokenizer/jinja/jinja_value.h"

namespace slkv::jinja {

Value from_json(const nlohmann::json& json);
Value from_json(const nlohmann::ordered_json& json);

struct JsonStyle {
  std::optional<std::string> indent;  // json.dumps(indent=...) as text: none = one line
  std::string item_separator = ", ";  // "," when indenting, unless given
  std::string key_separator = ": ";
  bool ensure_ascii = false;
  bool sort_keys = false;
};

// json.dumps(value, ...); RenderFailure for what JSON cannot hold
// (Undefined, namespaces, functions, iterators, non-scalar keys).
std::string to_json(const Value& value, const JsonStyle& style);

}  // namespace slkv::jinja
