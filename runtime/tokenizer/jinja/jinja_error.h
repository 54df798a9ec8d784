#pragma once
// The errors of the Jinja engine.
//
// TemplateError is what callers see: a parse or render problem, with a
// message naming the template, the line and what is wrong. raise_exception()
// in a template gives TemplateRaisedError, whose message is exactly the
// template's text (chat templates use it to refuse a conversation, and the
// Hugging Face golden files compare that text).
//
// Inside the engine, value operations (arithmetic, filters, methods) do not
// know the line they run on: they throw RenderFailure, which the interpreter
// turns into a TemplateError carrying the line of the innermost node.
#include <stdexcept>
#include <string>

#include "core/error.h"

namespace slkv::jinja {

class TemplateError : public Error {
 public:
  TemplateError(const std::string& template_name, int line, const std::string& detail)
      : Error(template_name + ", line " + std::to_string(line) + ": " + detail),
        line_(line),
        detail_(detail) {}

  int line() const { return line_; }
  // The message without the template name and line.
  const std::string& detail() const { return detail_; }

 protected:
  // For TemplateRaisedError: the message is taken verbatim.
  struct Verbatim {};
  TemplateError(Verbatim, const std::string& message, int line) : Error(message), line_(line), detail_(message) {}

 private:
  int line_;
  std::string detail_;
};

// raise_exception(message) called by the template: what() is the message.
class TemplateRaisedError : public TemplateError {
 public:
  TemplateRaisedError(const std::string& message, int line) : TemplateError(Verbatim{}, message, line) {}
};

// A failed value operation (an undefined value used, a type error, a bad
// filter argument): the message reads like the one Jinja/Python would give;
// the interpreter adds the template name and line.
class RenderFailure : public std::runtime_error {
 public:
  explicit RenderFailure(const std::string& message) : std::runtime_error(message) {}
};

// Thrown by raise_exception() before the line is known.
class RaisedFailure : public std::runtime_error {
 public:
  explicit RaisedFailure(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace slkv::jinja
