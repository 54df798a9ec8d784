#include "runtime/tokenizer/jinja/jinja_value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "runtime/tokenizer/jinja/jinja_error.h"
#include "runtime/tokenizer/jinja/jinja_string.h"

namespace slkv::jinja {
namespace {

void append_hex(std::string& out, char prefix, uint32_t value, int digits) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "\\%c%0*x", prefix, digits, value);
  out += buffer;
}

std::string join_repr(const std::vector<Value>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += repr(items[i]);
  }
  return out;
}

std::string dict_repr(const Dict& dict) {
  std::string out = "{";
  for (size_t i = 0; i < dict.entries.size(); ++i) {
    if (i) out += ", ";
    out += repr(dict.entries[i].first) + ": " + repr(dict.entries[i].second);
  }
  return out + "}";
}

std::string object_repr(const Object& object) {
  if (object.type_name == "Namespace") {
    // Jinja: f"<Namespace {self.__attrs!r}>"
    std::string out = "<Namespace {";
    for (size_t i = 0; i < object.attributes.size(); ++i) {
      if (i) out += ", ";
      out += python_string_repr(object.attributes[i].first) + ": " + repr(object.attributes[i].second);
    }
    return out + "}>";
  }
  if (object.type_name == "LoopContext") {
    const Value* index = object.find("index");
    const Value* length = object.find("length");
    return "<LoopContext " + (index ? to_str(*index) : "?") + "/" + (length ? to_str(*length) : "?") + ">";
  }
  return "<" + object.type_name + " object>";
}

}  // namespace

const Value* Dict::find(const Value& key) const {
  for (const auto& [k, v] : entries)
    if (equals(k, key)) return &v;
  return nullptr;
}

void Dict::set(Value key, Value value) {
  for (auto& [k, v] : entries) {
    if (equals(k, key)) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

const Value* Object::find(std::string_view name) const {
  for (const auto& [k, v] : attributes)
    if (k == name) return &v;
  return nullptr;
}

void Object::set(const std::string& name, Value value) {
  for (auto& [k, v] : attributes) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  attributes.emplace_back(name, std::move(value));
}

Value Value::undefined(std::string hint) { return Value(Data(Undefined{std::move(hint)})); }
Value Value::none() { return Value(Data(std::monostate{})); }
Value Value::boolean(bool value) { return Value(Data(value)); }
Value Value::integer(int64_t value) { return Value(Data(value)); }
Value Value::number(double value) { return Value(Data(value)); }
Value Value::string(std::string value) { return Value(Data(std::move(value))); }

Value Value::list(std::vector<Value> items, bool tuple) {
  return Value(Data(std::make_shared<const List>(List{std::move(items), tuple})));
}

Value Value::dict(Dict dict) { return Value(Data(std::make_shared<const Dict>(std::move(dict)))); }

Value Value::object(std::shared_ptr<Object> object) { return Value(Data(std::move(object))); }

Value Value::iterator(std::string type_name, std::vector<Value> items) {
  return Value(Data(std::make_shared<IteratorState>(IteratorState{std::move(type_name), std::move(items), 0})));
}

Value Value::callable(std::string name, std::function<Value(const CallArgs&)> call, std::string type_name) {
  return Value(Data(std::make_shared<const Callable>(Callable{std::move(name), std::move(type_name), std::move(call)})));
}

int64_t Value::as_int() const { return is_bool() ? (as_bool() ? 1 : 0) : std::get<int64_t>(data_); }

double Value::as_float() const { return is_float() ? std::get<double>(data_) : static_cast<double>(as_int()); }

bool Value::same_object(const Value& other) const {
  if (kind() != other.kind()) return false;
  switch (kind()) {
    case Kind::Undefined: return false;
    case Kind::None: return true;
    case Kind::Bool: return as_bool() == other.as_bool();
    // Python caches small ints and interns short strings; comparing values
    // is the closest a value model gets to `is` for them.
    case Kind::Int: return as_int() == other.as_int();
    case Kind::Float: return false;
    case Kind::String: return as_string() == other.as_string();
    case Kind::List: return &as_list() == &other.as_list();
    case Kind::Dict: return &as_dict() == &other.as_dict();
    case Kind::Object: return &as_object() == &other.as_object();
    case Kind::Iterator: return &as_iterator() == &other.as_iterator();
    case Kind::Callable: return &as_callable() == &other.as_callable();
  }
  return false;
}

bool truthy(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return false;
    case Value::Kind::Bool: return value.as_bool();
    case Value::Kind::Int: return value.as_int() != 0;
    case Value::Kind::Float: return value.as_float() != 0.0;
    case Value::Kind::String: return !value.as_string().empty();
    case Value::Kind::List: return !value.items().empty();
    case Value::Kind::Dict: return !value.as_dict().entries.empty();
    // Objects, iterators and functions have no length: always true in Python.
    case Value::Kind::Object:
    case Value::Kind::Iterator:
    case Value::Kind::Callable: return true;
  }
  return false;
}

std::string to_str(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined: return "";
    case Value::Kind::String: return value.as_string();
    default: return repr(value);
  }
}

std::string repr(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined: return "Undefined";
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return value.as_bool() ? "True" : "False";
    case Value::Kind::Int: return std::to_string(value.as_int());
    case Value::Kind::Float: return python_float_repr(value.as_float());
    case Value::Kind::String: return python_string_repr(value.as_string());
    case Value::Kind::List: {
      const List& list = value.as_list();
      if (!list.tuple) return "[" + join_repr(list.items) + "]";
      return "(" + join_repr(list.items) + (list.items.size() == 1 ? ",)" : ")");
    }
    case Value::Kind::Dict: return dict_repr(value.as_dict());
    case Value::Kind::Object: return object_repr(value.as_object());
    case Value::Kind::Iterator: return "<" + value.as_iterator().type_name + " object>";
    case Value::Kind::Callable: {
      const Callable& callable = value.as_callable();
      if (callable.type_name == "Macro") return "<Macro " + python_string_repr(callable.name) + ">";
      return "<built-in method " + callable.name + ">";
    }
  }
  return "";
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    // Jinja: an Undefined equals any other Undefined.
    case Value::Kind::Undefined: return true;
    case Value::Kind::None: return true;
    case Value::Kind::String: return a.as_string() == b.as_string();
    case Value::Kind::List: {
      const List& x = a.as_list();
      const List& y = b.as_list();
      if (x.tuple != y.tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i)
        if (!equals(x.items[i], y.items[i])) return false;
      return true;
    }
    case Value::Kind::Dict: {
      const Dict& x = a.as_dict();
      const Dict& y = b.as_dict();
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [key, item] : x.entries) {
        const Value* other = y.find(key);
        if (!other || !equals(item, *other)) return false;
      }
      return true;
    }
    default: return a.same_object(b);
  }
}

void require_defined(const Value& value) {
  if (value.is_undefined()) throw RenderFailure(value.undefined_hint());
}

bool is_hashable(const Value& value) {
  if (value.is_dict()) return false;
  if (!value.is_list()) return true;
  if (!value.as_list().tuple) return false;
  for (const Value& item : value.items())
    if (!is_hashable(item)) return false;
  return true;
}

std::string type_name(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined: return "Undefined";
    case Value::Kind::None: return "NoneType";
    case Value::Kind::Bool: return "bool";
    case Value::Kind::Int: return "int";
    case Value::Kind::Float: return "float";
    case Value::Kind::String: return "str";
    case Value::Kind::List: return value.as_list().tuple ? "tuple" : "list";
    case Value::Kind::Dict: return "dict";
    case Value::Kind::Object: return value.as_object().type_name;
    case Value::Kind::Iterator: return value.as_iterator().type_name;
    case Value::Kind::Callable: return value.as_callable().type_name;
  }
  return "object";
}

std::string object_type_repr(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::None: return "None";
    case Value::Kind::Object: return value.as_object().qualified_name + " object";
    case Value::Kind::Undefined: return "jinja2.runtime.Undefined object";
    case Value::Kind::Callable:
      if (value.as_callable().type_name == "Macro") return "jinja2.runtime.Macro object";
      return "builtin_function_or_method object";
    default: return type_name(value) + " object";
  }
}

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0.0) return std::signbit(value) ? "-0.0" : "0.0";
  // The shortest digits that round-trip (what Python's repr uses), then
  // Python's layout: positional when -4 < exponent10 + 1 <= 16.
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  const std::string_view text(buffer, static_cast<size_t>(result.ptr - buffer));
  std::string sign;
  size_t pos = 0;
  if (text[0] == '-') sign = "-", pos = 1;
  const size_t e = text.find('e');
  std::string digits;
  for (size_t i = pos; i < e; ++i)
    if (text[i] != '.') digits += text[i];
  int exponent = 0;
  std::from_chars(text.data() + e + 1 + (text[e + 1] == '+' ? 1 : 0), text.data() + text.size(), exponent);
  const int point = exponent + 1;  // digits d1 d2 ... with the point after `point` of them
  const int count = static_cast<int>(digits.size());
  if (point > -4 && point <= 16) {
    if (point <= 0) return sign + "0." + std::string(-point, '0') + digits;
    if (point >= count) return sign + digits + std::string(point - count, '0') + ".0";
    return sign + digits.substr(0, point) + "." + digits.substr(point);
  }
  std::string out = sign + digits.substr(0, 1);
  if (count > 1) out += "." + digits.substr(1);
  char exponent_text[16];
  std::snprintf(exponent_text, sizeof exponent_text, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + exponent_text;
}

std::string python_string_repr(std::string_view text) {
  const bool has_single = text.find('\'') != std::string_view::npos;
  const bool has_double = text.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (const char32_t c : to_code_points(text)) {
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x7F && c >= 0x20) {
      out += static_cast<char>(c);
    } else if (is_python_printable(c)) {
      out += from_code_points(std::u32string_view(&c, 1));
    } else if (c <= 0xFF) {
      append_hex(out, 'x', c, 2);
    } else if (c <= 0xFFFF) {
      append_hex(out, 'u', c, 4);
    } else {
      append_hex(out, 'U', c, 8);
    }
  }
  out += quote;
  return out;
}

}  // namespace slkv::jinja
