// slkv: entry point. Dispatches to a subcommand and turns errors into a clear
// message and a non-zero exit code (1: bad input or runtime failure, 2: bad
// usage, 3: an internal error, i.e. a bug in slkv).
#include <cstdio>
#include <cxxopts.hpp>
#include <filesystem>
#include <ios>
#include <iostream>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/version.h"
#include "launch/commands.h"
#include "launch/eval/eval_commands.h"
#include "parallel/mpi_communicator.h"

namespace {

constexpr std::string_view kUsage =
    "usage: slkv <command> [options]\n"
    "       slkv --version\n"
    "\n"
    "commands:\n"
    "  generate         generate text from a prompt (or a batch of prompts, or exact token ids)\n"
    "  chat             multi-turn chat sessions (interactive, or --script FILE of JSON lines)\n"
    "  serve            OpenAI-compatible HTTP server (completions, chat completions, sessions, metrics)\n"
    "  render-chat      a JSON array of messages on stdin -> the prompt the chat template renders\n"
    "  tokenize         text on stdin -> JSON array of token ids (--decode: the reverse)\n"
    "  inspect          print a model's config, parameter count and bytes by dtype\n"
    "  make-test-model  write a random-weight Hugging Face model directory\n"
    "  bench            measure prefill/decode speed and memory against llama.cpp\n"
    "  analyze-layers   per-layer SimLayerKV score distribution over a prompt file\n"
    "  bench-kv         fidelity vs KV compression of the KV policies, against full KV\n"
    "  bench-decode     decode step time by context and batch against the memory floor (one process)\n"
    "  bench-sessions   multi-turn sessions: memory, turn-2 latency, fidelity of re-identification (one process)\n"
    "  eval             long-context evaluation: longbench, score, scbench, needle, ruler\n"
    "  version          print the slkv version\n"
    "\n"
    "Run 'slkv <command> --help' for the options of a command.\n";

// cxxopts says "Argument 'abc' failed to parse" without the flag: find which
// flag carried that value so the message names it.
std::string flag_of_bad_value(const std::string& message, int argc, char** argv) {
  const std::string open = "\u2018", close = "\u2019";
  size_t begin = message.find(open), end = message.find(close);
  if (begin == std::string::npos || end == std::string::npos || end <= begin) return "";
  const std::string value = message.substr(begin + open.size(), end - begin - open.size());
  for (int i = 2; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument == value && std::string(argv[i - 1]).rfind("--", 0) == 0) return argv[i - 1];
    size_t equals = argument.find('=');
    if (equals != std::string::npos && argument.substr(equals + 1) == value) return argument.substr(0, equals);
  }
  return "";
}

// libstdc++ words it "filesystem error: <operation>: <reason> [<path1>] [<path2>]":
// say "<path1>: <operation>: <reason>" instead, the path first as in other errors.
std::string filesystem_message(const std::filesystem::filesystem_error& e) {
  std::string what = e.what();
  const std::string prefix = "filesystem error: ";
  if (what.rfind(prefix, 0) == 0) what.erase(0, prefix.size());
  for (const std::filesystem::path* path : {&e.path2(), &e.path1()}) {
    const std::string suffix = " [" + path->string() + "]";
    if (!path->empty() && what.ends_with(suffix)) what.erase(what.size() - suffix.size());
  }
  return e.path1().empty() ? what : e.path1().string() + ": " + what;
}

int dispatch(const std::string& command, int argc, char** argv) {
  // These run no model, or (bench-decode) the whole model on one device: under
  // mpirun they would repeat themselves on every rank.
  if ((command == "tokenize" || command == "inspect" || command == "make-test-model" || command == "render-chat" || command == "bench-sessions" ||
       command == "bench-decode") &&
      slkv::world_size() > 1)
    throw slkv::Error(command + " runs in a single process: launch it without mpirun");
  if (command == "generate") return slkv::run_generate(argc - 1, argv + 1);
  if (command == "tokenize") return slkv::run_tokenize(argc - 1, argv + 1);
  if (command == "inspect") return slkv::run_inspect(argc - 1, argv + 1);
  if (command == "make-test-model") return slkv::run_make_test_model(argc - 1, argv + 1);
  if (command == "bench") return slkv::run_bench(argc - 1, argv + 1);
  if (command == "analyze-layers") return slkv::run_analyze_layers(argc - 1, argv + 1);
  if (command == "bench-kv") return slkv::run_bench_kv(argc - 1, argv + 1);
  if (command == "bench-decode") return slkv::run_bench_decode(argc - 1, argv + 1);
  if (command == "chat") return slkv::run_chat(argc - 1, argv + 1);
  if (command == "render-chat") return slkv::run_render_chat(argc - 1, argv + 1);
  if (command == "serve") return slkv::run_serve(argc - 1, argv + 1);
  if (command == "bench-sessions") return slkv::run_bench_sessions(argc - 1, argv + 1);
  if (command == "eval") {
    if (argc > 2 && std::string(argv[2]) == "score" && slkv::world_size() > 1)
      throw slkv::Error("eval score runs in a single process: launch it without mpirun");
    return slkv::run_eval(argc - 1, argv + 1);
  }
  std::cerr << "error: unknown command '" << command << "'\n\n" << kUsage;
  return 2;
}

// Under mpirun a failing rank prints "rank N: error: ..." and takes the whole
// job down (MPI_Abort) instead of leaving the others blocked in a collective.
int fail(int code, const std::string& message) {
  if (slkv::world_size() > 1) {
    // One write, so that mpirun's output forwarding cannot split the line.
    const std::string line = "rank " + std::to_string(slkv::world_rank()) + ": error: " + message + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
    slkv::abort_job(code);
  }
  std::cerr << "error: " << message << "\n";
  slkv::mpi_finalize();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "--version" || command == "version") {
    std::cout << "slkv " << slkv::kVersion << "\n";
    return 0;
  }
  // The subcommand sees "slkv <command>" as its program name.
  std::string program = std::string("slkv ") + command;
  argv[1] = program.data();
  // MPI only when an MPI launcher started us: a plain run is world size 1.
  if (slkv::launched_by_mpi()) slkv::mpi_initialize(&argc, &argv);
  try {
    const int code = dispatch(command, argc, argv);
    slkv::mpi_finalize();
    return code;
  } catch (const cxxopts::exceptions::exception& e) {
    const std::string flag = flag_of_bad_value(e.what(), argc, argv);
    return fail(2, std::string(e.what()) + (flag.empty() ? "" : " for " + flag) + " (see 'slkv " + command +
                       " --help')");
  } catch (const slkv::UsageError& e) {
    return fail(2, std::string(e.what()) + " (see 'slkv " + command + " --help')");
  } catch (const slkv::Error& e) {
    return fail(1, e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    // A path that cannot be created, read or written is a problem of the input, not of slkv.
    return fail(1, filesystem_message(e));
  } catch (const std::ios_base::failure& e) {
    return fail(1, std::string("input/output: ") + e.what());
  } catch (const std::exception& e) {
    return fail(3, std::string("internal: ") + e.what());
  }
}
