#include "runtime/tokenizer/jinja/jinja_access.h"

#include "runtime/tokenizer/jinja/jinja_error.h"
#include "runtime/tokenizer/jinja/jinja_methods.h"
#include "runtime/tokenizer/jinja/jinja_string.h"

namespace slkv::jinja {
namespace {

Value missing_attribute(const Value& object, const std::string& name) {
  return Value::undefined(python_string_repr(object_type_repr(object)) + " has no attribute " +
                          python_string_repr(name));
}

Value missing_element(const Value& object, const std::string& key_repr) {
  return Value::undefined(object_type_repr(object) + " has no element " + key_repr);
}

std::optional<int64_t> slice_bound(const Value& bound) {
  if (bound.is_none()) return std::nullopt;
  if (!bound.is_integral())
    throw RenderFailure("slice indices must be integers or None or have an __index__ method");
  return bound.as_int();
}

// Python's PySlice_AdjustIndices followed by the walk over the indices.
std::vector<size_t> slice_indices(int64_t length, const Value& start_value, const Value& stop_value,
                                  const Value& step_value) {
  const std::optional<int64_t> step_given = slice_bound(step_value);
  const int64_t step = step_given.value_or(1);
  if (step == 0) throw RenderFailure("slice step cannot be zero");
  const int64_t lower = step < 0 ? -1 : 0;
  const int64_t upper = step < 0 ? length - 1 : length;
  const auto adjust = [&](std::optional<int64_t> index, int64_t fallback) {
    if (!index) return fallback;
    int64_t i = *index;
    if (i < 0) {
      i += length;
      if (i < lower) i = lower;
    } else if (i > upper) {
      i = upper;
    }
    return i;
  };
  const int64_t start = adjust(slice_bound(start_value), step < 0 ? upper : lower);
  const int64_t stop = adjust(slice_bound(stop_value), step < 0 ? lower : upper);
  std::vector<size_t> indices;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) indices.push_back(static_cast<size_t>(i));
  return indices;
}

std::string slice_repr(const Value& start, const Value& stop, const Value& step) {
  const auto part = [](const Value& v) { return repr(v); };
  return "slice(" + part(start) + ", " + part(stop) + ", " + part(step) + ")";
}

}  // namespace

std::optional<Value> python_attribute(const Value& object, const std::string& name) {
  if (object.is_object()) {
    if (const Value* value = object.as_object().find(name)) return *value;
    return std::nullopt;
  }
  return find_method(object, name);
}

Value get_attribute(const Value& object, const std::string& name) {
  require_defined(object);
  if (std::optional<Value> attribute = python_attribute(object, name)) return *attribute;
  if (object.is_dict()) {
    if (const Value* value = object.as_dict().find(Value::string(name))) return *value;
  }
  return missing_attribute(object, name);
}

Value get_item(const Value& object, const Value& key) {
  require_defined(object);
  if (object.is_dict() && is_hashable(key)) {
    if (const Value* value = object.as_dict().find(key)) return *value;
  } else if (object.is_list() && key.is_integral()) {
    const auto& items = object.items();
    int64_t index = key.as_int();
    if (index < 0) index += static_cast<int64_t>(items.size());
    if (index >= 0 && index < static_cast<int64_t>(items.size())) return items[static_cast<size_t>(index)];
  } else if (object.is_string() && key.is_integral()) {
    const std::u32string cps = to_code_points(object.as_string());
    int64_t index = key.as_int();
    if (index < 0) index += static_cast<int64_t>(cps.size());
    if (index >= 0 && index < static_cast<int64_t>(cps.size()))
      return Value::string(from_code_points(std::u32string_view(cps).substr(static_cast<size_t>(index), 1)));
  }
  if (key.is_string()) {
    if (std::optional<Value> attribute = python_attribute(object, key.as_string())) return *attribute;
    return missing_attribute(object, key.as_string());
  }
  return missing_element(object, repr(key));
}

Value get_slice(const Value& object, const Value& start, const Value& stop, const Value& step) {
  require_defined(object);
  if (object.is_list()) {
    const auto& items = object.items();
    std::vector<Value> out;
    for (const size_t i : slice_indices(static_cast<int64_t>(items.size()), start, stop, step)) out.push_back(items[i]);
    return Value::list(std::move(out), object.as_list().tuple);
  }
  if (object.is_string()) {
    const std::u32string cps = to_code_points(object.as_string());
    std::u32string out;
    for (const size_t i : slice_indices(static_cast<int64_t>(cps.size()), start, stop, step)) out += cps[i];
    return Value::string(from_code_points(out));
  }
  // Not sliceable: Jinja turns the TypeError into an Undefined.
  return missing_element(object, slice_repr(start, stop, step));
}

std::vector<Value> iterate(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined: return {};
    case Value::Kind::List: return value.items();
    case Value::Kind::Dict: {
      std::vector<Value> keys;
      for (const auto& entry : value.as_dict().entries) keys.push_back(entry.first);
      return keys;
    }
    case Value::Kind::String: {
      std::vector<Value> characters;
      for (const char32_t c : to_code_points(value.as_string()))
        characters.push_back(Value::string(from_code_points(std::u32string_view(&c, 1))));
      return characters;
    }
    case Value::Kind::Iterator: {
      IteratorState& state = value.as_iterator();
      std::vector<Value> rest(state.items.begin() + static_cast<std::ptrdiff_t>(state.next), state.items.end());
      state.next = state.items.size();
      return rest;
    }
    default: throw RenderFailure("'" + type_name(value) + "' object is not iterable");
  }
}

int64_t length(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined: return 0;
    case Value::Kind::String: return code_point_count(value.as_string());
    case Value::Kind::List: return static_cast<int64_t>(value.items().size());
    case Value::Kind::Dict: return static_cast<int64_t>(value.as_dict().entries.size());
    default: throw RenderFailure("object of type '" + type_name(value) + "' has no len()");
  }
}

Value call_value(const Value& callee, const CallArgs& args) {
  require_defined(callee);
  if (!callee.is_callable()) throw RenderFailure("'" + type_name(callee) + "' object is not callable");
  return callee.as_callable().call(args);
}

}  // namespace slkv::jinja
