#pragma once
// Python's operators on Values: arithmetic (+ - * / // % **), unary minus
// and plus, comparisons and `in`, with Python's results and TypeErrors.
// An undefined operand is an UndefinedError, as in Jinja (only ==, != and
// `in` accept one).
#include <string_view>

#include "runtime/tokenizer/jinja/jinja_value.h"

namespace slkv::jinja {

// op: "+", "-", "*", "/", "//", "%", "**".
Value binary_operator(std::string_view op, const Value& left, const Value& right);
// op: "-" or "+".
Value unary_operator(std::string_view op, const Value& operand);
// op: "==", "!=", "<", "<=", ">", ">=".
bool compare(std::string_view op, const Value& left, const Value& right);
// Python's `item in container`.
bool contains(const Value& container, const Value& item);

}  // namespace slkv::jinja
