#pragma once
// Template: a Jinja2 template parsed once, rendered many times.
//
// This is the engine's entry point: lexer -> parser -> interpreter. It
// implements the subset of Jinja2 that Hugging Face chat templates use,
// with Python semantics for values (see jinja_value.h), Jinja's whitespace
// control (jinja_lexer.h), statements and expressions (jinja_parser.h),
// filters (jinja_filters.h), tests (jinja_tests.h), methods
// (jinja_methods.h) and globals (jinja_globals.h). Not supported: template
// inheritance and inclusion (extends, block, include, import), recursive
// for loops, autoescaping / Markup, and the filters listed in
// jinja_filters.h.
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/tokenizer/jinja/jinja_ast.h"
#include "runtime/tokenizer/jinja/jinja_value.h"

namespace slkv::jinja {

struct TemplateOptions {
  // Jinja's defaults; Hugging Face chat templates use trim_blocks and
  // lstrip_blocks (see ChatTemplate).
  bool trim_blocks = false;
  bool lstrip_blocks = false;
  bool keep_trailing_newline = false;
  std::string name = "template";  // how errors name the template
};

class Template {
 public:
  // Parses `source`; throws TemplateError (name, line, what is wrong).
  explicit Template(std::string_view source, TemplateOptions options = {});

  // Renders with `variables` on top of the default globals (range, dict,
  // namespace). Throws TemplateError, or TemplateRaisedError for
  // raise_exception().
  std::string render(const std::map<std::string, Value>& variables) const;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::shared_ptr<const Body> body_;
};

}  // namespace slkv::jinja
