#pragma once
// DecodeStream: the state of one decoding pass, shared by Tokenizer::decode
// and IncrementalDecoder (kept apart from tokenizer_decoder.h so that
// tokenizer.h stays free of JSON headers).
#include <cstddef>
#include <string>

namespace slkv {

struct DecodeStream {
  std::string pending;      // bytes not yet emitted (an incomplete character)
  bool first_token = true;  // no token decoded yet
  size_t strip_left = 0;    // leading characters of the text still to strip
};

}  // namespace slkv
