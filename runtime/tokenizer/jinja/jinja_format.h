#pragma once
// Python string formatting: printf-style (`'%s: %d' % (a, b)` and the
// `format` filter) and str.format ('{} and {name}'.format(...)).
//
// printf-style: conversions s r a d i u f F e E g G x X o c and %%, with
// flags (- + space # 0), width, precision and %(key)s mapping keys; `*`
// widths are not supported. str.format: automatic, numbered and named fields
// (no .attribute or [index] inside a field), !s / !r / !a conversions and
// format specs [[fill]align][sign][#][0][width][,][.precision][type] for
// strings, ints and floats.
#include <string>

#include "runtime/tokenizer/jinja/jinja_arguments.h"
#include "runtime/tokenizer/jinja/jinja_value.h"

namespace slkv::jinja {

// format % arguments: a tuple gives several arguments, a dict gives the
// %(key)s values, anything else is the only argument.
std::string printf_format(const std::string& format, const Value& arguments);

// format.format(*args, **kwargs).
std::string str_format(const std::string& format, const CallArgs& args);

}  // namespace slkv::jinja
