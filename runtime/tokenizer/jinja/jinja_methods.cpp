#include "runtime/tokenizer/jinja/jinja_methods.h"

#include <functional>
#include <map>

#include "runtime/tokenizer/jinja/jinja_access.h"
#include "runtime/tokenizer/jinja/jinja_arguments.h"
#include "runtime/tokenizer/jinja/jinja_error.h"
#include "runtime/tokenizer/jinja/jinja_format.h"
#include "runtime/tokenizer/jinja/jinja_string.h"

namespace slkv::jinja {
namespace {

using Method = std::function<Value(const Value& self, const CallArgs& args)>;

Value bind(const Value& receiver, const std::string& name, const Method& method) {
  return Value::callable(name + " of " + type_name(receiver) + " object",
                         [receiver, method](const CallArgs& args) { return method(receiver, args); });
}

std::optional<std::string> optional_string(const Value& value, const std::string& what) {
  if (value.is_none()) return std::nullopt;
  if (!value.is_string()) throw RenderFailure(what + " arg must be None or str");
  return value.as_string();
}

int64_t integer_argument(const Value& value, const std::string& what) {
  if (!value.is_integral())
    throw RenderFailure("'" + type_name(value) + "' object cannot be interpreted as an integer (" + what + ")");
  return value.as_int();
}

std::optional<int64_t> optional_index(const Value& value) {
  if (value.is_none()) return std::nullopt;
  if (!value.is_integral()) throw RenderFailure("slice indices must be integers or None or have an __index__ method");
  return value.as_int();
}

Value string_list(const std::vector<std::string>& parts) {
  std::vector<Value> items;
  for (const std::string& part : parts) items.push_back(Value::string(part));
  return Value::list(std::move(items));
}

// text[start:end] by code point, as startswith/endswith see it.
std::string window(const std::string& text, const Value& start, const Value& end) {
  if (start.is_none() && end.is_none()) return text;
  return to_str(get_slice(Value::string(text), start, end, Value::none()));
}

Value affix_test(const Value& self, const CallArgs& args, bool prefix) {
  const std::string name = prefix ? "startswith" : "endswith";
  const auto a = bind_arguments(name, args, {{"prefix", {}, true}, {"start", Value::none()}, {"end", Value::none()}});
  const std::string text = window(self.as_string(), a[1], a[2]);
  std::vector<Value> candidates;
  if (a[0].is_list() && a[0].as_list().tuple) {
    candidates = a[0].items();
  } else if (a[0].is_string()) {
    candidates.push_back(a[0]);
  } else {
    throw RenderFailure(name + " first arg must be str or a tuple of str, not " + type_name(a[0]));
  }
  for (const Value& candidate : candidates) {
    if (!candidate.is_string())
      throw RenderFailure("tuple for " + name + " must only contain str, not " + type_name(candidate));
    const std::string& affix = candidate.as_string();
    if (affix.size() > text.size()) continue;
    if (prefix ? text.compare(0, affix.size(), affix) == 0
               : text.compare(text.size() - affix.size(), affix.size(), affix) == 0)
      return Value::boolean(true);
  }
  return Value::boolean(false);
}

Value justify(const Value& self, const CallArgs& args, const std::string& name) {
  const auto a = bind_arguments(name, args, {{"width", {}, true}, {"fillchar", Value::string(" ")}});
  const int64_t width = integer_argument(a[0], name);
  if (!a[1].is_string() || code_point_count(a[1].as_string()) != 1)
    throw RenderFailure("The fill character must be exactly one character long");
  const std::u32string text = to_code_points(self.as_string());
  const int64_t missing = width - static_cast<int64_t>(text.size());
  if (missing <= 0) return self;
  const char32_t fill = to_code_points(a[1].as_string())[0];
  int64_t left = 0;
  if (name == "rjust") left = missing;
  // CPython's str.center puts the odd space on the left when width is odd.
  if (name == "center") left = missing / 2 + (missing & width & 1);
  return Value::string(from_code_points(std::u32string(static_cast<size_t>(left), fill) + text +
                                        std::u32string(static_cast<size_t>(missing - left), fill)));
}

Value string_transform(const Value& self, const CallArgs& args, const std::string& name,
                       std::string (*transform)(std::string_view)) {
  bind_arguments(name, args, {});
  return Value::string(transform(self.as_string()));
}

Value string_predicate(const Value& self, const CallArgs& args, const std::string& name,
                       bool (*predicate)(std::string_view)) {
  bind_arguments(name, args, {});
  return Value::boolean(predicate(self.as_string()));
}

const std::map<std::string, Method>& string_methods() {
  static const std::map<std::string, Method> methods = {
      {"strip", [](const Value& s, const CallArgs& args) {
         const auto a = bind_arguments("strip", args, {{"chars", Value::none()}});
         return Value::string(py_strip(s.as_string(), optional_string(a[0], "strip"), true, true));
       }},
      {"lstrip", [](const Value& s, const CallArgs& args) {
         const auto a = bind_arguments("lstrip", args, {{"chars", Value::none()}});
         return Value::string(py_strip(s.as_string(), optional_string(a[0], "lstrip"), true, false));
       }},
      {"rstrip", [](const Value& s, const CallArgs& args) {
         const auto a = bind_arguments("rstrip", args, {{"chars", Value::none()}});
         return Value::string(py_strip(s.as_string(), optional_string(a[0], "rstrip"), false, true));
       }},
      {"split", [](const Value& s, const CallArgs& args) {
         const auto a = bind_arguments("split", args, {{"sep", Value::none()}, {"maxsplit", Value::integer(-1)}});
         return string_list(py_split(s.as_string(), optional_string(a[0], "split"), integer_argument(a[1], "maxsplit"), false));
       }},
      {"rsplit", [](const Value& s, const CallArgs& args) {
         const auto a = bind_arguments("rsplit", args, {{"sep", Value::none()}, {"maxsplit", Value::integer(-1)}});
         return string_list(py_split(s.as_string(), optional_string(a[0], "rsplit"), integer_argument(a[1], "maxsplit"), true));
       }},
      {"splitlines", [](const Value& s, const CallArgs& args) {
         const auto a = bind_arguments("splitlines", args, {{"keepends", Value::boolean(false)}});
         return string_list(py_splitlines(s.as_string(), truthy(a[0])));
       }},
      {"startswith", [](const Value& s, const CallArgs& args) { return affix_test(s, args, true); }},
      {"endswith", [](const Value& s, const CallArgs& args) { return affix_test(s, args, false); }},
      {"upper", [](const Value& s, const CallArgs& args) { return string_transform(s, args, "upper", py_upper); }},
      {"lower", [](const Value& s, const CallArgs& args) { return string_transform(s, args, "lower", py_lower); }},
      {"title", [](const Value& s, const CallArgs& args) { return string_transform(s, args, "title", py_title); }},
      {"capitalize", [](const Value& s, const CallArgs& args) { return string_transform(s, args, "capitalize", py_capitalize); }},
      {"replace", [](const Value& s, const CallArgs& args) {
         const auto a = bind_arguments("replace", args, {{"old", {}, true}, {"new", {}, true}, {"count", Value::integer(-1)}});
         if (!a[0].is_string() || !a[1].is_string())
           throw RenderFailure("replace() argument must be str, not " + type_name(a[0].is_string() ? a[1] : a[0]));
         return Value::string(py_replace(s.as_string(), a[0].as_string(), a[1].as_string(), integer_argument(a[2], "count")));
       }},
      {"find", [](const Value& s, const CallArgs& args) {
         const auto a = bind_arguments("find", args, {{"sub", {}, true}, {"start", Value::none()}, {"end", Value::none()}});
         if (!a[0].is_string()) throw RenderFailure("must be str, not " + type_name(a[0]));
         return Value::integer(py_find(s.as_string(), a[0].as_string(), optional_index(a[1]), optional_index(a[2]), false));
       }},
      {"rfind", [](const Value& s, const CallArgs& args) {
         const auto a = bind_arguments("rfind", args, {{"sub", {}, true}, {"start", Value::none()}, {"end", Value::none()}});
         if (!a[0].is_string()) throw RenderFailure("must be str, not " + type_name(a[0]));
         return Value::integer(py_find(s.as_string(), a[0].as_string(), optional_index(a[1]), optional_index(a[2]), true));
       }},
      {"index", [](const Value& s, const CallArgs& args) {
         const auto a = bind_arguments("index", args, {{"sub", {}, true}, {"start", Value::none()}, {"end", Value::none()}});
         if (!a[0].is_string()) throw RenderFailure("must be str, not " + type_name(a[0]));
         const int64_t at = py_find(s.as_string(), a[0].as_string(), optional_index(a[1]), optional_index(a[2]), false);
         if (at < 0) throw RenderFailure("substring not found");
         return Value::integer(at);
       }},
      {"count", [](const Value& s, const CallArgs& args) {
         const auto a = bind_arguments("count", args, {{"sub", {}, true}});
         if (!a[0].is_string()) throw RenderFailure("must be str, not " + type_name(a[0]));
         return Value::integer(py_count(s.as_string(), a[0].as_string()));
       }},
      {"join", [](const Value& s, const CallArgs& args) {
         const auto a = bind_arguments("join", args, {{"iterable", {}, true}});
         std::string out;
         const std::vector<Value> items = iterate(a[0]);
         for (size_t i = 0; i < items.size(); ++i) {
           if (!items[i].is_string())
             throw RenderFailure("sequence item " + std::to_string(i) + ": expected str instance, " + type_name(items[i]) + " found");
           if (i) out += s.as_string();
           out += items[i].as_string();
         }
         return Value::string(std::move(out));
       }},
      {"format", [](const Value& s, const CallArgs& args) { return Value::string(str_format(s.as_string(), args)); }},
      {"center", [](const Value& s, const CallArgs& args) { return justify(s, args, "center"); }},
      {"ljust", [](const Value& s, const CallArgs& args) { return justify(s, args, "ljust"); }},
      {"rjust", [](const Value& s, const CallArgs& args) { return justify(s, args, "rjust"); }},
      {"isdigit", [](const Value& s, const CallArgs& args) { return string_predicate(s, args, "isdigit", py_isdigit); }},
      {"isalpha", [](const Value& s, const CallArgs& args) { return string_predicate(s, args, "isalpha", py_isalpha); }},
      {"isalnum", [](const Value& s, const CallArgs& args) { return string_predicate(s, args, "isalnum", py_isalnum); }},
      {"isspace", [](const Value& s, const CallArgs& args) { return string_predicate(s, args, "isspace", py_isspace); }},
      {"isupper", [](const Value& s, const CallArgs& args) { return string_predicate(s, args, "isupper", py_isupper); }},
      {"islower", [](const Value& s, const CallArgs& args) { return string_predicate(s, args, "islower", py_islower); }},
  };
  return methods;
}

const std::map<std::string, Method>& dict_methods() {
  static const std::map<std::string, Method> methods = {
      {"items", [](const Value& d, const CallArgs& args) {
         bind_arguments("items", args, {});
         std::vector<Value> pairs;
         for (const auto& [key, value] : d.as_dict().entries) pairs.push_back(Value::list({key, value}, true));
         return Value::list(std::move(pairs));
       }},
      {"keys", [](const Value& d, const CallArgs& args) {
         bind_arguments("keys", args, {});
         return Value::list(iterate(d));
       }},
      {"values", [](const Value& d, const CallArgs& args) {
         bind_arguments("values", args, {});
         std::vector<Value> values;
         for (const auto& entry : d.as_dict().entries) values.push_back(entry.second);
         return Value::list(std::move(values));
       }},
      {"get", [](const Value& d, const CallArgs& args) {
         const auto a = bind_arguments("get", args, {{"key", {}, true}, {"default", Value::none()}});
         if (!is_hashable(a[0])) throw RenderFailure("unhashable type: '" + type_name(a[0]) + "'");
         const Value* value = d.as_dict().find(a[0]);
         return value ? *value : a[1];
       }},
      {"copy", [](const Value& d, const CallArgs& args) {
         bind_arguments("copy", args, {});
         return Value::dict(d.as_dict());
       }},
  };
  return methods;
}

const std::map<std::string, Method>& list_methods() {
  static const std::map<std::string, Method> methods = {
      {"index", [](const Value& l, const CallArgs& args) {
         const auto a = bind_arguments("index", args, {{"value", {}, true}});
         const auto& items = l.items();
         for (size_t i = 0; i < items.size(); ++i)
           if (equals(items[i], a[0])) return Value::integer(static_cast<int64_t>(i));
         throw RenderFailure(l.as_list().tuple ? "tuple.index(x): x not in tuple" : repr(a[0]) + " is not in list");
       }},
      {"count", [](const Value& l, const CallArgs& args) {
         const auto a = bind_arguments("count", args, {{"value", {}, true}});
         int64_t count = 0;
         for (const Value& item : l.items()) count += equals(item, a[0]) ? 1 : 0;
         return Value::integer(count);
       }},
      {"copy", [](const Value& l, const CallArgs& args) {
         bind_arguments("copy", args, {});
         return Value::list(l.items(), l.as_list().tuple);
       }},
  };
  return methods;
}

bool is_mutating(const Value& receiver, const std::string& name) {
  static const char* const list_mutators[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};
  static const char* const dict_mutators[] = {"clear", "pop", "popitem", "setdefault", "update"};
  if (receiver.is_list() && !receiver.as_list().tuple) {
    for (const char* m : list_mutators)
      if (name == m) return true;
  }
  if (receiver.is_dict()) {
    for (const char* m : dict_mutators)
      if (name == m) return true;
  }
  return false;
}

}  // namespace

std::optional<Value> find_method(const Value& receiver, const std::string& name) {
  if (is_mutating(receiver, name)) {
    return Value::undefined("access to attribute " + python_string_repr(name) + " of " +
                            python_string_repr(type_name(receiver)) + " object is unsafe.");
  }
  const std::map<std::string, Method>* methods = nullptr;
  if (receiver.is_string()) methods = &string_methods();
  if (receiver.is_dict()) methods = &dict_methods();
  if (receiver.is_list()) methods = &list_methods();
  if (!methods) return std::nullopt;
  const auto it = methods->find(name);
  if (it == methods->end()) return std::nullopt;
  return bind(receiver, name, it->second);
}

}  // namespace slkv::jinja
