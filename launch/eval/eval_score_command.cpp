// slkv eval score --out DIR: scores the predictions `slkv eval longbench`
// wrote under DIR exactly as LongBench's eval.py would, writes result.json
// files and prints the paper's table.
#include "launch/eval/eval_score_command.h"

#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>

#include "launch/cli_common.h"
#include "launch/eval/longbench_score.h"

namespace slkv {

int run_eval_score(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Score LongBench predictions (DIR/<dataset>.jsonl, or DIR/<policy>/<dataset>.jsonl per KV "
                           "policy) with LongBench's metrics; writes result.json files and prints the table");
  // clang-format off
  options.add_options()
      ("out", "the directory `slkv eval longbench --out` wrote", cxxopts::value<std::string>());
  // clang-format on
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const std::filesystem::path out = required_flag(*parsed, "out", "DIR");
  const eval::ScoreReport report = eval::score_longbench_dir(out);
  const std::vector<std::filesystem::path> written = eval::write_longbench_results(report);
  std::cout << eval::format_longbench_table(report);
  for (const std::filesystem::path& path : written) std::cout << "wrote " << path.string() << "\n";
  std::cout << std::flush;
  return 0;
}

}  // namespace slkv
