#pragma once
// ROUGE-L F as the `rouge` package (pltrdy, 1.0.1) computes it for
// Rouge().get_scores([hypothesis], [reference], avg=True)["rouge-l"]["f"],
// the score LongBench gives summaries (gov_report, qmsum, multi_news, samsum,
// and, on jieba words, dureader and vcsum).
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slkv::eval {

// Python's str.isspace(): Unicode White_Space plus U+001C..U+001F.
bool is_python_space(char32_t code_point);

// Python's str.split() with no argument: runs of is_python_space separate
// words; no empty words.
std::vector<std::string> python_split(std::string_view text);

// get_scores' sentences: [" ".join(s.split()) for s in text.split(".") if len(s) > 0]
// (a piece of only spaces is kept, as "").
std::vector<std::string> rouge_sentences(std::string_view text);

// rouge_score._recon_lcs(x, y): the words of one longest common subsequence,
// walked back through the DP table as rouge does (take a match; else go up
// when table[i-1][j] > table[i][j-1], else left). `recon_calls` receives how
// many calls rouge's recursive walk makes (steps + 1).
std::vector<std::string> rouge_lcs_words(const std::vector<std::string>& x, const std::vector<std::string>& y,
                                         size_t* recon_calls = nullptr);

// How many nested calls of the recursive walk Python allows: its default
// recursion limit (1000 frames) less the frames LongBench's eval.py has on
// the stack below the first call (measured with CPython 3.11: 9 for
// rouge_score, one more through rouge_zh_score).
inline constexpr size_t kRougeReconCallsEnglish = 991;
inline constexpr size_t kRougeReconCallsChinese = 990;

// rouge_l_summary_level(hypothesis sentences, reference sentences,
// exclusive=True): the union over hypothesis sentences of each reference
// sentence's LCS words, as a set; llcs = its size, r = llcs / distinct
// reference words, p = llcs / distinct hypothesis words, f = 2*(p*r)/(p+r+1e-8).
// nullopt where rouge raises: no hypothesis or reference sentence
// (ValueError), or a walk needing more than `max_recon_calls` nested calls
// (RecursionError); LongBench scores both 0.0.
std::optional<double> rouge_l_f(std::string_view hypothesis, std::string_view reference,
                                size_t max_recon_calls = std::numeric_limits<size_t>::max());

}  // namespace slkv::eval
