#pragma once
// The `slkv eval` tasks. Each takes the arguments after its name (argv[0] is
// "slkv eval <task>") and returns the process exit code.
namespace slkv {

int run_eval(int argc, char** argv);  // dispatches on the task name
int run_eval_longbench(int argc, char** argv);
int run_eval_scbench(int argc, char** argv);
int run_eval_needle(int argc, char** argv);
int run_eval_ruler(int argc, char** argv);
int run_eval_score(int argc, char** argv);

}  // namespace slkv
