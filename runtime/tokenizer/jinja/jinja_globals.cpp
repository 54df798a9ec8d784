#include "runtime/tokenizer/jinja/jinja_globals.h"

#include <ctime>
#include <memory>

#include "runtime/tokenizer/jinja/jinja_access.h"
#include "runtime/tokenizer/jinja/jinja_arguments.h"
#include "runtime/tokenizer/jinja/jinja_error.h"

namespace slkv::jinja {
namespace {

constexpr int64_t kMaxRange = 100000;  // Jinja's sandbox MAX_RANGE

Value range_function(const CallArgs& args) {
  if (!args.keyword.empty()) throw RenderFailure("range() takes no keyword arguments");
  if (args.positional.empty() || args.positional.size() > 3)
    throw RenderFailure("range expected at most 3 arguments, got " + std::to_string(args.positional.size()));
  for (const Value& arg : args.positional) {
    require_defined(arg);
    if (!arg.is_integral())
      throw RenderFailure("'" + type_name(arg) + "' object cannot be interpreted as an integer");
  }
  int64_t start = 0, stop = 0, step = 1;
  if (args.positional.size() == 1) {
    stop = args.positional[0].as_int();
  } else {
    start = args.positional[0].as_int();
    stop = args.positional[1].as_int();
    if (args.positional.size() == 3) step = args.positional[2].as_int();
  }
  if (step == 0) throw RenderFailure("range() arg 3 must not be zero");
  std::vector<Value> items;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (static_cast<int64_t>(items.size()) == kMaxRange)
      throw RenderFailure("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    items.push_back(Value::integer(i));
  }
  return Value::list(std::move(items));
}

// Python's dict(*args, **kwargs): a mapping or pairs, then keywords.
Dict dict_from(const CallArgs& args, const std::string& callee) {
  if (args.positional.size() > 1)
    throw RenderFailure(callee + " expected at most 1 argument, got " + std::to_string(args.positional.size()));
  Dict dict;
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_dict()) {
      dict = source.as_dict();
    } else {
      size_t index = 0;
      for (const Value& pair : iterate(source)) {
        const std::vector<Value> parts = iterate(pair);
        if (parts.size() != 2)
          throw RenderFailure("dictionary update sequence element #" + std::to_string(index) + " has length " +
                              std::to_string(parts.size()) + "; 2 is required");
        if (!is_hashable(parts[0])) throw RenderFailure("unhashable type: '" + type_name(parts[0]) + "'");
        dict.set(parts[0], parts[1]);
        ++index;
      }
    }
  }
  for (const auto& [key, value] : args.keyword) dict.set(Value::string(key), value);
  return dict;
}

Value namespace_function(const CallArgs& args) {
  auto object = std::make_shared<Object>();
  object->type_name = "Namespace";
  object->qualified_name = "jinja2.utils.Namespace";
  object->assignable = true;
  for (const auto& [key, value] : dict_from(args, "namespace").entries) {
    if (!key.is_string()) throw RenderFailure("namespace() keywords must be strings");
    object->set(key.as_string(), value);
  }
  return Value::object(std::move(object));
}

}  // namespace

std::map<std::string, Value> default_globals() {
  return {
      {"range", Value::callable("range", range_function)},
      {"dict", Value::callable("dict", [](const CallArgs& args) { return Value::dict(dict_from(args, "dict")); })},
      {"namespace", Value::callable("namespace", namespace_function)},
  };
}

Value raise_exception_function() {
  return Value::callable("raise_exception", [](const CallArgs& args) -> Value {
    const auto a = bind_arguments("raise_exception", args, {{"message", {}, true}});
    throw RaisedFailure(to_str(a[0]));
  });
}

Value strftime_now_function() {
  return Value::callable("strftime_now", [](const CallArgs& args) {
    const auto a = bind_arguments("strftime_now", args, {{"format", {}, true}});
    if (!a[0].is_string()) throw RenderFailure("strftime() argument 1 must be str, not " + type_name(a[0]));
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    // strftime gives 0 both for an empty result and a too small buffer.
    for (size_t size = 256; size <= 65536; size *= 4) {
      std::string buffer(size, '\0');
      const size_t length = std::strftime(buffer.data(), buffer.size(), a[0].as_string().c_str(), &local);
      if (length > 0 || a[0].as_string().empty()) return Value::string(buffer.substr(0, length));
    }
    return Value::string("");
  });
}

}  // namespace slkv::jinja
