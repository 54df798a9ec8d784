#include "runtime/tokenizer/jinja/jinja_arguments.h"

#include "runtime/tokenizer/jinja/jinja_error.h"

namespace slkv::jinja {

std::vector<Value> bind_arguments(std::string_view callee, const CallArgs& args,
                                  const std::vector<Parameter>& parameters) {
  const std::string name(callee);
  if (args.positional.size() > parameters.size()) {
    throw RenderFailure(name + "() takes at most " + std::to_string(parameters.size()) + " argument(s) (" +
                        std::to_string(args.positional.size()) + " given)");
  }
  std::vector<Value> bound(parameters.size());
  std::vector<bool> given(parameters.size(), false);
  for (size_t i = 0; i < args.positional.size(); ++i) {
    bound[i] = args.positional[i];
    given[i] = true;
  }
  for (const auto& [key, value] : args.keyword) {
    size_t index = 0;
    while (index < parameters.size() && parameters[index].name != key) ++index;
    if (index == parameters.size())
      throw RenderFailure(name + "() got an unexpected keyword argument '" + key + "'");
    if (given[index]) throw RenderFailure(name + "() got multiple values for argument '" + key + "'");
    bound[index] = value;
    given[index] = true;
  }
  for (size_t i = 0; i < parameters.size(); ++i) {
    if (given[i]) continue;
    if (parameters[i].required)
      throw RenderFailure(name + "() missing required argument '" + parameters[i].name + "'");
    bound[i] = parameters[i].fallback;
  }
  return bound;
}

}  // namespace slkv::jinja
