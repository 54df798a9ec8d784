#include "launch/eval/scbench_rows.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "core/error.h"

namespace slkv {
namespace {

std::vector<std::string> answer_strings(const nlohmann::json& answer, const std::string& where) {
  std::vector<std::string> out;
  const nlohmann::json list = answer.is_array() ? answer : nlohmann::json::array({answer});
  for (const nlohmann::json& item : list) {
    if (item.is_string()) out.push_back(item.get<std::string>());
    else if (item.is_number()) out.push_back(item.dump());
    else throw Error(where + ": an answer must be a string, a number or a list of them");
  }
  if (out.empty()) throw Error(where + ": the answer list is empty");
  return out;
}

std::string lower_ascii(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// A turn's query; a choice task lists its options after it, lettered.
std::string query(const ScbenchTurn& turn) {
  if (!turn.options.is_array() || turn.options.empty()) return turn.input;
  std::string out = turn.input + "\n\nOptions:";
  char letter = 'A';
  for (const nlohmann::json& option : turn.options)
    out += std::string("\n") + letter++ + ". " + (option.is_string() ? option.get<std::string>() : option.dump());
  return out;
}

std::string context_message(const ScbenchRow& row, size_t turn) {
  return row.context + "\n\n" + query(row.turns[turn]);
}

}  // namespace

ScbenchRow parse_scbench_row(const JsonLine& line) {
  const nlohmann::json& v = line.value;
  if (!v.is_object()) throw Error(line.where + ": expected a JSON object (an SCBench row)");
  ScbenchRow row;
  row.where = line.where;
  row.id = v.value("id", nlohmann::json(nullptr));
  if (!v.contains("context") || !v["context"].is_string()) throw Error(line.where + ": the row has no string 'context'");
  row.context = v["context"].get<std::string>();
  if (!v.contains("multi_turns") || !v["multi_turns"].is_array() || v["multi_turns"].empty())
    throw Error(line.where + ": the row has no 'multi_turns' list");
  for (size_t i = 0; i < v["multi_turns"].size(); ++i) {
    const nlohmann::json& turn = v["multi_turns"][i];
    const std::string where = line.where + ": multi_turns[" + std::to_string(i) + "]";
    if (!turn.is_object() || !turn.contains("input") || !turn["input"].is_string())
      throw Error(where + " has no string 'input'");
    if (!turn.contains("answer")) throw Error(where + " has no 'answer'");
    const nlohmann::json options = turn.value("options", nlohmann::json(nullptr));
    if (!options.is_null() && !options.is_array()) throw Error(where + ": 'options' must be a list");
    row.turns.push_back({turn["input"].get<std::string>(), answer_strings(turn["answer"], where), options});
  }
  return row;
}

double scbench_turn_score(const std::string& task, const std::string& prediction,
                          const std::vector<std::string>& answers) {
  if (answers.empty()) return 0.0;
  if (task == "scbench_kv") {
    std::string cleaned = prediction;
    for (char& c : cleaned)
      if (std::string_view("\n:\"'.,?!{}").find(c) != std::string_view::npos) c = ' ';
    std::istringstream words(cleaned);
    for (std::string word; words >> word;)
      if (word == answers.front()) return 1.0;
    return 0.0;
  }
  const std::string lowered = lower_ascii(prediction);
  double found = 0;
  for (const std::string& answer : answers) found += lowered.find(lower_ascii(answer)) != std::string::npos ? 1 : 0;
  return found / static_cast<double>(answers.size());
}

nlohmann::json scbench_turn_messages(const ScbenchRow& row, size_t turn) {
  nlohmann::json messages = nlohmann::json::array();
  for (size_t i = 0; i <= turn; ++i) {
    messages.push_back({{"role", "user"}, {"content", i == 0 ? context_message(row, 0) : query(row.turns[i])}});
    if (i < turn) messages.push_back({{"role", "assistant"}, {"content", row.turns[i].answers.front()}});
  }
  return messages;
}

nlohmann::json scbench_request_messages(const ScbenchRow& row, size_t turn) {
  return nlohmann::json::array({{{"role", "user"}, {"content", context_message(row, turn)}}});
}

}  // namespace slkv
