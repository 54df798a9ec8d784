#pragma once
// The slkv subcommands. Each takes the arguments after its name (argv[0] is
// "slkv <name>") and returns the process exit code.
namespace slkv {

int run_generate(int argc, char** argv);
int run_tokenize(int argc, char** argv);
int run_inspect(int argc, char** argv);
int run_make_test_model(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_analyze_layers(int argc, char** argv);
int run_bench_kv(int argc, char** argv);
int run_bench_decode(int argc, char** argv);
int run_chat(int argc, char** argv);
int run_bench_sessions(int argc, char** argv);
int run_serve(int argc, char** argv);
int run_render_chat(int argc, char** argv);

}  // namespace slkv
