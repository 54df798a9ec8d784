#include "launch/eval/ruler_metric.h"

#include <cctype>
#include <cmath>

#include "core/error.h"

namespace slkv {
namespace {

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::string ruler_postprocess(const std::string& prediction) {
  std::string text = prediction;
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20) c = '\n';
  size_t begin = 0, end = text.size();
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

double string_match_all_row(const std::string& prediction, const std::vector<std::string>& outputs) {
  if (outputs.empty()) return 0.0;
  const std::string pred = lower(prediction);
  double found = 0;
  for (const std::string& output : outputs)
    if (pred.find(lower(output)) != std::string::npos) found += 1;
  return found / static_cast<double>(outputs.size());
}

double string_match_all(const std::vector<std::string>& predictions,
                        const std::vector<std::vector<std::string>>& outputs) {
  SLKV_CHECK(predictions.size() == outputs.size(), predictions.size() << " predictions for " << outputs.size() << " rows");
  if (predictions.empty()) return 0.0;
  double sum = 0;
  for (size_t i = 0; i < predictions.size(); ++i) sum += string_match_all_row(predictions[i], outputs[i]);
  return std::round(sum / static_cast<double>(predictions.size()) * 100.0 * 100.0) / 100.0;
}

}  // namespace slkv
