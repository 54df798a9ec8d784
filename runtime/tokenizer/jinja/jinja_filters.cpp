#include "runtime/tokenizer/jinja/jinja_filters.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>

#include "runtime/tokenizer/jinja/jinja_access.h"
#include "runtime/tokenizer/jinja/jinja_error.h"
#include "runtime/tokenizer/jinja/jinja_format.h"
#include "runtime/tokenizer/jinja/jinja_json.h"
#include "runtime/tokenizer/jinja/jinja_operators.h"
#include "runtime/tokenizer/jinja/jinja_string.h"
#include "runtime/tokenizer/jinja/jinja_tests.h"
#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv::jinja {
namespace {

using Filter = std::function<Value(const Value& subject, const CallArgs& args)>;
using Getter = std::function<Value(const Value& item)>;

// ---- helpers shared by several filters ----

Value lower_if_string(const Value& value) {
  return value.is_string() ? Value::string(py_lower(value.as_string())) : value;
}

// Jinja's _prepare_attribute_parts: "a.0.b" -> ['a', 0, 'b'].
std::vector<Value> attribute_parts(const Value& attribute) {
  if (attribute.is_none()) return {};
  if (!attribute.is_string()) return {attribute};
  std::vector<Value> parts;
  for (const std::string& part : py_split(attribute.as_string(), std::string("."), -1, false)) {
    if (py_isdigit(part)) {
      parts.push_back(Value::integer(*py_parse_int(part, 10)));
    } else {
      parts.push_back(Value::string(part));
    }
  }
  return parts;
}

// Jinja's make_attrgetter: item[part][part]..., then `fallback` for an
// Undefined result when one is given, then lower-casing strings if asked.
Getter attribute_getter(const Value& attribute, const Value& fallback = Value::none(), bool ignore_case = false) {
  const std::vector<Value> parts = attribute_parts(attribute);
  return [parts, fallback, ignore_case](const Value& item) {
    Value value = item;
    for (const Value& part : parts) value = get_item(value, part);
    if (!fallback.is_none() && value.is_undefined()) value = fallback;
    return ignore_case ? lower_if_string(value) : value;
  };
}

// Jinja's make_multi_attrgetter (sort): "a,b.c" gives [item.a, item.b.c].
Getter multi_attribute_getter(const Value& attribute, bool ignore_case) {
  std::vector<Getter> getters;
  if (attribute.is_string()) {
    for (const std::string& part : py_split(attribute.as_string(), std::string(","), -1, false))
      getters.push_back(attribute_getter(Value::string(part), Value::none(), ignore_case));
  } else {
    getters.push_back(attribute_getter(attribute, Value::none(), ignore_case));
  }
  return [getters](const Value& item) {
    std::vector<Value> keys;
    for (const Getter& getter : getters) keys.push_back(getter(item));
    return Value::list(std::move(keys));
  };
}

bool less(const Value& a, const Value& b) { return compare("<", a, b); }

CallArgs rest_arguments(const CallArgs& args, size_t skip) {
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(std::min(skip, args.positional.size())),
                         args.positional.end());
  rest.keyword = args.keyword;
  return rest;
}

Value generator(std::vector<Value> items) { return Value::iterator("generator", std::move(items)); }

// ---- the filters ----

Value filter_abs(const Value& value, const CallArgs& args) {
  bind_arguments("abs", args, {});
  if (value.is_float()) return Value::number(std::fabs(value.as_float()));
  if (value.is_integral()) {
    const int64_t i = value.as_int();
    return i < 0 ? unary_operator("-", value) : Value::integer(i);
  }
  require_defined(value);
  throw RenderFailure("bad operand type for abs(): '" + type_name(value) + "'");
}

Value filter_attr(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("attr", args, {{"name", {}, true}});
  require_defined(value);
  const std::string name = to_str(a[0]);
  if (std::optional<Value> attribute = python_attribute(value, name)) return *attribute;
  return Value::undefined(python_string_repr(object_type_repr(value)) + " has no attribute " + python_string_repr(name));
}

Value filter_batch(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("batch", args, {{"linecount", {}, true}, {"fill_with", Value::none()}});
  if (!a[0].is_integral()) throw RenderFailure("batch() linecount must be an integer");
  const size_t count = static_cast<size_t>(std::max<int64_t>(1, a[0].as_int()));
  std::vector<Value> batches, current;
  for (const Value& item : iterate(value)) {
    if (current.size() == count) {
      batches.push_back(Value::list(std::move(current)));
      current.clear();
    }
    current.push_back(item);
  }
  if (!current.empty()) {
    if (!a[1].is_none())
      while (current.size() < count) current.push_back(a[1]);
    batches.push_back(Value::list(std::move(current)));
  }
  return generator(std::move(batches));
}

Value filter_center(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("center", args, {{"width", Value::integer(80)}});
  const Value method = *python_attribute(Value::string(to_str(value)), "center");
  return call_value(method, CallArgs{{a[0]}, {}});
}

Value filter_default(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("default", args, {{"default_value", Value::string("")}, {"boolean", Value::boolean(false)}});
  if (value.is_undefined() || (truthy(a[1]) && !truthy(value))) return a[0];
  return value;
}

Value filter_dictsort(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("dictsort", args, {{"case_sensitive", Value::boolean(false)},
                                                   {"by", Value::string("key")},
                                                   {"reverse", Value::boolean(false)}});
  require_defined(value);
  if (!value.is_dict()) throw RenderFailure("'" + type_name(value) + "' object has no attribute 'items'");
  const std::string by = to_str(a[1]);
  if (by != "key" && by != "value") throw RenderFailure("You can only sort by either \"key\" or \"value\"");
  const size_t position = by == "key" ? 0 : 1;
  std::vector<Value> pairs;
  for (const auto& [key, item] : value.as_dict().entries) pairs.push_back(Value::list({key, item}, true));
  const bool ignore_case = !truthy(a[0]);
  const auto key_of = [&](const Value& pair) {
    const Value& key = pair.items()[position];
    return ignore_case ? lower_if_string(key) : key;
  };
  if (truthy(a[2])) {
    std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) { return less(key_of(y), key_of(x)); });
  } else {
    std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) { return less(key_of(x), key_of(y)); });
  }
  return Value::list(std::move(pairs));
}

Value filter_escape(const Value& value, const CallArgs& args) {
  bind_arguments("escape", args, {});
  std::string out;
  for (const char c : to_str(value)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return Value::string(std::move(out));
}

Value filter_first(const Value& value, const CallArgs& args) {
  bind_arguments("first", args, {});
  if (value.is_iterator()) {
    IteratorState& state = value.as_iterator();
    if (state.next < state.items.size()) return state.items[state.next++];
  } else {
    const std::vector<Value> items = iterate(value);
    if (!items.empty()) return items.front();
  }
  return Value::undefined("No first item, sequence was empty.");
}

Value filter_last(const Value& value, const CallArgs& args) {
  bind_arguments("last", args, {});
  if (value.is_iterator()) throw RenderFailure("'" + type_name(value) + "' object is not reversible");
  const std::vector<Value> items = iterate(value);
  if (!items.empty()) return items.back();
  return Value::undefined("No last item, sequence was empty.");
}

Value filter_float(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("float", args, {{"default", Value::number(0.0)}});
  require_defined(value);
  if (value.is_number()) return Value::number(value.as_float());
  if (value.is_string()) {
    if (std::optional<double> parsed = py_parse_float(value.as_string())) return Value::number(*parsed);
  }
  return a[0];
}

Value filter_format(const Value& value, const CallArgs& args) {
  if (!args.positional.empty() && !args.keyword.empty())
    throw RenderFailure("can't handle positional and keyword arguments at the same time");
  if (!args.keyword.empty()) {
    Dict mapping;
    for (const auto& [key, item] : args.keyword) mapping.set(Value::string(key), item);
    return Value::string(printf_format(to_str(value), Value::dict(std::move(mapping))));
  }
  return Value::string(printf_format(to_str(value), Value::list(args.positional, true)));
}

Value filter_indent(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("indent", args, {{"width", Value::integer(4)},
                                                 {"first", Value::boolean(false)},
                                                 {"blank", Value::boolean(false)}});
  require_defined(value);
  if (!value.is_string())
    throw RenderFailure("unsupported operand type(s) for +=: '" + type_name(value) + "' and 'str'");
  std::string indentation;
  if (a[0].is_string()) {
    indentation = a[0].as_string();
  } else if (a[0].is_integral()) {
    indentation = std::string(static_cast<size_t>(std::max<int64_t>(0, a[0].as_int())), ' ');
  } else {
    throw RenderFailure("can't multiply sequence by non-int of type '" + type_name(a[0]) + "'");
  }
  // Jinja appends a newline first so that splitlines() keeps a trailing empty line.
  const std::vector<std::string> lines = py_splitlines(value.as_string() + "\n", false);
  std::string out;
  if (truthy(a[2])) {
    for (size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" + indentation : "") + lines[i];
  } else {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) out += "\n" + (lines[i].empty() ? "" : indentation);
      out += lines[i];
    }
  }
  if (truthy(a[1])) out = indentation + out;
  return Value::string(std::move(out));
}

Value filter_int(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("int", args, {{"default", Value::integer(0)}, {"base", Value::integer(10)}});
  require_defined(value);
  if (value.is_integral()) return Value::integer(value.as_int());
  if (value.is_float()) {
    const double d = value.as_float();
    if (std::isnan(d)) return a[0];
    if (std::isinf(d)) throw RenderFailure("cannot convert float infinity to integer");
    if (std::fabs(d) >= 9.2e18) throw RenderFailure("integer overflow (integers are 64-bit here, unlike Python's)");
    return Value::integer(static_cast<int64_t>(d));
  }
  if (value.is_string()) {
    if (!a[1].is_integral()) throw RenderFailure("'" + type_name(a[1]) + "' object cannot be interpreted as an integer");
    if (std::optional<int64_t> parsed = py_parse_int(value.as_string(), static_cast<int>(a[1].as_int())))
      return Value::integer(*parsed);
    // Jinja's quirk: "42.23"|int is 42.
    if (std::optional<double> parsed = py_parse_float(value.as_string())) {
      if (std::isnan(*parsed)) return a[0];
      if (std::isinf(*parsed)) throw RenderFailure("cannot convert float infinity to integer");
      return Value::integer(static_cast<int64_t>(*parsed));
    }
  }
  return a[0];
}

Value filter_items(const Value& value, const CallArgs& args) {
  bind_arguments("items", args, {});
  if (value.is_undefined()) return generator({});
  if (!value.is_dict()) throw RenderFailure("Can only get item pairs from a mapping.");
  std::vector<Value> pairs;
  for (const auto& [key, item] : value.as_dict().entries) pairs.push_back(Value::list({key, item}, true));
  return Value::iterator("dict_itemiterator", std::move(pairs));
}

Value filter_join(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("join", args, {{"d", Value::string("")}, {"attribute", Value::none()}});
  std::vector<Value> items = iterate(value);
  if (!a[1].is_none()) {
    const Getter getter = attribute_getter(a[1]);
    for (Value& item : items) item = getter(item);
  }
  const std::string separator = to_str(a[0]);
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + to_str(items[i]);
  return Value::string(std::move(out));
}

Value filter_length(const Value& value, const CallArgs& args) {
  bind_arguments("length", args, {});
  return Value::integer(length(value));
}

Value filter_list(const Value& value, const CallArgs& args) {
  bind_arguments("list", args, {});
  return Value::list(iterate(value));
}

Value filter_map(const Value& value, const CallArgs& args) {
  Getter transform;
  if (args.positional.empty()) {
    Value attribute, fallback = Value::none();
    bool has_attribute = false;
    for (const auto& [key, item] : args.keyword) {
      if (key == "attribute") {
        attribute = item;
        has_attribute = true;
      } else if (key == "default") {
        fallback = item;
      } else {
        throw RenderFailure("Unexpected keyword argument " + python_string_repr(key));
      }
    }
    if (!has_attribute) throw RenderFailure("map requires a filter argument");
    transform = attribute_getter(attribute, fallback);
  } else {
    const std::string name = to_str(args.positional[0]);
    const CallArgs rest = rest_arguments(args, 1);
    transform = [name, rest](const Value& item) { return apply_filter(name, item, rest); };
  }
  std::vector<Value> out;
  for (const Value& item : iterate(value)) out.push_back(transform(item));
  return generator(std::move(out));
}

Value aggregate(const Value& value, const CallArgs& args, const std::string& name, bool want_max) {
  const auto a = bind_arguments(name, args, {{"case_sensitive", Value::boolean(false)}, {"attribute", Value::none()}});
  const std::vector<Value> items = iterate(value);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  const Getter key = attribute_getter(a[1], Value::none(), !truthy(a[0]));
  size_t best = 0;
  Value best_key = key(items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = key(items[i]);
    // Python's min/max keep the first of equal items.
    if (want_max ? less(best_key, k) : less(k, best_key)) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}

// select / reject / selectattr / rejectattr.
Value select_or_reject(const Value& value, const CallArgs& args, bool select, bool by_attribute) {
  size_t offset = 0;
  Getter transform = [](const Value& item) { return item; };
  if (by_attribute) {
    if (args.positional.empty()) throw RenderFailure("Missing parameter for attribute name");
    transform = attribute_getter(args.positional[0]);
    offset = 1;
  }
  std::function<bool(const Value&)> test;
  if (args.positional.size() > offset) {
    const std::string name = to_str(args.positional[offset]);
    const CallArgs rest = rest_arguments(args, offset + 1);
    test = [name, rest](const Value& item) { return apply_test(name, item, rest); };
  } else {
    test = [](const Value& item) { return truthy(item); };
  }
  std::vector<Value> out;
  for (const Value& item : iterate(value))
    if (test(transform(item)) == select) out.push_back(item);
  return generator(std::move(out));
}

Value filter_replace(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("replace", args, {{"old", {}, true}, {"new", {}, true}, {"count", Value::none()}});
  int64_t count = -1;
  if (!a[2].is_none()) {
    if (!a[2].is_integral()) throw RenderFailure("'" + type_name(a[2]) + "' object cannot be interpreted as an integer");
    count = a[2].as_int();
  }
  return Value::string(py_replace(to_str(value), to_str(a[0]), to_str(a[1]), count));
}

Value filter_reverse(const Value& value, const CallArgs& args) {
  bind_arguments("reverse", args, {});
  if (value.is_string()) {
    std::u32string cps = to_code_points(value.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value::string(from_code_points(cps));
  }
  if (value.is_iterator()) {  // not reversible: Jinja falls back to a reversed list
    std::vector<Value> items = iterate(value);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (!value.is_list() && !value.is_dict() && !value.is_undefined()) throw RenderFailure("argument must be iterable");
  std::vector<Value> items = iterate(value);
  std::reverse(items.begin(), items.end());
  const char* kind = value.is_dict() ? "dict_reversekeyiterator" : (value.is_list() && value.as_list().tuple ? "reversed" : "list_reverseiterator");
  return Value::iterator(kind, std::move(items));
}

// Python's round(x, ndigits) for a float: the correctly rounded decimal,
// ties to even (printf rounds the exact binary value the same way).
double python_round(double x, int64_t digits) {
  if (!std::isfinite(x) || digits > 300) return x;
  if (digits >= 0) {
    const int length = std::snprintf(nullptr, 0, "%.*f", static_cast<int>(digits), x);
    std::string text(static_cast<size_t>(length), '\0');
    std::snprintf(text.data(), text.size() + 1, "%.*f", static_cast<int>(digits), x);
    return std::strtod(text.c_str(), nullptr);
  }
  const double scale = std::pow(10.0, static_cast<double>(-digits));
  return std::nearbyint(x / scale) * scale;
}

Value filter_round(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("round", args, {{"precision", Value::integer(0)}, {"method", Value::string("common")}});
  const std::string method = to_str(a[1]);
  if (method != "common" && method != "ceil" && method != "floor")
    throw RenderFailure("method must be common, ceil or floor");
  require_defined(value);
  if (!value.is_number()) throw RenderFailure("type " + type_name(value) + " doesn't define __round__ method");
  if (!a[0].is_integral()) throw RenderFailure("'" + type_name(a[0]) + "' object cannot be interpreted as an integer");
  const int64_t precision = a[0].as_int();
  if (method == "common") {
    if (value.is_integral()) {  // round(int, n) stays an int
      if (precision >= 0) return Value::integer(value.as_int());
      return Value::integer(static_cast<int64_t>(python_round(static_cast<double>(value.as_int()), precision)));
    }
    return Value::number(python_round(value.as_float(), precision));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double scaled = value.as_float() * scale;
  return Value::number((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

Value filter_sort(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("sort", args, {{"reverse", Value::boolean(false)},
                                               {"case_sensitive", Value::boolean(false)},
                                               {"attribute", Value::none()}});
  std::vector<Value> items = iterate(value);
  const Getter key = multi_attribute_getter(a[2], !truthy(a[1]));
  std::vector<std::pair<Value, Value>> keyed;
  for (Value& item : items) keyed.emplace_back(key(item), std::move(item));
  if (truthy(a[0])) {
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& x, const auto& y) { return less(y.first, x.first); });
  } else {
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& x, const auto& y) { return less(x.first, y.first); });
  }
  std::vector<Value> out;
  for (auto& entry : keyed) out.push_back(std::move(entry.second));
  return Value::list(std::move(out));
}

Value filter_striptags(const Value& value, const CallArgs& args) {
  bind_arguments("striptags", args, {});
  std::string text = to_str(value);
  // markupsafe: comments first, then tags, then collapse whitespace, then unescape.
  for (size_t start; (start = text.find("<!--")) != std::string::npos;) {
    const size_t end = text.find("-->", start);
    if (end == std::string::npos) break;
    text.erase(start, end + 3 - start);
  }
  for (size_t start; (start = text.find('<')) != std::string::npos;) {
    const size_t end = text.find('>', start);
    if (end == std::string::npos) break;
    text.erase(start, end + 1 - start);
  }
  std::string collapsed;
  for (const std::string& word : py_split(text, std::nullopt, -1, false)) collapsed += (collapsed.empty() ? "" : " ") + word;
  std::string out;
  static const std::pair<const char*, const char*> entities[] = {
      {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&apos;", "'"}, {"&nbsp;", "\xC2\xA0"}};
  for (size_t i = 0; i < collapsed.size();) {
    bool replaced = false;
    if (collapsed[i] == '&') {
      for (const auto& [entity, text_value] : entities) {
        if (collapsed.compare(i, std::char_traits<char>::length(entity), entity) == 0) {
          out += text_value;
          i += std::char_traits<char>::length(entity);
          replaced = true;
          break;
        }
      }
      if (!replaced && i + 2 < collapsed.size() && collapsed[i + 1] == '#') {
        const size_t semicolon = collapsed.find(';', i);
        const bool hex = collapsed[i + 2] == 'x' || collapsed[i + 2] == 'X';
        const std::string digits = semicolon == std::string::npos ? "" : collapsed.substr(i + (hex ? 3 : 2), semicolon - i - (hex ? 3 : 2));
        char* end = nullptr;
        const unsigned long code = digits.empty() ? 0 : std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
        if (!digits.empty() && *end == 0 && code > 0 && code <= 0x10FFFF) {
          append_utf8(out, static_cast<uint32_t>(code));
          i = semicolon + 1;
          replaced = true;
        }
      }
    }
    if (!replaced) out += collapsed[i++];
  }
  return Value::string(std::move(out));
}

Value filter_sum(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("sum", args, {{"attribute", Value::none()}, {"start", Value::integer(0)}});
  if (a[1].is_string()) throw RenderFailure("sum() can't sum strings [use ''.join(seq) instead]");
  std::vector<Value> items = iterate(value);
  if (!a[0].is_none()) {
    const Getter getter = attribute_getter(a[0]);
    for (Value& item : items) item = getter(item);
  }
  Value total = a[1];
  for (const Value& item : items) total = binary_operator("+", total, item);
  return total;
}

Value filter_title(const Value& value, const CallArgs& args) {
  bind_arguments("title", args, {});
  // Jinja: words start after runs of -, whitespace, (, {, [ or <; each
  // word's first character is upper-cased and the rest lower-cased.
  const std::u32string cps = to_code_points(to_str(value));
  const auto is_break = [](char32_t c) {
    return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_python_space(c);
  };
  std::string out;
  for (size_t i = 0; i < cps.size();) {
    size_t end = i;
    const bool breaking = is_break(cps[i]);
    while (end < cps.size() && is_break(cps[end]) == breaking) ++end;
    const std::string part = from_code_points(std::u32string_view(cps).substr(i, end - i));
    if (breaking) {
      out += part;
    } else {
      const std::u32string word = to_code_points(part);
      out += py_upper(from_code_points(word.substr(0, 1))) + py_lower(from_code_points(word.substr(1)));
    }
    i = end;
  }
  return Value::string(std::move(out));
}

Value filter_tojson(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("tojson", args, {{"ensure_ascii", Value::boolean(false)},
                                                 {"indent", Value::none()},
                                                 {"separators", Value::none()},
                                                 {"sort_keys", Value::boolean(false)}});
  JsonStyle style;
  style.ensure_ascii = truthy(a[0]);
  style.sort_keys = truthy(a[3]);
  if (a[1].is_string()) {
    style.indent = a[1].as_string();
  } else if (a[1].is_integral()) {
    style.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, a[1].as_int())), ' ');
  } else if (!a[1].is_none()) {
    throw RenderFailure("tojson indent must be an int or a string, not " + type_name(a[1]));
  }
  if (style.indent) style.item_separator = ",";
  if (!a[2].is_none()) {
    if (!a[2].is_list() || a[2].items().size() != 2 || !a[2].items()[0].is_string() || !a[2].items()[1].is_string())
      throw RenderFailure("tojson separators must be a pair of strings");
    style.item_separator = a[2].items()[0].as_string();
    style.key_separator = a[2].items()[1].as_string();
  }
  return Value::string(to_json(value, style));
}

Value filter_trim(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("trim", args, {{"chars", Value::none()}});
  std::optional<std::string> chars;
  if (!a[0].is_none()) {
    if (!a[0].is_string()) throw RenderFailure("strip arg must be None or str");
    chars = a[0].as_string();
  }
  return Value::string(py_strip(to_str(value), chars, true, true));
}

Value filter_unique(const Value& value, const CallArgs& args) {
  const auto a = bind_arguments("unique", args, {{"case_sensitive", Value::boolean(false)}, {"attribute", Value::none()}});
  const Getter key = attribute_getter(a[1], Value::none(), !truthy(a[0]));
  std::vector<Value> seen, out;
  for (const Value& item : iterate(value)) {
    const Value k = key(item);
    if (!is_hashable(k)) throw RenderFailure("unhashable type: '" + type_name(k) + "'");
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) {
      seen.push_back(k);
      out.push_back(item);
    }
  }
  return generator(std::move(out));
}

Value filter_wordcount(const Value& value, const CallArgs& args) {
  bind_arguments("wordcount", args, {});
  int64_t words = 0;
  bool in_word = false;
  for (const char32_t c : to_code_points(to_str(value))) {
    const bool word_char = is_word_character(c);
    if (word_char && !in_word) ++words;
    in_word = word_char;
  }
  return Value::integer(words);
}

// A filter that maps str(value) through a Python str function.
Filter text_filter(const std::string& name, std::string (*transform)(std::string_view)) {
  return [name, transform](const Value& value, const CallArgs& args) {
    bind_arguments(name, args, {});
    return Value::string(transform(to_str(value)));
  };
}

const std::map<std::string, Filter>& filters() {
  static const std::map<std::string, Filter> table = [] {
    std::map<std::string, Filter> f;
    f["abs"] = filter_abs;
    f["attr"] = filter_attr;
    f["batch"] = filter_batch;
    f["capitalize"] = text_filter("capitalize", py_capitalize);
    f["center"] = filter_center;
    f["count"] = filter_length;
    f["d"] = filter_default;
    f["default"] = filter_default;
    f["dictsort"] = filter_dictsort;
    f["e"] = filter_escape;
    f["escape"] = filter_escape;
    f["first"] = filter_first;
    f["float"] = filter_float;
    f["format"] = filter_format;
    f["indent"] = filter_indent;
    f["int"] = filter_int;
    f["items"] = filter_items;
    f["join"] = filter_join;
    f["last"] = filter_last;
    f["length"] = filter_length;
    f["list"] = filter_list;
    f["lower"] = text_filter("lower", py_lower);
    f["map"] = filter_map;
    f["max"] = [](const Value& v, const CallArgs& a) { return aggregate(v, a, "max", true); };
    f["min"] = [](const Value& v, const CallArgs& a) { return aggregate(v, a, "min", false); };
    f["reject"] = [](const Value& v, const CallArgs& a) { return select_or_reject(v, a, false, false); };
    f["rejectattr"] = [](const Value& v, const CallArgs& a) { return select_or_reject(v, a, false, true); };
    f["replace"] = filter_replace;
    f["reverse"] = filter_reverse;
    f["round"] = filter_round;
    f["safe"] = [](const Value& v, const CallArgs& a) {
      bind_arguments("safe", a, {});
      return Value::string(to_str(v));
    };
    f["select"] = [](const Value& v, const CallArgs& a) { return select_or_reject(v, a, true, false); };
    f["selectattr"] = [](const Value& v, const CallArgs& a) { return select_or_reject(v, a, true, true); };
    f["sort"] = filter_sort;
    f["string"] = [](const Value& v, const CallArgs& a) {
      bind_arguments("string", a, {});
      return Value::string(to_str(v));
    };
    f["striptags"] = filter_striptags;
    f["sum"] = filter_sum;
    f["title"] = filter_title;
    f["tojson"] = filter_tojson;
    f["trim"] = filter_trim;
    f["unique"] = filter_unique;
    f["upper"] = text_filter("upper", py_upper);
    f["wordcount"] = filter_wordcount;
    return f;
  }();
  return table;
}

}  // namespace

bool has_filter(const std::string& name) { return filters().count(name) > 0; }

Value apply_filter(const std::string& name, const Value& subject, const CallArgs& args) {
  const auto it = filters().find(name);
  if (it == filters().end()) throw RenderFailure("No filter named " + python_string_repr(name) + ".");
  return it->second(subject, args);
}

}  // namespace slkv::jinja
