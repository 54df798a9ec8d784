#include "runtime/tokenizer/jinja/jinja_format.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "runtime/tokenizer/jinja/jinja_error.h"
#include "runtime/tokenizer/jinja/jinja_string.h"

namespace slkv::jinja {
namespace {

// printf of one number (Python's %-formatting of numbers is C's).
template <class Number>
std::string c_format(const std::string& spec, Number value) {
  const int length = std::snprintf(nullptr, 0, spec.c_str(), value);
  std::string out(static_cast<size_t>(std::max(length, 0)), '\0');
  std::snprintf(out.data(), out.size() + 1, spec.c_str(), value);
  return out;
}

// Pads `text` to `width` code points: left-aligned when `left`.
std::string pad(const std::string& text, int64_t width, bool left, char32_t fill = U' ') {
  const int64_t length = code_point_count(text);
  if (length >= width) return text;
  const std::string filler = from_code_points(std::u32string(static_cast<size_t>(width - length), fill));
  return left ? text + filler : filler + text;
}

std::string truncate(const std::string& text, int64_t precision) {
  if (precision < 0) return text;
  const std::u32string cps = to_code_points(text);
  if (static_cast<int64_t>(cps.size()) <= precision) return text;
  return from_code_points(std::u32string_view(cps).substr(0, static_cast<size_t>(precision)));
}

std::string format_char(const Value& value, const char* context) {
  if (value.is_string() && code_point_count(value.as_string()) == 1) return value.as_string();
  if (value.is_integral()) {
    const int64_t code = value.as_int();
    if (code < 0 || code > 0x10FFFF) throw RenderFailure(std::string(context) + " arg not in range(0x110000)");
    return from_code_points(std::u32string(1, static_cast<char32_t>(code)));
  }
  throw RenderFailure(std::string(context) + " requires int or char");
}

// One printf conversion of `value`.
std::string printf_convert(char type, const std::string& flags, int64_t width, int64_t precision,
                           const Value& value) {
  const bool left = flags.find('-') != std::string::npos;
  switch (type) {
    case 's': return pad(truncate(to_str(value), precision), width, left);
    case 'r':
    case 'a': return pad(truncate(repr(value), precision), width, left);
    case 'c': return pad(format_char(value, "%c"), width, left);
    default: break;
  }
  if (!value.is_number()) {
    const bool integer_only = type == 'x' || type == 'X' || type == 'o';
    throw RenderFailure(std::string("%") + type + " format: " +
                        (integer_only ? "an integer" : "a real number") + " is required, not " + type_name(value));
  }
  std::string spec = "%" + flags;
  if (width >= 0) spec += std::to_string(width);
  if (precision >= 0) spec += "." + std::to_string(precision);
  switch (type) {
    case 'd':
    case 'i':
    case 'u': {
      // %d truncates a float toward zero.
      const long long integer =
          value.is_float() ? static_cast<long long>(std::trunc(value.as_float())) : static_cast<long long>(value.as_int());
      return c_format(spec + "lld", integer);
    }
    case 'x':
    case 'X':
    case 'o': {
      if (value.is_float())
        throw RenderFailure(std::string("%") + type + " format: an integer is required, not float");
      const long long integer = value.as_int();
      // C prints negative numbers as two's complement; Python prints a sign.
      std::string digits_spec = "%";
      if (precision >= 0) digits_spec += "." + std::to_string(precision);
      digits_spec += type == 'X' ? "llX" : (type == 'x' ? "llx" : "llo");
      const unsigned long long magnitude =
          integer < 0 ? 0ULL - static_cast<unsigned long long>(integer) : static_cast<unsigned long long>(integer);
      std::string digits = c_format(digits_spec, magnitude);
      if (flags.find('#') != std::string::npos) digits = std::string("0") + (type == 'o' ? 'o' : type) + digits;
      std::string sign;
      if (integer < 0) {
        sign = "-";
      } else if (flags.find('+') != std::string::npos) {
        sign = "+";
      } else if (flags.find(' ') != std::string::npos) {
        sign = " ";
      }
      std::string body = sign + digits;
      if (width > static_cast<int64_t>(body.size())) {
        if (left) return pad(body, width, true);
        if (flags.find('0') != std::string::npos) {
          const size_t prefix = sign.size() + (flags.find('#') != std::string::npos ? 2 : 0);
          body.insert(prefix, std::string(static_cast<size_t>(width) - body.size(), '0'));
          return body;
        }
        return pad(body, width, false);
      }
      return body;
    }
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': return c_format(spec + type, value.as_float());
    default: throw RenderFailure(std::string("unsupported format character '") + type + "'");
  }
}

}  // namespace

std::string printf_format(const std::string& format, const Value& arguments) {
  std::vector<Value> positional;
  if (arguments.is_list() && arguments.as_list().tuple) {
    positional = arguments.items();
  } else if (!arguments.is_dict()) {
    positional.push_back(arguments);
  }
  size_t next = 0;
  bool used_mapping = false;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    if (++i >= format.size()) throw RenderFailure("incomplete format");
    const Value* value = nullptr;
    if (format[i] == '(') {
      const size_t close = format.find(')', i);
      if (close == std::string::npos) throw RenderFailure("incomplete format key");
      if (!arguments.is_dict()) throw RenderFailure("format requires a mapping");
      value = arguments.as_dict().find(Value::string(format.substr(i + 1, close - i - 1)));
      if (!value) throw RenderFailure("KeyError: " + python_string_repr(format.substr(i + 1, close - i - 1)));
      used_mapping = true;
      i = close + 1;
    }
    std::string flags;
    while (i < format.size() && std::string("-+ #0").find(format[i]) != std::string::npos) flags += format[i++];
    int64_t width = -1, precision = -1;
    if (i < format.size() && format[i] == '*') throw RenderFailure("'*' widths are not supported");
    while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i])))
      width = std::max<int64_t>(width, 0) * 10 + (format[i++] - '0');
    if (i < format.size() && format[i] == '.') {
      precision = 0;
      ++i;
      while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i])))
        precision = precision * 10 + (format[i++] - '0');
    }
    if (i >= format.size()) throw RenderFailure("incomplete format");
    const char type = format[i];
    if (type == '%') {
      out += '%';
      continue;
    }
    if (!value) {
      if (arguments.is_dict() && !used_mapping && positional.empty()) {
        value = &arguments;  // '%s' % {'a': 1} formats the dict itself
        positional.push_back(arguments);
        next = 1;
      } else {
        if (next >= positional.size()) throw RenderFailure("not enough arguments for format string");
        value = &positional[next++];
      }
    }
    out += printf_convert(type, flags, width, precision, *value);
  }
  if (!arguments.is_dict() && next < positional.size())
    throw RenderFailure("not all arguments converted during string formatting");
  return out;
}

namespace {

struct FormatSpec {
  char32_t fill = U' ';
  char align = 0;  // '<', '>', '^', '=' or 0 (the type's default)
  char sign = '-';
  bool alternate = false;
  bool zero = false;
  int64_t width = -1;
  bool grouping = false;
  int64_t precision = -1;
  char type = 0;
};

FormatSpec parse_spec(const std::string& text) {
  FormatSpec spec;
  const std::u32string cps = to_code_points(text);
  size_t i = 0;
  const auto is_align = [](char32_t c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (cps.size() >= 2 && is_align(cps[1])) {
    spec.fill = cps[0];
    spec.align = static_cast<char>(cps[1]);
    i = 2;
  } else if (!cps.empty() && is_align(cps[0])) {
    spec.align = static_cast<char>(cps[0]);
    i = 1;
  }
  if (i < cps.size() && (cps[i] == '+' || cps[i] == '-' || cps[i] == ' ')) spec.sign = static_cast<char>(cps[i++]);
  if (i < cps.size() && cps[i] == '#') spec.alternate = true, ++i;
  if (i < cps.size() && cps[i] == '0') spec.zero = true, ++i;
  while (i < cps.size() && cps[i] >= '0' && cps[i] <= '9') spec.width = std::max<int64_t>(spec.width, 0) * 10 + (cps[i++] - '0');
  if (i < cps.size() && cps[i] == ',') spec.grouping = true, ++i;
  if (i < cps.size() && cps[i] == '.') {
    spec.precision = 0;
    ++i;
    while (i < cps.size() && cps[i] >= '0' && cps[i] <= '9') spec.precision = spec.precision * 10 + (cps[i++] - '0');
  }
  if (i < cps.size()) spec.type = static_cast<char>(cps[i++]);
  if (i != cps.size()) throw RenderFailure("Invalid format specifier '" + text + "'");
  return spec;
}

std::string group_thousands(const std::string& digits) {
  std::string out;
  const size_t start = digits.find_first_of("0123456789");
  if (start == std::string::npos) return digits;
  size_t end = digits.find_first_not_of("0123456789", start);
  if (end == std::string::npos) end = digits.size();
  for (size_t i = start; i < end; ++i) {
    if (i > start && (end - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return digits.substr(0, start) + out + digits.substr(end);
}

std::string apply_width(std::string body, const FormatSpec& spec, char default_align) {
  const int64_t length = code_point_count(body);
  if (spec.width <= length) return body;
  const char align = spec.align ? spec.align : (spec.zero ? '=' : default_align);
  const char32_t fill = spec.align ? spec.fill : (spec.zero ? U'0' : U' ');
  const size_t missing = static_cast<size_t>(spec.width - length);
  const std::string filler = from_code_points(std::u32string(missing, fill));
  if (align == '<') return body + filler;
  if (align == '>') return filler + body;
  if (align == '^') {
    const size_t before = missing / 2;
    return from_code_points(std::u32string(before, fill)) + body + from_code_points(std::u32string(missing - before, fill));
  }
  // '=': the padding goes after the sign.
  const size_t sign = !body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ') ? 1 : 0;
  return body.substr(0, sign) + filler + body.substr(sign);
}

std::string format_value(const Value& value, const std::string& spec_text) {
  const FormatSpec spec = parse_spec(spec_text);
  if (value.is_string()) {
    if (spec.type != 0 && spec.type != 's')
      throw RenderFailure(std::string("Unknown format code '") + spec.type + "' for object of type 'str'");
    return apply_width(truncate(value.as_string(), spec.precision), spec, '<');
  }
  if (!value.is_number()) {
    // object.__format__ accepts only an empty spec.
    if (spec_text.empty()) return to_str(value);
    throw RenderFailure("unsupported format string passed to " + type_name(value) + ".__format__");
  }
  const std::string sign_flag = spec.sign == '+' ? "+" : (spec.sign == ' ' ? " " : "");
  const char type = spec.type;
  if (value.is_integral() && (type == 0 || type == 'd' || type == 'n' || type == 'x' || type == 'X' ||
                               type == 'o' || type == 'b' || type == 'c')) {
    if (value.is_bool() && spec_text.empty()) return to_str(value);
    if (type == 'c') return apply_width(format_char(value, "%c"), spec, '<');
    const long long integer = value.as_int();
    const unsigned long long magnitude = integer < 0 ? 0ULL - static_cast<unsigned long long>(integer) : integer;
    std::string digits;
    if (type == 'b') {
      for (unsigned long long m = magnitude; m; m >>= 1) digits.insert(digits.begin(), static_cast<char>('0' + (m & 1)));
      if (digits.empty()) digits = "0";
    } else {
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, type == 'x' ? "%llx" : (type == 'X' ? "%llX" : (type == 'o' ? "%llo" : "%llu")), magnitude);
      digits = buffer;
    }
    if (spec.grouping) digits = group_thousands(digits);
    if (spec.alternate && (type == 'x' || type == 'X' || type == 'o' || type == 'b'))
      digits = std::string("0") + type + digits;
    return apply_width((integer < 0 ? "-" : sign_flag) + digits, spec, '>');
  }
  if (type != 0 && std::string("fFeEgG%").find(type) == std::string::npos)
    throw RenderFailure(std::string("Unknown format code '") + type + "' for object of type '" + type_name(value) + "'");
  const double number = value.as_float();
  std::string body;
  if (type == 0 && spec.precision < 0) {
    body = python_float_repr(number);
    if (sign_flag.size() && number >= 0) body = sign_flag + body;
  } else {
    const int64_t precision = spec.precision < 0 ? 6 : spec.precision;
    const char c_type = type == 0 ? 'g' : (type == '%' ? 'f' : type);
    const double shown = type == '%' ? number * 100 : number;
    body = c_format("%" + sign_flag + (spec.alternate ? "#" : "") + "." + std::to_string(precision) + c_type, shown);
    if (type == '%') body += '%';
  }
  if (spec.grouping) body = group_thousands(body);
  return apply_width(body, spec, '>');
}

}  // namespace

std::string str_format(const std::string& format, const CallArgs& args) {
  std::string out;
  size_t automatic = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      throw RenderFailure("Single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = format.find('}', i);
    if (close == std::string::npos) throw RenderFailure("Single '{' encountered in format string");
    std::string field = format.substr(i + 1, close - i - 1);
    i = close;
    std::string spec;
    if (const size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    char conversion = 0;
    if (const size_t bang = field.find('!'); bang != std::string::npos) {
      if (bang + 2 != field.size()) throw RenderFailure("expected ':' after conversion specifier");
      conversion = field[bang + 1];
      field.resize(bang);
    }
    if (field.find_first_of(".[") != std::string::npos)
      throw RenderFailure("format fields with attribute or index access are not supported: '" + field + "'");
    const Value* value = nullptr;
    if (field.empty() || std::isdigit(static_cast<unsigned char>(field[0]))) {
      const size_t index = field.empty() ? automatic++ : std::stoul(field);
      if (index >= args.positional.size())
        throw RenderFailure("Replacement index " + std::to_string(index) + " out of range for positional args tuple");
      value = &args.positional[index];
    } else {
      for (const auto& [key, item] : args.keyword)
        if (key == field) value = &item;
      if (!value) throw RenderFailure("KeyError: " + python_string_repr(field));
    }
    Value shown = *value;
    if (conversion == 's') shown = Value::string(to_str(*value));
    else if (conversion == 'r' || conversion == 'a') shown = Value::string(repr(*value));
    else if (conversion != 0) throw RenderFailure(std::string("Unknown conversion specifier ") + conversion);
    out += format_value(shown, spec);
  }
  return out;
}

}  // namespace slkv::jinja
