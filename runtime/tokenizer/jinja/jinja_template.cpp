#include "runtime/tokenizer/jinja/jinja_template.h"

#include "runtime/tokenizer/jinja/jinja_globals.h"
#include "runtime/tokenizer/jinja/jinja_interpreter.h"
#include "runtime/tokenizer/jinja/jinja_lexer.h"
#include "runtime/tokenizer/jinja/jinja_parser.h"

namespace slkv::jinja {

Template::Template(std::string_view source, TemplateOptions options) : name_(std::move(options.name)) {
  const LexerOptions lexer_options{options.trim_blocks, options.lstrip_blocks, options.keep_trailing_newline};
  body_ = std::make_shared<const Body>(parse_template(tokenize(source, lexer_options, name_), name_));
}

std::string Template::render(const std::map<std::string, Value>& variables) const {
  std::map<std::string, Value> all = default_globals();
  for (const auto& [name, value] : variables) all[name] = value;
  return render_template(*body_, all, name_);
}

}  // namespace slkv::jinja
