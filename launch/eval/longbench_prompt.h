#pragma once
// LongBench v1's prompt protocol (THUDM/LongBench pred.py): a row's fields
// go into the task's dataset2prompt.json pattern; the tokenized prompt is cut
// in the middle to the length budget (the start and the end carry the
// instructions); it is wrapped in the model's chat template except for the
// few-shot and code-completion tasks; generation is greedy, of the task's
// dataset2maxlen.json tokens.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runtime/tokenizer/chat_template.h"
#include "runtime/tokenizer/tokenizer.h"

namespace slkv {

// "hotpotqa_e" (a LongBench-E file) -> "hotpotqa"; other names unchanged.
std::string longbench_base_task(const std::string& dataset);

// Python's str.format(**row) for the named fields the patterns use:
// "{context}" is the row's "context" string, "{{" and "}}" are braces.
// Throws slkv::Error naming `where` for a field the row lacks (or that is
// not a string) and for a lone brace.
std::string format_longbench_prompt(const std::string& pattern, const nlohmann::json& row, const std::string& where);

// The first max_length / 2 ids and the last max_length - max_length / 2:
// exactly max_length ids (the ids unchanged when they fit).
std::vector<int32_t> truncate_middle(const std::vector<int32_t>& ids, int64_t max_length);

// False for trec, triviaqa, samsum, lsht, lcc and repobench-p (and their
// _e files): pred.py feeds them raw, as chat models do better on them so.
bool longbench_uses_chat_template(const std::string& dataset);

// The prompt budget and generation length of a task on a model.
struct LongBenchLengths {
  int64_t max_length = 0;      // prompt tokens before chat wrapping
  int64_t max_new_tokens = 0;  // generated tokens at most
  bool generation_cut = false; // the task's length was cut to a quarter of the context
};
// Default (max_length_flag empty): the context minus the generation length
// minus the chat wrapping's own tokens (wrap_tokens). When that leaves less
// than half the context (small models), the generation length becomes a
// quarter of the context. With --max-length: the task's generation length,
// cut to what the context leaves. Throws slkv::Error when nothing is left.
LongBenchLengths longbench_lengths(int64_t context, int64_t task_max_new_tokens, std::optional<int64_t> max_length_flag,
                                   int64_t wrap_tokens, const std::string& dataset);

// The ids a LongBench row is run on: the pattern formatted with the row,
// tokenized (BOS as the tokenizer adds it), cut in the middle to max_length;
// for chat tasks decoded back to text (special tokens skipped, as pred.py
// does), rendered as one user message with the generation prompt and
// tokenized again (the template writes BOS itself).
std::vector<int32_t> build_longbench_prompt(const std::string& dataset, const std::string& pattern,
                                            const nlohmann::json& row, const std::string& where,
                                            const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                            int64_t max_length);

// The ids the chat wrapping adds around a user message (an empty message's render).
int64_t chat_wrap_tokens(const Tokenizer& tokenizer, const ChatTemplate& chat_template);

}  // namespace slkv
