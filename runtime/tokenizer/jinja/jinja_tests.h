#pragma once
// Jinja's tests (`x is defined`, `x is not none`, `n is divisibleby 3`, ...):
// boolean callable defined divisibleby eq/equalto/== escaped even false
// filter float ge/>= gt/greaterthan/> in integer iterable le/<= lower
// lt/lessthan/< mapping ne/!= none number odd sameas sequence string test
// true undefined upper.
#include <string>

#include "runtime/tokenizer/jinja/jinja_arguments.h"
#include "runtime/tokenizer/jinja/jinja_value.h"

namespace slkv::jinja {

bool has_test(const std::string& name);
// Throws RenderFailure for an unknown test or bad arguments.
bool apply_test(const std::string& name, const Value& subject, const CallArgs& args);

}  // namespace slkv::jinja
