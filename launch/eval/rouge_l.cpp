#include "launch/eval/rouge_l.h"

#include <algorithm>
#include <cstdint>
#include <unordered_set>

#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv::eval {

bool is_python_space(char32_t code_point) {
  return is_unicode_whitespace(code_point) || (code_point >= 0x1C && code_point <= 0x1F);
}

std::vector<std::string> python_split(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = decode_utf8(text, pos);
    const bool space = c.status == Utf8Char::Status::Complete && is_python_space(c.code_point);
    if (space) {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word.append(text.substr(pos, c.length));
      in_word = true;
    }
    pos += c.length;
  }
  if (in_word) words.push_back(word);
  return words;
}

namespace {

// Python's "s".split(" "): every space separates, so "" gives [""].
std::vector<std::string> split_on_space(const std::string& sentence) {
  std::vector<std::string> words;
  size_t start = 0;
  for (size_t space = sentence.find(' '); space != std::string::npos; space = sentence.find(' ', start)) {
    words.push_back(sentence.substr(start, space - start));
    start = space + 1;
  }
  words.push_back(sentence.substr(start));
  return words;
}

std::string join_with_space(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += ' ';
    out += words[i];
  }
  return out;
}

}  // namespace

std::vector<std::string> rouge_sentences(std::string_view text) {
  std::vector<std::string> sentences;
  size_t start = 0;
  while (true) {
    const size_t dot = text.find('.', start);
    const std::string_view piece = text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!piece.empty()) sentences.push_back(join_with_space(python_split(piece)));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return sentences;
}

std::vector<std::string> rouge_lcs_words(const std::vector<std::string>& x, const std::vector<std::string>& y,
                                         size_t* recon_calls) {
  // rouge's _lcs table: table[i][j] = LCS length of x[:i] and y[:j].
  const size_t n = x.size(), m = y.size();
  std::vector<std::vector<uint32_t>> table(n + 1, std::vector<uint32_t>(m + 1, 0));
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j)
      table[i][j] = x[i - 1] == y[j - 1] ? table[i - 1][j - 1] + 1 : std::max(table[i - 1][j], table[i][j - 1]);
  // _recon(i, j), unrolled: the recursion collects matches from the end, so
  // the words come out reversed.
  std::vector<std::string> reversed;
  size_t i = n, j = m, calls = 1;
  while (i > 0 && j > 0) {
    if (x[i - 1] == y[j - 1]) {
      reversed.push_back(x[i - 1]);
      --i;
      --j;
    } else if (table[i - 1][j] > table[i][j - 1]) {
      --i;
    } else {
      --j;
    }
    ++calls;
  }
  if (recon_calls) *recon_calls = calls;
  return {reversed.rbegin(), reversed.rend()};
}

std::optional<double> rouge_l_f(std::string_view hypothesis, std::string_view reference, size_t max_recon_calls) {
  const std::vector<std::string> evaluated = rouge_sentences(hypothesis);
  const std::vector<std::string> references = rouge_sentences(reference);
  // rouge-1 and rouge-2 run first and raise the same ValueError; nothing else in them raises.
  if (evaluated.empty() || references.empty()) return std::nullopt;

  std::vector<std::vector<std::string>> evaluated_words;
  std::unordered_set<std::string> distinct_evaluated, distinct_reference;
  for (const std::string& s : evaluated) {
    evaluated_words.push_back(split_on_space(s));
    distinct_evaluated.insert(evaluated_words.back().begin(), evaluated_words.back().end());
  }
  // The union of LCS words over every (reference, hypothesis) sentence pair:
  // the per-reference-sentence counts of new words rouge sums add up to its size.
  std::unordered_set<std::string> lcs_union;
  for (const std::string& s : references) {
    const std::vector<std::string> reference_words = split_on_space(s);
    distinct_reference.insert(reference_words.begin(), reference_words.end());
    for (const std::vector<std::string>& words : evaluated_words) {
      // Every walk takes at least min(len) steps: fail before building a big table.
      if (std::min(reference_words.size(), words.size()) >= max_recon_calls) return std::nullopt;
      size_t calls = 0;
      const std::vector<std::string> lcs = rouge_lcs_words(reference_words, words, &calls);
      if (calls > max_recon_calls) return std::nullopt;
      lcs_union.insert(lcs.begin(), lcs.end());
    }
  }
  const double llcs = static_cast<double>(lcs_union.size());
  const double r = llcs / static_cast<double>(distinct_reference.size());
  const double p = llcs / static_cast<double>(distinct_evaluated.size());
  return 2.0 * ((p * r) / (p + r + 1e-8));
}

}  // namespace slkv::eval
