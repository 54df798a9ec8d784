#pragma once
// Needle in a haystack as gkamradt's LLMTest_NeedleInAHaystack builds it,
// counted in the model's own tokens: the essays concatenated (repeated when
// short), cut to the context budget, the needle inserted at a depth and
// moved back to a sentence end, the text wrapped in the chat template with
// the original's system message and question. The original scores with a
// GPT-4 judge we cannot run; needle_score is the word-recall rule that open
// re-implementations use instead.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "runtime/tokenizer/chat_template.h"
#include "runtime/tokenizer/tokenizer.h"

namespace slkv {

// The original's defaults.
extern const char* const kNeedleText;
extern const char* const kNeedleQuestion;
extern const char* const kNeedleAnswer;
extern const char* const kNeedleSystem;

// The *.txt files of `dir` sorted by name, license files (LICENSE*) left
// out. Throws slkv::Error when `dir` is not a directory or has no essay.
std::vector<std::filesystem::path> haystack_files(const std::filesystem::path& dir);

// The files' texts concatenated (again from the first while too short) until
// they encode (no special tokens) to at least `min_tokens` ids; those ids.
std::vector<int32_t> haystack_tokens(const std::vector<std::filesystem::path>& files, const Tokenizer& tokenizer,
                                     int64_t min_tokens);

// The ids whose decoded text ends with '.' (special tokens aside): where a
// sentence ends, in this tokenizer.
std::vector<int32_t> sentence_end_ids(const Tokenizer& tokenizer);

// The original's insert_needle on a context already cut to size: depth 100
// appends the needle; otherwise the point int(size * depth / 100) moves back
// until the id before it is a sentence end (or to the start).
std::vector<int32_t> insert_needle(std::span<const int32_t> context, std::span<const int32_t> needle, double depth,
                                   std::span<const int32_t> sentence_ends);

// 0..100: the share of the answer's words found among the prediction's
// words (both lowercased, ASCII punctuation removed, split on whitespace).
double needle_score(const std::string& prediction, const std::string& answer);
// The words needle_score compares.
std::vector<std::string> score_words(const std::string& text);

// The grid's default axes: 8 lengths evenly from 1/8 of (context -
// generation) to context - generation (when 1/8 does not exceed the fixed
// prompt part, from an eighth of the room past it); depths 0, 10, ..., 100.
std::vector<int64_t> default_needle_lengths(int64_t context, int64_t max_new_tokens, int64_t fixed_tokens);
std::vector<double> default_needle_depths();

// Builds the prompt of one cell from the haystack's ids.
class NeedlePrompts {
 public:
  NeedlePrompts(const Tokenizer& tokenizer, const ChatTemplate& chat_template, const std::string& needle,
                std::string question);

  // Prompt ids with an empty haystack: template, system message, question
  // and needle. A length must exceed it.
  int64_t fixed_tokens() const { return fixed_tokens_; }

  // The prompt whose haystack part is the first `context_tokens` ids.
  std::vector<int32_t> with_context(std::span<const int32_t> haystack, int64_t context_tokens, double depth) const;
  // The prompt of `length` tokens: the haystack budget is adjusted until
  // the whole prompt (decoded, templated, re-encoded) has exactly `length`
  // ids, else the closest below it. Throws slkv::Error when `length` does
  // not exceed fixed_tokens().
  std::vector<int32_t> build(std::span<const int32_t> haystack, int64_t length, double depth) const;

 private:
  std::vector<int32_t> render(const std::string& context) const;

  const Tokenizer& tokenizer_;
  const ChatTemplate& chat_template_;
  std::vector<int32_t> needle_;
  std::vector<int32_t> sentence_ends_;
  std::string question_;
  int64_t fixed_tokens_ = 0;
};

}  // namespace slkv
