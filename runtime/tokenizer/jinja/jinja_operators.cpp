#include "runtime/tokenizer/jinja/jinja_operators.h"

#include <cmath>
#include <string>

#include "runtime/tokenizer/jinja/jinja_error.h"
#include "runtime/tokenizer/jinja/jinja_format.h"

namespace slkv::jinja {
namespace {

[[noreturn]] void unsupported(std::string_view op, const Value& left, const Value& right) {
  throw RenderFailure("unsupported operand type(s) for " + std::string(op) + ": '" + type_name(left) +
                      "' and '" + type_name(right) + "'");
}

[[noreturn]] void overflow() {
  throw RenderFailure("integer overflow (integers are 64-bit here, unlike Python's)");
}

int64_t checked_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) overflow();
  return r;
}

int64_t checked_sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) overflow();
  return r;
}

int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) overflow();
  return r;
}

// Python's float % (the result takes the divisor's sign).
double float_mod(double x, double y) {
  double mod = std::fmod(x, y);
  if (mod != 0.0) {
    if ((y < 0) != (mod < 0)) mod += y;
  } else {
    mod = std::copysign(0.0, y);
  }
  return mod;
}

// Python's float // (CPython's float_floor_div).
double float_floor_div(double x, double y) {
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0.0 && ((y < 0) != (mod < 0))) div -= 1.0;
  if (div == 0.0) return std::copysign(0.0, x / y);
  double floor_div = std::floor(div);
  if (div - floor_div > 0.5) floor_div += 1.0;
  return floor_div;
}

Value repeat(const Value& sequence, int64_t times) {
  if (sequence.is_string()) {
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += sequence.as_string();
    return Value::string(std::move(out));
  }
  std::vector<Value> out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), sequence.items().begin(), sequence.items().end());
  return Value::list(std::move(out), sequence.as_list().tuple);
}

Value add(const Value& left, const Value& right) {
  if (left.is_number() && right.is_number()) {
    if (left.is_float() || right.is_float()) return Value::number(left.as_float() + right.as_float());
    return Value::integer(checked_add(left.as_int(), right.as_int()));
  }
  if (left.is_string()) {
    if (!right.is_string())
      throw RenderFailure("can only concatenate str (not \"" + type_name(right) + "\") to str");
    return Value::string(left.as_string() + right.as_string());
  }
  if (left.is_list()) {
    const bool tuple = left.as_list().tuple;
    if (!right.is_list() || right.as_list().tuple != tuple) {
      const std::string kind = tuple ? "tuple" : "list";
      throw RenderFailure("can only concatenate " + kind + " (not \"" + type_name(right) + "\") to " + kind);
    }
    std::vector<Value> items = left.items();
    items.insert(items.end(), right.items().begin(), right.items().end());
    return Value::list(std::move(items), tuple);
  }
  unsupported("+", left, right);
}

Value multiply(const Value& left, const Value& right) {
  if (left.is_number() && right.is_number()) {
    if (left.is_float() || right.is_float()) return Value::number(left.as_float() * right.as_float());
    return Value::integer(checked_mul(left.as_int(), right.as_int()));
  }
  if ((left.is_string() || left.is_list()) && right.is_integral()) return repeat(left, right.as_int());
  if ((right.is_string() || right.is_list()) && left.is_integral()) return repeat(right, left.as_int());
  if (left.is_string() || left.is_list() || right.is_string() || right.is_list()) {
    const Value& count = left.is_string() || left.is_list() ? right : left;
    throw RenderFailure("can't multiply sequence by non-int of type '" + type_name(count) + "'");
  }
  unsupported("*", left, right);
}

Value power(const Value& left, const Value& right) {
  if (!left.is_number() || !right.is_number()) unsupported("** or pow()", left, right);
  if (left.is_integral() && right.is_integral() && right.as_int() >= 0) {
    int64_t base = left.as_int(), exponent = right.as_int(), result = 1;
    while (exponent > 0) {
      if (exponent & 1) result = checked_mul(result, base);
      exponent >>= 1;
      if (exponent > 0) base = checked_mul(base, base);
    }
    return Value::integer(result);
  }
  const double base = left.as_float(), exponent = right.as_float();
  if (base == 0.0 && exponent < 0) throw RenderFailure("0.0 cannot be raised to a negative power");
  if (base < 0 && exponent != std::floor(exponent))
    throw RenderFailure("a negative number to a fractional power gives a complex number (not supported)");
  return Value::number(std::pow(base, exponent));
}

Value divide(std::string_view op, const Value& left, const Value& right) {
  if (!left.is_number() || !right.is_number()) unsupported(op, left, right);
  const bool integers = left.is_integral() && right.is_integral();
  if (right.as_float() == 0.0) {
    if (op == "/") throw RenderFailure(integers ? "division by zero" : "float division by zero");
    if (integers) throw RenderFailure("integer division or modulo by zero");
    throw RenderFailure(op == "//" ? "float floor division by zero" : "float modulo");
  }
  if (op == "/") return Value::number(left.as_float() / right.as_float());
  if (integers) {
    const int64_t a = left.as_int(), b = right.as_int();
    if (a == INT64_MIN && b == -1) overflow();
    int64_t quotient = a / b, remainder = a % b;
    if (remainder != 0 && ((remainder < 0) != (b < 0))) {
      quotient -= 1;
      remainder += b;
    }
    return Value::integer(op == "//" ? quotient : remainder);
  }
  if (op == "//") return Value::number(float_floor_div(left.as_float(), right.as_float()));
  return Value::number(float_mod(left.as_float(), right.as_float()));
}

// -1, 0 or 1 for numbers, strings and same-kind sequences; TypeError otherwise.
int order(std::string_view op, const Value& left, const Value& right) {
  if (left.is_number() && right.is_number()) {
    if (left.is_float() || right.is_float()) {
      const double a = left.as_float(), b = right.as_float();
      return a < b ? -1 : (a > b ? 1 : 0);
    }
    const int64_t a = left.as_int(), b = right.as_int();
    return a < b ? -1 : (a > b ? 1 : 0);
  }
  if (left.is_string() && right.is_string()) {
    // UTF-8 byte order is code point order.
    const int c = left.as_string().compare(right.as_string());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (left.is_list() && right.is_list() && left.as_list().tuple == right.as_list().tuple) {
    const auto& a = left.items();
    const auto& b = right.items();
    for (size_t i = 0; i < a.size() && i < b.size(); ++i)
      if (!equals(a[i], b[i])) return order(op, a[i], b[i]);
    return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
  }
  throw RenderFailure("'" + std::string(op) + "' not supported between instances of '" + type_name(left) +
                      "' and '" + type_name(right) + "'");
}

}  // namespace

Value binary_operator(std::string_view op, const Value& left, const Value& right) {
  require_defined(left);
  require_defined(right);
  if (op == "+") return add(left, right);
  if (op == "*") return multiply(left, right);
  if (op == "**") return power(left, right);
  if (op == "%" && left.is_string()) return Value::string(printf_format(left.as_string(), right));
  if (op == "/" || op == "//" || op == "%") return divide(op, left, right);
  if (op == "-") {
    if (!left.is_number() || !right.is_number()) unsupported("-", left, right);
    if (left.is_float() || right.is_float()) return Value::number(left.as_float() - right.as_float());
    return Value::integer(checked_sub(left.as_int(), right.as_int()));
  }
  throw RenderFailure("unknown operator " + std::string(op));
}

Value unary_operator(std::string_view op, const Value& operand) {
  require_defined(operand);
  if (!operand.is_number())
    throw RenderFailure("bad operand type for unary " + std::string(op) + ": '" + type_name(operand) + "'");
  if (op == "+") return operand.is_float() ? operand : Value::integer(operand.as_int());
  if (operand.is_float()) return Value::number(-operand.as_float());
  return Value::integer(checked_sub(0, operand.as_int()));
}

bool compare(std::string_view op, const Value& left, const Value& right) {
  if (op == "==") return equals(left, right);
  if (op == "!=") return !equals(left, right);
  require_defined(left);
  require_defined(right);
  const int c = order(op, left, right);
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  if (op == ">=") return c >= 0;
  throw RenderFailure("unknown comparison " + std::string(op));
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::Undefined: return false;  // iterates as empty
    case Value::Kind::String:
      if (!item.is_string())
        throw RenderFailure("'in <string>' requires string as left operand, not " + type_name(item));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::List:
      for (const Value& element : container.items())
        if (equals(element, item)) return true;
      return false;
    case Value::Kind::Dict:
      if (!is_hashable(item)) throw RenderFailure("unhashable type: '" + type_name(item) + "'");
      return container.as_dict().find(item) != nullptr;
    case Value::Kind::Iterator: {
      // Python consumes the iterator up to the first match.
      IteratorState& state = container.as_iterator();
      while (state.next < state.items.size())
        if (equals(state.items[state.next++], item)) return true;
      return false;
    }
    default:
      throw RenderFailure("argument of type '" + type_name(container) + "' is not iterable");
  }
}

}  // namespace slkv::jinja
