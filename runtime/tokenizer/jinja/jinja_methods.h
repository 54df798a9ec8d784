#pragma once
// The Python methods templates call on strings, dicts and lists
// (content.strip(), message.get('x'), text.split('</think>'), ...), as bound
// callables.
//
// str: strip lstrip rstrip split rsplit splitlines startswith endswith upper
// lower title capitalize replace find rfind index count join format center
// ljust rjust isdigit isalpha isalnum isspace isupper islower.
// dict: items keys values get copy. list/tuple: index count copy.
// Mutating methods (list.append, dict.update, ...) give an Undefined whose
// use is the sandbox's "access to attribute ... is unsafe" error.
#include <optional>
#include <string>

#include "runtime/tokenizer/jinja/jinja_value.h"

namespace slkv::jinja {

// The method `name` of `receiver` bound to it, or nullopt when it has none.
std::optional<Value> find_method(const Value& receiver, const std::string& name);

}  // namespace slkv::jinja
