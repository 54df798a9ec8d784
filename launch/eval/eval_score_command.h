#pragma once
// slkv eval score: LongBench's official scores of a `slkv eval longbench`
// output directory (no model runs).
namespace slkv {

// argv[0] is "slkv eval score"; returns the exit code.
int run_eval_score(int argc, char** argv);

}  // namespace slkv
