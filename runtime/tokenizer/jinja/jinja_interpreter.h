#pragma once
// The Jinja interpreter: renders a parsed template.
//
// Scoping follows Jinja: `set` writes the innermost scope; each iteration of
// a for loop, a macro call, a `with`, `filter` or block `set` body gets its
// own scope, so assignments there do not leak out (an `if` does not make a
// scope); namespace() attributes are how state crosses them. Macros see the
// scope they were defined in, as it is when they are called.
#include <map>
#include <string>

#include "runtime/tokenizer/jinja/jinja_ast.h"
#include "runtime/tokenizer/jinja/jinja_value.h"

namespace slkv::jinja {

// Renders `body` with `variables` as the outermost scope (the globals
// included). Throws TemplateError naming `template_name` and the line, or
// TemplateRaisedError for raise_exception().
std::string render_template(const Body& body, const std::map<std::string, Value>& variables,
                            const std::string& template_name);

}  // namespace slkv::jinja
