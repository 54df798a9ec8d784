// slkv eval <task>: long-context evaluation with the benchmarks' official
// protocols and metrics.
#include <iostream>
#include <string>
#include <string_view>

#include "core/error.h"
#include "launch/eval/eval_commands.h"

namespace slkv {
namespace {

constexpr std::string_view kEvalUsage =
    "usage: slkv eval <task> [options]\n"
    "\n"
    "tasks:\n"
    "  longbench  LongBench v1 / LongBench-E predictions (official prompts, truncation, chat wrapping, lengths)\n"
    "  score      LongBench metrics over an --out directory: the paper's table and result.json\n"
    "  scbench    SCBench-style shared-context tasks: multi-turn sessions or multi-request forks\n"
    "  needle     needle-in-a-haystack over the Paul Graham essays: score grid and heat map\n"
    "  ruler      RULER jsonl: string-match-all score\n"
    "\n"
    "Every task but score takes the model, KV policy (a comma-separated list compares several),\n"
    "offload, engine and parallel flags of `slkv generate`, and runs under mpirun.\n"
    "Run 'slkv eval <task> --help' for a task's options.\n";

}  // namespace

int run_eval(int argc, char** argv) {
  const std::string task = argc > 1 ? argv[1] : "";
  if (task.empty() || task == "-h" || task == "--help") {
    std::cout << kEvalUsage;
    return task.empty() ? 2 : 0;
  }
  if (task == "longbench") return run_eval_longbench(argc - 1, argv + 1);
  if (task == "score") return run_eval_score(argc - 1, argv + 1);
  if (task == "scbench") return run_eval_scbench(argc - 1, argv + 1);
  if (task == "needle") return run_eval_needle(argc - 1, argv + 1);
  if (task == "ruler") return run_eval_ruler(argc - 1, argv + 1);
  throw UsageError("unknown eval task '" + task + "' (longbench, score, scbench, needle or ruler)");
}

}  // namespace slkv
