#pragma once
// The functions a template can call by name.
//
// Jinja's defaults: range() (a list here, capped at 100000 items as in the
// sandbox), dict(...) and namespace(...). Hugging Face transformers adds
// raise_exception(message) (stops rendering with exactly that message) and
// strftime_now(format) (the local time); chat templates get those two from
// ChatTemplate, other templates only when the caller passes them.
#include <map>
#include <string>

#include "runtime/tokenizer/jinja/jinja_value.h"

namespace slkv::jinja {

std::map<std::string, Value> default_globals();

Value raise_exception_function();
Value strftime_now_function();

}  // namespace slkv::jinja
