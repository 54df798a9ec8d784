#pragma once
// The Jinja parser: tokens to a syntax tree, following Jinja's grammar and
// operator precedence (lowest first: `x if c else y`, or, and, not,
// comparisons and `in`, + -, ~, * / // %, **, unary - +, then filters `|f`,
// tests `is t`, calls, `.attr` and `[item]` / `[a:b:c]`).
//
// Statements: if/elif/else, for (with `if` filter, else, loop unpacking),
// set (expression, block, namespace attribute), macro, call, filter, with,
// break/continue, print and transformers' generation block. Unknown filters
// and tests are errors here, as Jinja reports them when compiling.
#include <string>
#include <vector>

#include "runtime/tokenizer/jinja/jinja_ast.h"
#include "runtime/tokenizer/jinja/jinja_lexer.h"

namespace slkv::jinja {

// Throws TemplateError naming `template_name` and the line.
Body parse_template(const std::vector<Token>& tokens, const std::string& template_name);

}  // namespace slkv::jinja
