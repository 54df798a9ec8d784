#pragma once
// The Jinja lexer: template text to tokens, with Jinja's whitespace control.
//
// Text outside tags becomes Data tokens; `{{ ... }}` and `{% ... %}` become
// Begin/End tokens around expression tokens; `{# ... #}` disappears and
// `{% raw %}...{% endraw %}` becomes Data. Whitespace control follows
// Jinja's lexer exactly:
//  * `{%-`, `{{-`, `{#-` strip all whitespace before the tag; `-%}`, `-}}`,
//    `-#}` strip all whitespace after it;
//  * trim_blocks: the first newline after a block or comment tag is removed
//    (`+%}` keeps it);
//  * lstrip_blocks: spaces and tabs between the start of a line and a block
//    or comment tag are removed (`{%+` keeps them); not for `{{`;
//  * newlines are normalised to \n and one trailing newline of the template
//    is dropped unless keep_trailing_newline.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slkv::jinja {

enum class TokenType {
  Data,           // text outside tags
  VariableBegin,  // {{
  VariableEnd,    // }}
  BlockBegin,     // {%
  BlockEnd,       // %}
  Name,
  String,   // value: the unescaped text
  Integer,  // integer
  Float,    // number
  Operator,  // value: the operator, e.g. "==", "(", "|"
  Eof,
};

struct Token {
  TokenType type = TokenType::Eof;
  std::string value;
  int line = 1;
  int64_t integer = 0;
  double number = 0.0;
};

struct LexerOptions {
  bool trim_blocks = false;
  bool lstrip_blocks = false;
  bool keep_trailing_newline = false;
};

// Throws TemplateError (naming `template_name` and the line) for an
// unterminated comment or raw block, a stray character or unbalanced
// brackets inside a tag.
std::vector<Token> tokenize(std::string_view source, const LexerOptions& options,
                            const std::string& template_name);

// What Jinja calls a token in error messages: a name's text, an operator,
// or the kind ("end of statement block", "end of template").
std::string describe_token(const Token& token);

}  // namespace slkv::jinja
