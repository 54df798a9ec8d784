#pragma once
// Reaching into values the way Jinja's sandbox does: `x.name`, `x[key]`,
// `x[a:b:c]`, iteration and calls.
//
// `x.name` tries a Python attribute (a method, a namespace or loop
// attribute) and then the item x['name']; `x[key]` tries the item and then,
// for a string key, the attribute. A miss gives Undefined with Jinja's hint
// ("'dict object' has no attribute 'content'", "list object has no element
// 3"); reaching into an Undefined is the error. Methods that would mutate a
// list or dict are refused as HF's ImmutableSandboxedEnvironment does.
#include <optional>
#include <string>
#include <vector>

#include "runtime/tokenizer/jinja/jinja_arguments.h"
#include "runtime/tokenizer/jinja/jinja_value.h"

namespace slkv::jinja {

// x.name
Value get_attribute(const Value& object, const std::string& name);
// x[key]
Value get_item(const Value& object, const Value& key);
// x[start:stop:step]; None means omitted.
Value get_slice(const Value& object, const Value& start, const Value& stop, const Value& step);
// Python's getattr only (the attr filter): methods and object attributes.
std::optional<Value> python_attribute(const Value& object, const std::string& name);

// Python's iter(): list items, dict keys, string characters; Undefined is
// empty; an iterator gives what it has left and is then exhausted.
std::vector<Value> iterate(const Value& value);
// len(), or a TypeError for values without one.
int64_t length(const Value& value);

// callee(*args): functions, methods and macros.
Value call_value(const Value& callee, const CallArgs& args);

}  // namespace slkv::jinja
