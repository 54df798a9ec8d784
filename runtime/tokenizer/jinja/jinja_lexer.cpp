#include "runtime/tokenizer/jinja/jinja_lexer.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <optional>

#include "runtime/tokenizer/jinja/jinja_error.h"
#include "runtime/tokenizer/jinja/jinja_string.h"
#include "runtime/tokenizer/jinja/jinja_value.h"
#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv::jinja {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<uint8_t>(c) >= 0x80;
}
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Longest first, as Jinja's operator regex.
constexpr std::string_view kOperators[] = {"**", "//", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~",
                                           "[",  "]",  "(",  ")",  "{",  "}",  ">", "<", "=", ".", ":", "|",
                                           ",",  ";"};

std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  return out;
}

// Python's unicode-escape decoding, which Jinja applies to string literals.
std::string unescape(std::string_view body, const std::function<void(const std::string&)>& fail) {
  std::u32string out;
  const std::u32string cps = to_code_points(body);
  const auto hex_escape = [&](size_t& i, int digits, char kind) {
    uint32_t value = 0;
    for (int d = 0; d < digits; ++d) {
      const size_t at = i + 1 + static_cast<size_t>(d);
      const char32_t c = at < cps.size() ? cps[at] : 0;
      int v = -1;
      if (c >= '0' && c <= '9') v = static_cast<int>(c - '0');
      if (c >= 'a' && c <= 'f') v = static_cast<int>(c - 'a' + 10);
      if (c >= 'A' && c <= 'F') v = static_cast<int>(c - 'A' + 10);
      if (v < 0) fail(std::string("truncated \\") + kind + std::string(static_cast<size_t>(digits), 'X') + " escape in a string");
      value = value * 16 + static_cast<uint32_t>(v);
    }
    if (value > 0x10FFFF) fail("illegal Unicode character in a string escape");
    i += static_cast<size_t>(digits);
    return static_cast<char32_t>(value);
  };
  for (size_t i = 0; i < cps.size(); ++i) {
    if (cps[i] != '\\' || i + 1 == cps.size()) {
      out += cps[i];
      continue;
    }
    const char32_t c = cps[++i];
    switch (c) {
      case '\n': break;  // a line continuation
      case '\\': out += U'\\'; break;
      case '\'': out += U'\''; break;
      case '"': out += U'"'; break;
      case 'a': out += U'\a'; break;
      case 'b': out += U'\b'; break;
      case 'f': out += U'\f'; break;
      case 'n': out += U'\n'; break;
      case 'r': out += U'\r'; break;
      case 't': out += U'\t'; break;
      case 'v': out += U'\v'; break;
      case 'x': out += hex_escape(i, 2, 'x'); break;
      case 'u': out += hex_escape(i, 4, 'u'); break;
      case 'U': out += hex_escape(i, 8, 'U'); break;
      case 'N': fail("\\N{...} escapes are not supported"); break;
      default:
        if (c >= '0' && c <= '7') {
          uint32_t value = c - '0';
          for (int d = 0; d < 2 && i + 1 < cps.size() && cps[i + 1] >= '0' && cps[i + 1] <= '7'; ++d)
            value = value * 8 + (cps[++i] - '0');
          out += static_cast<char32_t>(value);
        } else {
          out += U'\\';  // unknown escapes keep their backslash
          out += c;
        }
    }
  }
  return from_code_points(out);
}

class Lexer {
 public:
  Lexer(std::string_view source, const LexerOptions& options, const std::string& name)
      : options_(options), name_(name) {
    source_ = normalize_newlines(source);
    if (!options.keep_trailing_newline && !source_.empty() && source_.back() == '\n') source_.pop_back();
    for (size_t i = 0; i < source_.size(); ++i)
      if (source_[i] == '\n') newlines_.push_back(i);
  }

  std::vector<Token> run() {
    while (pos_ < source_.size()) {
      const size_t start = find_tag_start(pos_);
      if (start == std::string::npos) {
        emit(TokenType::Data, source_.substr(pos_), pos_);
        pos_ = source_.size();
        break;
      }
      const char kind = source_[start + 1];
      size_t after = start + 2;
      char sign = 0;
      if (after < source_.size() && (source_[after] == '-' || source_[after] == '+')) sign = source_[after++];
      const std::optional<size_t> raw_end = kind == '%' ? raw_begin_end(after) : std::nullopt;

      std::string text = source_.substr(pos_, start - pos_);
      strip_before_tag(text, sign, /*is_variable=*/kind == '{');
      if (!text.empty()) emit(TokenType::Data, text, pos_);
      pos_ = after;

      if (raw_end) {
        pos_ = *raw_end;
        line_starting_ = source_[pos_ - 1] == '\n';
        lex_raw(start);
      } else if (kind == '#') {
        lex_comment(start);
      } else {
        lex_tag(kind == '{' ? TokenType::VariableBegin : TokenType::BlockBegin, start);
      }
    }
    // Jinja reports the end of the template on the line of the last token.
    emit(TokenType::Eof, "", 0);
    if (tokens_.size() > 1) tokens_.back().line = tokens_[tokens_.size() - 2].line;
    return std::move(tokens_);
  }

 private:
  int line_at(size_t offset) const {
    return 1 + static_cast<int>(std::lower_bound(newlines_.begin(), newlines_.end(), offset) - newlines_.begin());
  }

  [[noreturn]] void fail(const std::string& message, size_t offset) const {
    throw TemplateError(name_, line_at(offset), message);
  }

  void emit(TokenType type, std::string value, size_t offset) {
    Token token;
    token.type = type;
    token.value = std::move(value);
    token.line = line_at(offset);
    tokens_.push_back(std::move(token));
  }

  bool starts_with(size_t pos, std::string_view text) const {
    return source_.compare(pos, text.size(), text) == 0;
  }

  size_t find_tag_start(size_t from) const {
    for (size_t i = source_.find('{', from); i != std::string::npos; i = source_.find('{', i + 1)) {
      if (i + 1 < source_.size() && (source_[i + 1] == '{' || source_[i + 1] == '%' || source_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  // Past the whitespace (Python's \s) at `pos`.
  size_t skip_whitespace(size_t pos) const {
    while (pos < source_.size()) {
      const Utf8Char c = decode_utf8(source_, pos);
      if (c.status != Utf8Char::Status::Complete || !is_python_space(c.code_point)) break;
      pos += c.length;
    }
    return pos;
  }

  // Jinja's OptionalLStrip: whitespace control on the text before a tag.
  void strip_before_tag(std::string& text, char sign, bool is_variable) const {
    if (sign == '-') {
      text = py_strip(text, std::nullopt, false, true);
    } else if (sign != '+' && options_.lstrip_blocks && !is_variable) {
      const size_t newline = text.rfind('\n');
      const size_t line_start = newline == std::string::npos ? 0 : newline + 1;
      if ((line_start > 0 || line_starting_) &&
          text.find_first_not_of(" \t", line_start) == std::string::npos)
        text.resize(line_start);
    }
  }

  // `{% raw %}` (any sign, any spacing): the end of the opening tag.
  std::optional<size_t> raw_begin_end(size_t after_sign) const {
    size_t p = skip_whitespace(after_sign);
    if (!starts_with(p, "raw")) return std::nullopt;
    p = skip_whitespace(p + 3);
    if (starts_with(p, "-%}")) return skip_whitespace(p + 3);
    if (starts_with(p, "%}")) return p + 2;
    return std::nullopt;
  }

  void lex_raw(size_t tag_start) {
    for (size_t open = source_.find("{%", pos_); open != std::string::npos; open = source_.find("{%", open + 1)) {
      size_t p = open + 2;
      char sign = 0;
      if (p < source_.size() && (source_[p] == '-' || source_[p] == '+')) sign = source_[p++];
      p = skip_whitespace(p);
      if (!starts_with(p, "endraw")) continue;
      p = skip_whitespace(p + 6);
      size_t end;
      if (starts_with(p, "+%}")) {
        end = p + 3;
      } else if (starts_with(p, "-%}")) {
        end = skip_whitespace(p + 3);
      } else if (starts_with(p, "%}")) {
        end = p + 2;
        if (options_.trim_blocks && end < source_.size() && source_[end] == '\n') ++end;
      } else {
        continue;
      }
      std::string text = source_.substr(pos_, open - pos_);
      strip_before_tag(text, sign, false);
      if (!text.empty()) emit(TokenType::Data, text, pos_);
      pos_ = end;
      line_starting_ = source_[end - 1] == '\n';
      return;
    }
    fail("Missing end of raw directive", tag_start);
  }

  void lex_comment(size_t tag_start) {
    const size_t body = pos_;
    const size_t close = source_.find("#}", body);
    if (close == std::string::npos) fail("Missing end of comment tag", tag_start);
    const char sign = close > body ? source_[close - 1] : 0;
    pos_ = close + 2;
    if (sign == '-') {
      pos_ = skip_whitespace(pos_);
    } else if (sign != '+' && options_.trim_blocks && pos_ < source_.size() && source_[pos_] == '\n') {
      ++pos_;
    }
    line_starting_ = source_[pos_ - 1] == '\n';
  }

  // Consumes the end of a tag at pos_ when it is there.
  bool lex_tag_end(bool block) {
    size_t end = 0;
    if (block) {
      if (starts_with(pos_, "+%}")) {
        end = pos_ + 3;
      } else if (starts_with(pos_, "-%}")) {
        end = skip_whitespace(pos_ + 3);
      } else if (starts_with(pos_, "%}")) {
        end = pos_ + 2;
        if (options_.trim_blocks && end < source_.size() && source_[end] == '\n') ++end;
      }
    } else {
      if (starts_with(pos_, "-}}")) {
        end = skip_whitespace(pos_ + 3);
      } else if (starts_with(pos_, "}}")) {
        end = pos_ + 2;
      }
    }
    if (!end) return false;
    emit(block ? TokenType::BlockEnd : TokenType::VariableEnd, "", pos_);
    pos_ = end;
    line_starting_ = source_[end - 1] == '\n';
    return true;
  }

  void lex_tag(TokenType begin, size_t tag_start) {
    const bool block = begin == TokenType::BlockBegin;
    emit(begin, "", tag_start);
    std::vector<char> closers;  // brackets opened inside the tag
    while (pos_ < source_.size()) {
      // An end tag inside open brackets is an operator (e.g. a dict's "}}").
      if (closers.empty() && lex_tag_end(block)) return;
      const char c = source_[pos_];
      const size_t after_space = skip_whitespace(pos_);
      if (after_space != pos_) {
        pos_ = after_space;
      } else if (is_digit(c)) {
        lex_number();
      } else if (is_name_start(c)) {
        size_t end = pos_;
        while (end < source_.size() && is_name_char(source_[end])) ++end;
        emit(TokenType::Name, source_.substr(pos_, end - pos_), pos_);
        pos_ = end;
      } else if (c == '\'' || c == '"') {
        lex_string();
      } else {
        lex_operator(closers);
      }
    }
    // End of template inside a tag: the parser reports what it expected.
  }

  void lex_string() {
    const char quote = source_[pos_];
    size_t p = pos_ + 1;
    while (p < source_.size() && source_[p] != quote) p += source_[p] == '\\' ? 2 : 1;
    if (p >= source_.size()) fail(std::string("unexpected char ") + python_string_repr(std::string(1, quote)) + " at " + std::to_string(pos_), pos_);
    const size_t start = pos_;
    std::string value = unescape(std::string_view(source_).substr(pos_ + 1, p - pos_ - 1),
                                 [&](const std::string& message) { fail(message, start); });
    emit(TokenType::String, std::move(value), pos_);
    pos_ = p + 1;
  }

  void lex_operator(std::vector<char>& closers) {
    for (const std::string_view op : kOperators) {
      if (!starts_with(pos_, op)) continue;
      const char c = op[0];
      if (op.size() == 1 && (c == '(' || c == '[' || c == '{')) {
        closers.push_back(c == '(' ? ')' : (c == '[' ? ']' : '}'));
      } else if (op.size() == 1 && (c == ')' || c == ']' || c == '}')) {
        if (closers.empty()) fail(std::string("unexpected '") + c + "'", pos_);
        if (closers.back() != c) fail(std::string("unexpected '") + c + "', expected '" + closers.back() + "'", pos_);
        closers.pop_back();
      }
      emit(TokenType::Operator, std::string(op), pos_);
      pos_ += op.size();
      return;
    }
    const Utf8Char c = decode_utf8(source_, pos_);
    fail("unexpected char " + python_string_repr(source_.substr(pos_, c.length)) + " at " + std::to_string(pos_), pos_);
  }

  // (\d+_)*\d+ at p: its end, or npos.
  size_t digit_run(size_t p) const {
    if (p >= source_.size() || !is_digit(source_[p])) return std::string::npos;
    while (true) {
      while (p < source_.size() && is_digit(source_[p])) ++p;
      if (p + 1 < source_.size() && source_[p] == '_' && is_digit(source_[p + 1])) {
        ++p;
        continue;
      }
      return p;
    }
  }

  // Jinja's float and integer patterns, float first.
  void lex_number() {
    const size_t start = pos_;
    const auto clean = [&](size_t end) {
      std::string text = source_.substr(start, end - start);
      text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
      return text;
    };
    if (start == 0 || source_[start - 1] != '.') {
      const size_t whole = digit_run(start);
      size_t fraction_end = std::string::npos;
      if (whole < source_.size() && source_[whole] == '.') fraction_end = digit_run(whole + 1);
      const size_t mantissa_end = fraction_end != std::string::npos ? fraction_end : whole;
      size_t end = std::string::npos;
      if (mantissa_end < source_.size() && (source_[mantissa_end] == 'e' || source_[mantissa_end] == 'E')) {
        size_t p = mantissa_end + 1;
        if (p < source_.size() && (source_[p] == '+' || source_[p] == '-')) ++p;
        end = digit_run(p);
      }
      if (end == std::string::npos) end = fraction_end;
      if (end != std::string::npos) {
        Token token;
        token.type = TokenType::Float;
        token.value = source_.substr(start, end - start);
        token.number = std::strtod(clean(end).c_str(), nullptr);
        token.line = line_at(start);
        tokens_.push_back(std::move(token));
        pos_ = end;
        return;
      }
    }
    int base = 10;
    size_t digits = start;
    size_t end = start + 1;
    const char prefix = start + 1 < source_.size() ? static_cast<char>(source_[start + 1] | 0x20) : 0;
    const auto based_run = [&](size_t p, int b) {
      const auto ok = [&](char ch) {
        const char lower = static_cast<char>(ch | 0x20);
        if (b == 2) return ch == '0' || ch == '1';
        if (b == 8) return ch >= '0' && ch <= '7';
        return is_digit(ch) || (lower >= 'a' && lower <= 'f');
      };
      size_t q = p;
      while (true) {
        size_t r = q < source_.size() && source_[q] == '_' ? q + 1 : q;
        if (r < source_.size() && ok(source_[r])) {
          q = r + 1;
        } else {
          return q;
        }
      }
    };
    if (source_[start] == '0' && (prefix == 'b' || prefix == 'o' || prefix == 'x')) {
      base = prefix == 'b' ? 2 : (prefix == 'o' ? 8 : 16);
      end = based_run(start + 2, base);
      if (end == start + 2) {  // "0x" alone: just the 0
        base = 10;
        end = start + 1;
      } else {
        digits = start + 2;
      }
    } else if (source_[start] == '0') {
      while (true) {  // 0(_?0)*
        const size_t r = end < source_.size() && source_[end] == '_' ? end + 1 : end;
        if (r < source_.size() && source_[r] == '0') {
          end = r + 1;
        } else {
          break;
        }
      }
    } else {
      end = digit_run(start);
    }
    std::string text = source_.substr(digits, end - digits);
    text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
    errno = 0;
    char* stop = nullptr;
    const long long value = std::strtoll(text.c_str(), &stop, base);
    if (errno == ERANGE) fail("integer literal too large: " + source_.substr(start, end - start), start);
    Token token;
    token.type = TokenType::Integer;
    token.value = source_.substr(start, end - start);
    token.integer = value;
    token.line = line_at(start);
    tokens_.push_back(std::move(token));
    pos_ = end;
  }

  LexerOptions options_;
  std::string name_;
  std::string source_;
  std::vector<size_t> newlines_;
  size_t pos_ = 0;
  bool line_starting_ = true;  // the last consumed text ended a line
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexerOptions& options, const std::string& template_name) {
  return Lexer(source, options, template_name).run();
}

std::string describe_token(const Token& token) {
  switch (token.type) {
    case TokenType::Name:
    case TokenType::Operator: return token.value;
    case TokenType::Data: return "template data / text";
    case TokenType::VariableBegin: return "begin of print statement";
    case TokenType::VariableEnd: return "end of print statement";
    case TokenType::BlockBegin: return "begin of statement block";
    case TokenType::BlockEnd: return "end of statement block";
    case TokenType::String: return "string";
    case TokenType::Integer: return "integer";
    case TokenType::Float: return "float";
    case TokenType::Eof: return "end of template";
  }
  return "token";
}

}  // namespace slkv::jinja
