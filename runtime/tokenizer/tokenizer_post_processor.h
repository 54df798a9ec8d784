#pragma once
// PostProcessor: what encode(text, add_special_tokens=true) puts around the
// ids, from tokenizer.json "post_processor": TemplateProcessing (its "single"
// template), RobertaProcessing / BertProcessing (cls ... sep), ByteLevel
// (nothing), Sequence of those, or null (nothing).
#include <cstdint>
#include <vector>

#include "runtime/tokenizer/tokenizer_json.h"

namespace slkv {

struct PostProcessor {
  std::vector<int32_t> prefix;  // ids before the text (e.g. BOS)
  std::vector<int32_t> suffix;  // ids after it (e.g. EOS)

  static PostProcessor from_json(const Json& value, const JsonPath& path);
};

}  // namespace slkv
