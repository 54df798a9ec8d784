#include "launch/eval/longbench_prompt.h"

#include <algorithm>
#include <array>

#include "core/error.h"

namespace slkv {

std::string longbench_base_task(const std::string& dataset) {
  return dataset.ends_with("_e") ? dataset.substr(0, dataset.size() - 2) : dataset;
}

std::string format_longbench_prompt(const std::string& pattern, const nlohmann::json& row, const std::string& where) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if ((c == '{' || c == '}') && i + 1 < pattern.size() && pattern[i + 1] == c) {
      out += c;  // "{{" or "}}"
      ++i;
      continue;
    }
    if (c == '}') throw Error(where + ": the prompt pattern has a single '}'");
    if (c != '{') {
      out += c;
      continue;
    }
    const size_t close = pattern.find('}', i);
    if (close == std::string::npos) throw Error(where + ": the prompt pattern has a '{' without its '}'");
    const std::string field = pattern.substr(i + 1, close - i - 1);
    if (!row.contains(field) || !row[field].is_string())
      throw Error(where + ": the row has no string field '" + field + "' that the prompt pattern uses");
    out += row[field].get<std::string>();
    i = close;
  }
  return out;
}

std::vector<int32_t> truncate_middle(const std::vector<int32_t>& ids, int64_t max_length) {
  if (static_cast<int64_t>(ids.size()) <= max_length) return ids;
  const int64_t head = max_length / 2, tail = max_length - head;
  std::vector<int32_t> out(ids.begin(), ids.begin() + head);
  out.insert(out.end(), ids.end() - tail, ids.end());
  return out;
}

bool longbench_uses_chat_template(const std::string& dataset) {
  static const std::array<std::string, 6> raw = {"trec", "triviaqa", "samsum", "lsht", "lcc", "repobench-p"};
  return std::find(raw.begin(), raw.end(), longbench_base_task(dataset)) == raw.end();
}

LongBenchLengths longbench_lengths(int64_t context, int64_t task_max_new_tokens, std::optional<int64_t> max_length_flag,
                                   int64_t wrap_tokens, const std::string& dataset) {
  LongBenchLengths out;
  out.max_new_tokens = task_max_new_tokens;
  if (max_length_flag) {
    out.max_length = *max_length_flag;
    if (out.max_length < 1) throw Error("--max-length must be >= 1, got " + std::to_string(out.max_length));
    out.max_new_tokens = std::min(task_max_new_tokens, context - out.max_length - wrap_tokens);
    if (out.max_new_tokens < 1)
      throw Error(dataset + ": --max-length " + std::to_string(out.max_length) + " plus " + std::to_string(wrap_tokens) +
                  " chat-template tokens leaves nothing of the model's " + std::to_string(context) +
                  "-token context to generate in");
    return out;
  }
  out.max_length = context - task_max_new_tokens - wrap_tokens;
  if (out.max_length < context / 2) {
    out.max_new_tokens = context / 4;
    out.generation_cut = out.max_new_tokens < task_max_new_tokens;
    if (!out.generation_cut) out.max_new_tokens = task_max_new_tokens;
    out.max_length = context - out.max_new_tokens - wrap_tokens;
  }
  if (out.max_length < 1)
    throw Error(dataset + ": the model's " + std::to_string(context) + "-token context leaves no room for a prompt");
  return out;
}

std::vector<int32_t> build_longbench_prompt(const std::string& dataset, const std::string& pattern,
                                            const nlohmann::json& row, const std::string& where,
                                            const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                            int64_t max_length) {
  const std::string prompt = format_longbench_prompt(pattern, row, where);
  std::vector<int32_t> ids = truncate_middle(tokenizer.encode(prompt, /*add_special_tokens=*/true), max_length);
  if (!longbench_uses_chat_template(dataset)) return ids;
  const std::string text = tokenizer.decode(ids, /*skip_special_tokens=*/true);
  const nlohmann::json messages = nlohmann::json::array({{{"role", "user"}, {"content", text}}});
  return tokenizer.encode(chat_template.render(messages, /*add_generation_prompt=*/true), /*add_special_tokens=*/false);
}

int64_t chat_wrap_tokens(const Tokenizer& tokenizer, const ChatTemplate& chat_template) {
  const nlohmann::json messages = nlohmann::json::array({{{"role", "user"}, {"content", ""}}});
  return static_cast<int64_t>(
      tokenizer.encode(chat_template.render(messages, /*add_generation_prompt=*/true), false).size());
}

}  // namespace slkv
