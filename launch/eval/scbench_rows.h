#pragma once
// SCBench (Microsoft's SharedContextBench) rows and per-turn scoring. A row
// is {"id", "context", "multi_turns": [{"input", "answer"[, "options"]}]}:
// several queries over one shared long context.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "launch/cli_common.h"

namespace slkv {

struct ScbenchTurn {
  std::string input;
  std::vector<std::string> answers;  // the row's answer (a string, a number or a list of them)
  nlohmann::json options;            // choice tasks: the options, else null
};

struct ScbenchRow {
  std::string where;  // FILE:LINE
  nlohmann::json id;
  std::string context;
  std::vector<ScbenchTurn> turns;
};

// Throws slkv::Error naming FILE:LINE for a row missing a field or with one of the wrong type.
ScbenchRow parse_scbench_row(const JsonLine& line);

// The score of one turn's prediction, in [0, 1], as SCBench's scorer
// (inherited from InfiniteBench) computes it for `task` (the data file's
// stem): scbench_kv: the answer is one of the prediction's words once
// \n : " ' . , ? ! { } are spaces; every other task: string match, the share
// of the answers found in the prediction, case-insensitively.
double scbench_turn_score(const std::string& task, const std::string& prediction,
                          const std::vector<std::string>& answers);

// The messages of turn `turn` (0-based) in multi-turn mode: the context
// and the first query as the first user message (a choice task's query
// lists its options after it: "Options:\nA. ...\nB. ..."), each earlier turn's golden
// answer as the assistant's reply, then this turn's query.
nlohmann::json scbench_turn_messages(const ScbenchRow& row, size_t turn);
// Multi-request mode: one user message, the context and query `turn`.
nlohmann::json scbench_request_messages(const ScbenchRow& row, size_t turn);

}  // namespace slkv
