#include "launch/eval/needle_haystack.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>
#include <unordered_set>

#include "core/error.h"
#include "core/text_file.h"

namespace slkv {

const char* const kNeedleText =
    "\nThe best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.\n";
const char* const kNeedleQuestion = "What is the best thing to do in San Francisco?";
const char* const kNeedleAnswer = "eat a sandwich and sit in Dolores Park on a sunny day";
const char* const kNeedleSystem =
    "You are a helpful AI bot that answers questions for a user. Keep your response short and direct";

std::vector<std::filesystem::path> haystack_files(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir)) throw Error("--haystack " + dir.string() + " is not a directory");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && entry.path().extension() == ".txt" && !name.starts_with("LICENSE"))
      files.push_back(entry.path());
  }
  if (files.empty()) throw Error("--haystack " + dir.string() + " has no .txt essays");
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<int32_t> haystack_tokens(const std::vector<std::filesystem::path>& files, const Tokenizer& tokenizer,
                                     int64_t min_tokens) {
  std::string text;
  std::vector<int32_t> ids;
  // The original re-reads every file until the text is long enough; one file
  // at a time here, so that short grids do not tokenize all the essays.
  for (size_t i = 0; static_cast<int64_t>(ids.size()) < min_tokens; i = (i + 1) % files.size()) {
    text += read_text_file(files[i]);
    if (text.empty() && i + 1 == files.size()) throw Error("the --haystack essays are all empty");
    ids = tokenizer.encode(text, /*add_special_tokens=*/false);
  }
  return ids;
}

std::vector<int32_t> sentence_end_ids(const Tokenizer& tokenizer) {
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    if (tokenizer.is_special(id)) continue;
    const int32_t one[] = {id};
    if (tokenizer.decode(one).ends_with('.')) ids.push_back(id);
  }
  return ids;
}

std::vector<int32_t> insert_needle(std::span<const int32_t> context, std::span<const int32_t> needle, double depth,
                                   std::span<const int32_t> sentence_ends) {
  std::vector<int32_t> out(context.begin(), context.end());
  if (depth >= 100) {
    out.insert(out.end(), needle.begin(), needle.end());
    return out;
  }
  const std::unordered_set<int32_t> ends(sentence_ends.begin(), sentence_ends.end());
  auto point = static_cast<size_t>(static_cast<double>(context.size()) * depth / 100.0);
  while (point > 0 && !ends.count(context[point - 1])) --point;
  out.insert(out.begin() + static_cast<std::ptrdiff_t>(point), needle.begin(), needle.end());
  return out;
}

std::vector<std::string> score_words(const std::string& text) {
  std::string clean;
  for (unsigned char c : text)
    if (!std::ispunct(c)) clean += static_cast<char>(std::tolower(c));
  std::istringstream in(clean);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

double needle_score(const std::string& prediction, const std::string& answer) {
  const std::vector<std::string> expected = score_words(answer);
  if (expected.empty()) return 0.0;
  const std::vector<std::string> said = score_words(prediction);
  const std::set<std::string> found(said.begin(), said.end());
  const auto hits = std::count_if(expected.begin(), expected.end(), [&](const std::string& w) { return found.count(w); });
  return 100.0 * static_cast<double>(hits) / static_cast<double>(expected.size());
}

std::vector<int64_t> default_needle_lengths(int64_t context, int64_t max_new_tokens, int64_t fixed_tokens) {
  const int64_t top = context - max_new_tokens;
  // Small models: when the fixed prompt part takes top / 8 already, start an
  // eighth of the remaining room past it instead.
  const int64_t low = top / 8 > fixed_tokens ? top / 8 : fixed_tokens + (top - fixed_tokens) / 8;
  std::vector<int64_t> lengths;
  for (int i = 0; i < 8; ++i) {
    const int64_t length = low + (top - low) * i / 7;
    if (lengths.empty() || length > lengths.back()) lengths.push_back(length);
  }
  return lengths;
}

std::vector<double> default_needle_depths() {
  std::vector<double> depths;
  for (int d = 0; d <= 100; d += 10) depths.push_back(d);
  return depths;
}

NeedlePrompts::NeedlePrompts(const Tokenizer& tokenizer, const ChatTemplate& chat_template, const std::string& needle,
                             std::string question)
    : tokenizer_(tokenizer),
      chat_template_(chat_template),
      needle_(tokenizer.encode(needle, /*add_special_tokens=*/false)),
      sentence_ends_(sentence_end_ids(tokenizer)),
      question_(std::move(question)) {
  fixed_tokens_ = static_cast<int64_t>(render("").size() + needle_.size());
}

std::vector<int32_t> NeedlePrompts::render(const std::string& context) const {
  const nlohmann::json messages = nlohmann::json::array(
      {{{"role", "system"}, {"content", kNeedleSystem}},
       {{"role", "user"},
        {"content", context + "\n\n" + question_ + " Don't give information outside the document or repeat your findings"}}});
  // The template writes BOS itself (the fallback does too).
  return tokenizer_.encode(chat_template_.render(messages, /*add_generation_prompt=*/true), false);
}

std::vector<int32_t> NeedlePrompts::with_context(std::span<const int32_t> haystack, int64_t context_tokens,
                                                 double depth) const {
  SLKV_CHECK(context_tokens >= 0 && context_tokens <= static_cast<int64_t>(haystack.size()),
             "haystack of " << haystack.size() << " ids for " << context_tokens);
  const std::vector<int32_t> ids = insert_needle(haystack.first(static_cast<size_t>(context_tokens)), needle_, depth,
                                                 sentence_ends_);
  return render(tokenizer_.decode(ids, /*skip_special_tokens=*/true));
}

std::vector<int32_t> NeedlePrompts::build(std::span<const int32_t> haystack, int64_t length, double depth) const {
  if (length <= fixed_tokens_)
    throw Error("needle length " + std::to_string(length) + " leaves no room for the haystack: the chat template, " +
                "system message, question and needle alone take " + std::to_string(fixed_tokens_) + " tokens");
  // Decoding and re-encoding inside the template moves a few tokens either
  // way, so the budget is corrected by what the last try missed.
  const int64_t most = std::min<int64_t>(length, static_cast<int64_t>(haystack.size()));
  int64_t count = std::min(most, length - fixed_tokens_);
  std::vector<int32_t> best, shortest;
  std::set<int64_t> tried;
  while (tried.insert(count).second && tried.size() <= 8) {
    std::vector<int32_t> ids = with_context(haystack, count, depth);
    const auto size = static_cast<int64_t>(ids.size());
    if (shortest.empty() || ids.size() < shortest.size()) shortest = ids;
    if (size <= length && ids.size() > best.size()) best = ids;
    if (size == length) break;
    count = std::clamp<int64_t>(count + length - size, 0, most);
  }
  return best.empty() ? shortest : best;
}

}  // namespace slkv
