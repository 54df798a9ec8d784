#pragma once
// The arguments of a call (function, method, filter, test, macro) and their
// binding to a Python-style signature.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/tokenizer/jinja/jinja_value.h"

namespace slkv::jinja {

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

struct Parameter {
  std::string name;
  Value fallback;         // the default when not required
  bool required = false;
};

// Binds `args` to `parameters` as Python would (positional first, then by
// keyword) and returns one value per parameter. Throws RenderFailure naming
// `callee` for too many arguments, an unknown or repeated keyword, or a
// missing required one.
std::vector<Value> bind_arguments(std::string_view callee, const CallArgs& args,
                                  const std::vector<Parameter>& parameters);

}  // namespace slkv::jinja
