#include "runtime/tokenizer/tokenizer_pre_tokenizer.h"

#include <algorithm>
#include <utility>

#include "runtime/tokenizer/tokenizer_byte_level.h"
#include "runtime/tokenizer/tokenizer_regex.h"

namespace slkv {
namespace {

// The GPT-2 pattern ByteLevel uses when "use_regex" is true.
std::shared_ptr<const Regex> gpt2_regex() {
  static const auto regex = std::make_shared<const Regex>(
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)",
      "ByteLevel pre-tokenizer");
  return regex;
}

// A stretch of the piece and whether the pattern matched it.
struct Stretch {
  size_t begin, end;
  bool is_match;
};

}  // namespace

PreTokenizer PreTokenizer::from_json(const Json& value, const JsonPath& path) {
  PreTokenizer pre_tokenizer;
  if (!value.is_null()) pre_tokenizer.add_steps(value, path);
  return pre_tokenizer;
}

void PreTokenizer::add_steps(const Json& value, const JsonPath& path) {
  const std::string type = json_type(value, path);
  Step step;
  if (type == "Sequence") {
    const Json& list = json_require(value, "pretokenizers", path);
    if (!list.is_array()) (path / "pretokenizers").fail("expected an array");
    for (size_t i = 0; i < list.size(); ++i) add_steps(list[i], (path / "pretokenizers")[i]);
    return;
  } else if (type == "Split") {
    step.kind = Kind::Split;
    const Json& pattern = json_require(value, "pattern", path);
    if (pattern.contains("Regex")) {
      const JsonPath regex_path = path / "pattern" / "Regex";
      step.regex = std::make_shared<const Regex>(json_string(pattern, "Regex", path / "pattern"),
                                                 regex_path.source + ": " + regex_path.field);
    } else if (pattern.contains("String")) {
      step.literal = json_string(pattern, "String", path / "pattern");
    } else {
      (path / "pattern").fail("expected {\"String\": ...} or {\"Regex\": ...}");
    }
    const std::string behavior = json_string(value, "behavior", path);
    if (behavior == "Removed") step.behavior = Behavior::Removed;
    else if (behavior == "Isolated") step.behavior = Behavior::Isolated;
    else if (behavior == "MergedWithPrevious") step.behavior = Behavior::MergedWithPrevious;
    else if (behavior == "MergedWithNext") step.behavior = Behavior::MergedWithNext;
    else if (behavior == "Contiguous") step.behavior = Behavior::Contiguous;
    else (path / "behavior").fail("unsupported split behavior '" + behavior + "'");
    step.invert = json_bool_or(value, "invert", false, path);
  } else if (type == "ByteLevel") {
    step.kind = Kind::ByteLevel;
    step.add_prefix_space = json_bool_or(value, "add_prefix_space", true, path);
    if (json_bool_or(value, "use_regex", true, path)) step.regex = gpt2_regex();
  } else if (type == "Metaspace") {
    step.kind = Kind::Metaspace;
    step.literal = json_string_or(value, "replacement", "\u2581", path);
    // Older files say "add_prefix_space"; newer ones "prepend_scheme".
    const bool add_prefix_space = json_bool_or(value, "add_prefix_space", true, path);
    const std::string scheme =
        json_string_or(value, "prepend_scheme", add_prefix_space ? "always" : "never", path);
    if (scheme == "always") step.prepend = Prepend::Always;
    else if (scheme == "first") step.prepend = Prepend::First;
    else if (scheme == "never") step.prepend = Prepend::Never;
    else (path / "prepend_scheme").fail("unsupported value '" + scheme + "'");
    step.metaspace_split = json_bool_or(value, "split", true, path);
  } else {
    (path / "type").fail("unsupported pre_tokenizer '" + type + "'");
  }
  steps_.push_back(std::move(step));
}

void PreTokenizer::split(std::string_view segment, bool at_text_start,
                         std::vector<std::string>& words) const {
  if (segment.empty()) return;
  std::vector<std::string> pieces{std::string(segment)};
  std::vector<std::string> next;
  for (const Step& step : steps_) {
    next.clear();
    for (size_t i = 0; i < pieces.size(); ++i) {
      apply_step(step, pieces[i], at_text_start && i == 0, next);
    }
    pieces.swap(next);
  }
  for (std::string& piece : pieces) words.push_back(std::move(piece));
}

void PreTokenizer::apply_step(const Step& step, std::string& piece, bool first_piece,
                              std::vector<std::string>& out) {
  switch (step.kind) {
    case Kind::Split:
      split_piece(piece, step, out);
      return;
    case Kind::ByteLevel: {
      if (step.add_prefix_space && piece.front() != ' ') piece = " " + piece;
      std::vector<std::string> words;
      if (step.regex) {
        split_piece(piece, step, words);
      } else {
        words.push_back(std::move(piece));
      }
      for (const std::string& word : words) {
        std::string mapped;
        mapped.reserve(word.size() * 2);
        append_byte_level(mapped, word);
        out.push_back(std::move(mapped));
      }
      return;
    }
    case Kind::Metaspace: {
      std::string replaced;
      for (const char c : piece) {
        if (c == ' ') replaced += step.literal;
        else replaced += c;
      }
      const bool prepend = step.prepend == Prepend::Always ||
                           (step.prepend == Prepend::First && first_piece);
      if (prepend && replaced.compare(0, step.literal.size(), step.literal) != 0) {
        replaced.insert(0, step.literal);
      }
      if (step.metaspace_split) {
        Step by_replacement;
        by_replacement.literal = step.literal;
        by_replacement.behavior = Behavior::MergedWithNext;
        split_piece(replaced, by_replacement, out);
      } else {
        out.push_back(std::move(replaced));
      }
      return;
    }
  }
}

void PreTokenizer::split_piece(const std::string& piece, const Step& step,
                               std::vector<std::string>& out) {
  // Cover the piece with alternating non-matching and matching stretches.
  std::vector<std::pair<size_t, size_t>> matches;
  if (step.regex) {
    step.regex->find_all(piece, matches);
  } else if (!step.literal.empty()) {
    for (size_t hit = piece.find(step.literal); hit != std::string::npos;
         hit = piece.find(step.literal, hit + step.literal.size())) {
      matches.emplace_back(hit, hit + step.literal.size());
    }
  }
  std::vector<Stretch> stretches;
  size_t pos = 0;
  for (const auto& [begin, end] : matches) {
    if (begin > pos) stretches.push_back({pos, begin, step.invert});
    stretches.push_back({begin, end, !step.invert});
    pos = end;
  }
  if (pos < piece.size()) stretches.push_back({pos, piece.size(), step.invert});

  // Combine stretches as the behaviour says (the Hugging Face rules).
  std::vector<std::pair<size_t, size_t>> words;
  switch (step.behavior) {
    case Behavior::Isolated:
      for (const Stretch& s : stretches) words.emplace_back(s.begin, s.end);
      break;
    case Behavior::Removed:
      for (const Stretch& s : stretches) {
        if (!s.is_match) words.emplace_back(s.begin, s.end);
      }
      break;
    case Behavior::MergedWithPrevious: {
      bool previous_match = false;
      for (const Stretch& s : stretches) {
        if (s.is_match && !previous_match && !words.empty()) words.back().second = s.end;
        else words.emplace_back(s.begin, s.end);
        previous_match = s.is_match;
      }
      break;
    }
    case Behavior::MergedWithNext: {
      bool previous_match = false;  // walking backwards: the stretch after
      for (size_t i = stretches.size(); i-- > 0;) {
        const Stretch& s = stretches[i];
        if (s.is_match && !previous_match && !words.empty()) words.back().first = s.begin;
        else words.emplace_back(s.begin, s.end);
        previous_match = s.is_match;
      }
      std::reverse(words.begin(), words.end());
      break;
    }
    case Behavior::Contiguous: {
      bool previous_match = false;
      for (const Stretch& s : stretches) {
        if (s.is_match == previous_match && !words.empty()) words.back().second = s.end;
        else words.emplace_back(s.begin, s.end);
        previous_match = s.is_match;
      }
      break;
    }
  }
  for (const auto& [begin, end] : words) {
    if (end > begin) out.push_back(piece.substr(begin, end - begin));
  }
}

}  // namespace slkv
