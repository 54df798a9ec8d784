#pragma once
// Jinja's filters (`x | name(args)`), with Jinja 3.1's behaviour, except
// `tojson`, which is Hugging Face transformers' (json.dumps with
// ensure_ascii=False, no HTML escaping, optional indent / separators /
// sort_keys).
//
// Supported: abs attr batch capitalize center count d default dictsort e
// escape first float format indent int items join last length list lower
// map max min reject rejectattr replace reverse round safe select
// selectattr sort string striptags sum title tojson trim unique upper
// wordcount. `map`, `select`, `reject`, `selectattr`, `rejectattr`,
// `unique`, `items`, `batch` and `reverse` return one-shot iterators, as
// Jinja's generators. Not supported: groupby, slice, truncate, wordwrap,
// urlize, urlencode, xmlattr, filesizeformat, pprint, random, forceescape.
// Strings are plain text: `safe` and `escape` do not make Markup objects.
#include <string>

#include "runtime/tokenizer/jinja/jinja_arguments.h"
#include "runtime/tokenizer/jinja/jinja_value.h"

namespace slkv::jinja {

bool has_filter(const std::string& name);
// Throws RenderFailure for an unknown filter or bad arguments.
Value apply_filter(const std::string& name, const Value& subject, const CallArgs& args);

}  // namespace slkv::jinja
