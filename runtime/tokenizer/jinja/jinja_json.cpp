#include "runtime/tokenizer/jinja/jinja_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "runtime/tokenizer/jinja/jinja_error.h"
#include "runtime/tokenizer/jinja/jinja_string.h"

namespace slkv::jinja {
namespace {

template <class Json>
Value convert(const Json& json) {
  switch (json.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value::boolean(json.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value::integer(json.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const uint64_t value = json.template get<uint64_t>();
      if (value > static_cast<uint64_t>(INT64_MAX)) return Value::number(static_cast<double>(value));
      return Value::integer(static_cast<int64_t>(value));
    }
    case nlohmann::json::value_t::number_float: return Value::number(json.template get<double>());
    case nlohmann::json::value_t::string: return Value::string(json.template get<std::string>());
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(convert(item));
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Dict dict;
      dict.entries.reserve(json.size());
      for (auto it = json.begin(); it != json.end(); ++it)
        dict.entries.emplace_back(Value::string(it.key()), convert(it.value()));
      return Value::dict(std::move(dict));
    }
    default: throw Error("JSON value of type " + std::string(json.type_name()) + " cannot be given to a template");
  }
}

void append_json_string(std::string& out, std::string_view text, bool ensure_ascii) {
  char buffer[16];
  out += '"';
  for (const char32_t c : to_code_points(text)) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || (ensure_ascii && c > 0x7E)) {
          if (c > 0xFFFF) {  // a surrogate pair, as Python writes it
            const char32_t v = c - 0x10000;
            std::snprintf(buffer, sizeof buffer, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
          } else {
            std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
          }
          out += buffer;
        } else {
          out += from_code_points(std::u32string_view(&c, 1));
        }
    }
  }
  out += '"';
}

std::string float_json(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return python_float_repr(value);
}

std::string key_text(const Value& key) {
  switch (key.kind()) {
    case Value::Kind::String: return key.as_string();
    case Value::Kind::Int: return std::to_string(key.as_int());
    case Value::Kind::Float: return float_json(key.as_float());
    case Value::Kind::Bool: return key.as_bool() ? "true" : "false";
    case Value::Kind::None: return "null";
    default: throw RenderFailure("keys must be str, int, float, bool or None, not " + type_name(key));
  }
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonStyle& style) : style_(style) {}

  void write(std::string& out, const Value& value, int depth) const {
    switch (value.kind()) {
      case Value::Kind::None: out += "null"; return;
      case Value::Kind::Bool: out += value.as_bool() ? "true" : "false"; return;
      case Value::Kind::Int: out += std::to_string(value.as_int()); return;
      case Value::Kind::Float: out += float_json(value.as_float()); return;
      case Value::Kind::String: append_json_string(out, value.as_string(), style_.ensure_ascii); return;
      case Value::Kind::List: {
        const auto& items = value.items();
        if (items.empty()) {
          out += "[]";
          return;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          out += i ? separator(depth + 1) : opening(depth + 1);
          write(out, items[i], depth + 1);
        }
        out += closing(depth) + "]";
        return;
      }
      case Value::Kind::Dict: {
        std::vector<std::pair<std::string, const Value*>> entries;
        for (const auto& [key, item] : value.as_dict().entries) entries.emplace_back(key_text(key), &item);
        if (entries.empty()) {
          out += "{}";
          return;
        }
        if (style_.sort_keys) {
          for (const auto& [key, item] : value.as_dict().entries) {
            if (!key.is_string())
              throw RenderFailure("'<' not supported between instances of '" + type_name(key) + "' and 'str'");
          }
          std::stable_sort(entries.begin(), entries.end(),
                           [](const auto& a, const auto& b) { return a.first < b.first; });
        }
        out += '{';
        for (size_t i = 0; i < entries.size(); ++i) {
          out += i ? separator(depth + 1) : opening(depth + 1);
          append_json_string(out, entries[i].first, style_.ensure_ascii);
          out += style_.key_separator;
          write(out, *entries[i].second, depth + 1);
        }
        out += closing(depth) + "}";
        return;
      }
      default: throw RenderFailure("Object of type " + type_name(value) + " is not JSON serializable");
    }
  }

 private:
  std::string newline_indent(int depth) const {
    std::string out = "\n";
    for (int i = 0; i < depth; ++i) out += *style_.indent;
    return out;
  }
  std::string opening(int depth) const { return style_.indent ? newline_indent(depth) : ""; }
  std::string separator(int depth) const { return style_.item_separator + opening(depth); }
  std::string closing(int depth) const { return style_.indent ? newline_indent(depth) : ""; }

  const JsonStyle& style_;
};

}  // namespace

Value from_json(const nlohmann::json& json) { return convert(json); }
Value from_json(const nlohmann::ordered_json& json) { return convert(json); }

std::string to_json(const Value& value, const JsonStyle& style) {
  std::string out;
  JsonWriter(style).write(out, value, 0);
  return out;
}

}  // namespace slkv::jinja
