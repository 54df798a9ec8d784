#include "launch/eval/longbench_metrics.h"

#include <utf8proc.h>

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "core/error.h"
#include "launch/eval/rouge_l.h"
#include "launch/eval/sequence_matcher.h"
#include "runtime/tokenizer/unicode_utf8.h"

namespace slkv::eval {

namespace {

struct DatasetMetric {
  const char* dataset;
  LongBenchMetric metric;
};

// eval.py's dataset2metric, in the order of LongBench's tables.
constexpr DatasetMetric kDatasets[] = {
    {"narrativeqa", LongBenchMetric::QaF1},
    {"qasper", LongBenchMetric::QaF1},
    {"multifieldqa_en", LongBenchMetric::QaF1},
    {"multifieldqa_zh", LongBenchMetric::QaF1Zh},
    {"hotpotqa", LongBenchMetric::QaF1},
    {"2wikimqa", LongBenchMetric::QaF1},
    {"musique", LongBenchMetric::QaF1},
    {"dureader", LongBenchMetric::RougeZh},
    {"gov_report", LongBenchMetric::Rouge},
    {"qmsum", LongBenchMetric::Rouge},
    {"multi_news", LongBenchMetric::Rouge},
    {"vcsum", LongBenchMetric::RougeZh},
    {"trec", LongBenchMetric::Classification},
    {"triviaqa", LongBenchMetric::QaF1},
    {"samsum", LongBenchMetric::Rouge},
    {"lsht", LongBenchMetric::Classification},
    {"passage_count", LongBenchMetric::Count},
    {"passage_retrieval_en", LongBenchMetric::Retrieval},
    {"passage_retrieval_zh", LongBenchMetric::RetrievalZh},
    {"lcc", LongBenchMetric::CodeSim},
    {"repobench-p", LongBenchMetric::CodeSim},
};

// string.punctuation
constexpr std::u32string_view kAsciiPunctuation = U"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
// normalize_zh_answer's cn_punctuation, verbatim (it has 》 but not 《).
constexpr std::u32string_view kChinesePunctuation =
    U"！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏.";

std::string to_utf8(std::u32string_view code_points) {
  std::string out;
  for (char32_t c : code_points) append_utf8(out, c);
  return out;
}

bool in_category(char32_t c, std::initializer_list<utf8proc_category_t> categories) {
  const utf8proc_category_t category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return std::find(categories.begin(), categories.end(), category) != categories.end();
}

// Unicode's Cased property, as far as the final-sigma rule looks at it (on
// characters that are not case-ignorable): letters with case, and those with
// a case mapping (e.g. Ⓐ). Agrees with CPython for every Unicode 14 character.
bool is_cased(char32_t c) {
  const auto cp = static_cast<utf8proc_int32_t>(c);
  return in_category(c, {UTF8PROC_CATEGORY_LU, UTF8PROC_CATEGORY_LL, UTF8PROC_CATEGORY_LT}) || utf8proc_islower(cp) ||
         utf8proc_isupper(cp);
}

// Unicode's Case_Ignorable: Mn, Me, Cf, Lm, Sk, and the word-break
// MidLetter / MidNumLet / Single_Quote characters.
bool is_case_ignorable(char32_t c) {
  constexpr std::u32string_view kWordBreakMid =
      U"\u0027\u002E\u003A\u00B7\u0387\u055F\u05F4\u2018\u2019\u2024\u2027\uFE13\uFE52\uFE55\uFF07\uFF0E\uFF1A";
  return in_category(c, {UTF8PROC_CATEGORY_MN, UTF8PROC_CATEGORY_ME, UTF8PROC_CATEGORY_CF, UTF8PROC_CATEGORY_LM,
                         UTF8PROC_CATEGORY_SK}) ||
         kWordBreakMid.find(c) != std::u32string_view::npos;
}

// CPython's handle_capital_sigma: Σ lowers to ς when a cased letter precedes
// it and none follows (case-ignorable characters skipped both ways).
bool is_final_sigma(const std::u32string& s, size_t i) {
  size_t j = i;
  while (j > 0 && is_case_ignorable(s[j - 1])) --j;
  if (j == 0 || !is_cased(s[j - 1])) return false;
  size_t k = i + 1;
  while (k < s.size() && is_case_ignorable(s[k])) ++k;
  return k == s.size() || !is_cased(s[k]);
}

std::u32string lower_code_points(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c == 0x130) {
      out += U"i\u0307";  // the one unconditional multi-character lowercase mapping
    } else if (c == 0x3A3) {
      out += is_final_sigma(s, i) ? U'\u03C2' : U'\u03C3';
    } else {
      out += static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
    }
  }
  return out;
}

std::u32string remove_chars(const std::u32string& s, std::u32string_view set1, std::u32string_view set2 = {}) {
  std::u32string out;
  for (char32_t c : s)
    if (set1.find(c) == std::u32string_view::npos && set2.find(c) == std::u32string_view::npos) out += c;
  return out;
}

// re.sub(r"\b(a|an|the)\b", " ", s), with Python's Unicode \w (letters, digits, _).
std::u32string remove_articles(const std::u32string& s) {
  const auto word_at = [&](size_t i) { return i < s.size() && is_word_character(s[i]); };
  const auto boundary = [&](size_t i) { return (i > 0 && word_at(i - 1)) != word_at(i); };
  std::u32string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t matched = 0;
    if (boundary(i)) {
      // The alternatives in the pattern's order: "a" is tried (and fails the \b) before "an".
      for (std::u32string_view article : {std::u32string_view(U"a"), std::u32string_view(U"an"),
                                          std::u32string_view(U"the")}) {
        if (s.compare(i, article.size(), article) == 0 && boundary(i + article.size())) {
          matched = article.size();
          break;
        }
      }
    }
    if (matched > 0) {
      out += U' ';
      i += matched;
    } else {
      out += s[i++];
    }
  }
  return out;
}

bool is_decimal_digit(char32_t c) { return in_category(c, {UTF8PROC_CATEGORY_ND}); }

// re.findall(r"\d+", s): maximal runs of Unicode decimal digits.
std::vector<std::string> digit_runs(std::string_view text) {
  const std::u32string s = to_code_points(text);
  std::vector<std::string> runs;
  for (size_t i = 0; i < s.size();) {
    if (!is_decimal_digit(s[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < s.size() && is_decimal_digit(s[end])) ++end;
    runs.push_back(to_utf8(s.substr(i, end - i)));
    i = end;
  }
  return runs;
}

// re.findall(prefix + r"(\d+)", s)[0]; eval.py fails with IndexError without a match.
std::string first_number_after(std::u32string_view prefix, std::string_view ground_truth) {
  const std::u32string s = to_code_points(ground_truth);
  for (size_t at = s.find(prefix); at != std::u32string::npos; at = s.find(prefix, at + 1)) {
    size_t end = at + prefix.size();
    while (end < s.size() && is_decimal_digit(s[end])) ++end;
    if (end > at + prefix.size()) return to_utf8(s.substr(at + prefix.size(), end - at - prefix.size()));
  }
  throw Error("LongBench retrieval answer \"" + std::string(ground_truth) + "\" holds no \"" + to_utf8(prefix) +
              "<number>\"");
}

// count_score's rule: the share of the prediction's numbers equal to `number`.
double share_equal(const std::vector<std::string>& numbers, std::string_view number) {
  if (numbers.empty()) return 0.0;
  const auto right = std::count(numbers.begin(), numbers.end(), number);
  return static_cast<double>(right) / static_cast<double>(numbers.size());
}

std::vector<std::string> zh_tokens(const std::string& text, const CutWords& cut) {
  std::vector<std::string> tokens;
  for (const std::string& word : cut(text)) {
    std::string normalized = normalize_zh_answer(word);
    if (!normalized.empty()) tokens.push_back(std::move(normalized));
  }
  return tokens;
}

std::string join_words(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) out += (i > 0 ? " " : "") + words[i];
  return out;
}

}  // namespace

const std::vector<std::string>& longbench_datasets() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const DatasetMetric& d : kDatasets) out.push_back(d.dataset);
    return out;
  }();
  return names;
}

LongBenchTask longbench_task(const std::string& dataset) {
  const bool e = dataset.size() > 2 && dataset.compare(dataset.size() - 2, 2, "_e") == 0;
  const std::string base = e ? dataset.substr(0, dataset.size() - 2) : dataset;
  for (const DatasetMetric& d : kDatasets) {
    if (base != d.dataset) continue;
    // LongBench-E files carry the plain names in eval.py, so the first-line rule applies to them too.
    const bool first_line_only = base == "trec" || base == "triviaqa" || base == "samsum" || base == "lsht";
    return {dataset, base, d.metric, first_line_only, e};
  }
  std::string known;
  for (const DatasetMetric& d : kDatasets) known += (known.empty() ? "" : ", ") + std::string(d.dataset);
  throw Error("unknown LongBench dataset '" + dataset + "' (known: " + known + "; LongBench-E: any of them + \"_e\")");
}

std::string python_lower(std::string_view text) { return to_utf8(lower_code_points(to_code_points(text))); }

std::string normalize_answer(std::string_view text) {
  const std::u32string lowered = lower_code_points(to_code_points(text));
  const std::u32string without_articles = remove_articles(remove_chars(lowered, kAsciiPunctuation));
  return join_words(python_split(to_utf8(without_articles)));
}

std::string normalize_zh_answer(std::string_view text) {
  const std::u32string lowered = lower_code_points(to_code_points(text));
  std::string out;
  for (const std::string& word : python_split(to_utf8(remove_chars(lowered, kAsciiPunctuation, kChinesePunctuation))))
    out += word;
  return out;
}

std::string first_line(std::string_view text) {
  const size_t start = text.find_first_not_of('\n');
  if (start == std::string_view::npos) return "";
  const std::string_view rest = text.substr(start);
  return std::string(rest.substr(0, rest.find('\n')));
}

double f1_score(const std::vector<std::string>& prediction_tokens, const std::vector<std::string>& ground_truth_tokens) {
  // Counter(prediction) & Counter(ground_truth): the multiset intersection.
  std::unordered_map<std::string, long> truth_counts;
  for (const std::string& token : ground_truth_tokens) ++truth_counts[token];
  long num_same = 0;
  for (const std::string& token : prediction_tokens) {
    auto found = truth_counts.find(token);
    if (found != truth_counts.end() && found->second > 0) {
      --found->second;
      ++num_same;
    }
  }
  if (num_same == 0) return 0.0;
  const double precision = 1.0 * static_cast<double>(num_same) / static_cast<double>(prediction_tokens.size());
  const double recall = 1.0 * static_cast<double>(num_same) / static_cast<double>(ground_truth_tokens.size());
  return (2 * precision * recall) / (precision + recall);
}

double qa_f1_score(std::string_view prediction, std::string_view ground_truth) {
  return f1_score(python_split(normalize_answer(prediction)), python_split(normalize_answer(ground_truth)));
}

double qa_f1_zh_score(const std::string& prediction, const std::string& ground_truth, const CutWords& cut) {
  return f1_score(zh_tokens(prediction, cut), zh_tokens(ground_truth, cut));
}

double rouge_score(std::string_view prediction, std::string_view ground_truth) {
  // LongBench's bare `except: return 0.0` around rouge.
  return rouge_l_f(prediction, ground_truth, kRougeReconCallsEnglish).value_or(0.0);
}

double rouge_zh_score(const std::string& prediction, const std::string& ground_truth, const CutWords& cut) {
  return rouge_l_f(join_words(cut(prediction)), join_words(cut(ground_truth)), kRougeReconCallsChinese).value_or(0.0);
}

double classification_score(std::string_view prediction, const std::string& ground_truth,
                            const std::vector<std::string>& all_classes) {
  std::vector<std::string> matches;
  for (const std::string& name : all_classes)
    if (prediction.find(name) != std::string_view::npos) matches.push_back(name);
  // `for match_term in em_match_list: ... em_match_list.remove(match_term)`:
  // Python's list iterator walks by index, so removing an element makes it
  // skip the one that moved into its place; remove() drops the first equal element.
  for (size_t index = 0; index < matches.size();) {
    const std::string term = matches[index++];
    if (ground_truth.find(term) != std::string::npos && term != ground_truth)
      matches.erase(std::find(matches.begin(), matches.end(), term));
  }
  if (std::find(matches.begin(), matches.end(), ground_truth) == matches.end()) return 0.0;
  return 1.0 / static_cast<double>(matches.size());
}

double count_score(std::string_view prediction, std::string_view ground_truth) {
  return share_equal(digit_runs(prediction), ground_truth);
}

double retrieval_score(std::string_view prediction, std::string_view ground_truth) {
  const std::string id = first_number_after(U"Paragraph ", ground_truth);
  return share_equal(digit_runs(prediction), id);
}

double retrieval_zh_score(std::string_view prediction, std::string_view ground_truth) {
  const std::string id = first_number_after(U"段落", ground_truth);
  return share_equal(digit_runs(prediction), id);
}

double code_sim_score(std::string_view prediction, std::string_view ground_truth) {
  // The first line (after leading newlines) that is not a comment or a fence; "" when none.
  std::string_view line;
  std::string_view rest = prediction.substr(std::min(prediction.find_first_not_of('\n'), prediction.size()));
  while (true) {
    const size_t end = rest.find('\n');
    const std::string_view candidate = rest.substr(0, end);
    if (candidate.find('`') == std::string_view::npos && candidate.find('#') == std::string_view::npos &&
        candidate.find("//") == std::string_view::npos) {
      line = candidate;
      break;
    }
    if (end == std::string_view::npos) break;
    rest = rest.substr(end + 1);
  }
  return fuzz_ratio(line, ground_truth) / 100.0;
}

std::vector<std::string> texts_to_segment(const LongBenchTask& task, std::string_view prediction,
                                          const std::vector<std::string>& answers) {
  if (task.metric != LongBenchMetric::QaF1Zh && task.metric != LongBenchMetric::RougeZh) return {};
  std::vector<std::string> texts{task.first_line_only ? first_line(prediction) : std::string(prediction)};
  texts.insert(texts.end(), answers.begin(), answers.end());
  return texts;
}

double score_row(const LongBenchTask& task, std::string_view prediction, const std::vector<std::string>& answers,
                 const std::vector<std::string>& all_classes, const CutWords& cut) {
  const std::string pred = task.first_line_only ? first_line(prediction) : std::string(prediction);
  double score = 0.0;
  for (const std::string& truth : answers) {
    double value = 0.0;
    switch (task.metric) {
      case LongBenchMetric::QaF1: value = qa_f1_score(pred, truth); break;
      case LongBenchMetric::QaF1Zh: value = qa_f1_zh_score(pred, truth, cut); break;
      case LongBenchMetric::Rouge: value = rouge_score(pred, truth); break;
      case LongBenchMetric::RougeZh: value = rouge_zh_score(pred, truth, cut); break;
      case LongBenchMetric::Classification: value = classification_score(pred, truth, all_classes); break;
      case LongBenchMetric::Retrieval: value = retrieval_score(pred, truth); break;
      case LongBenchMetric::RetrievalZh: value = retrieval_zh_score(pred, truth); break;
      case LongBenchMetric::Count: value = count_score(pred, truth); break;
      case LongBenchMetric::CodeSim: value = code_sim_score(pred, truth); break;
    }
    score = std::max(score, value);  // Python's max(score, value): keeps score on ties
  }
  return score;
}

}  // namespace slkv::eval
