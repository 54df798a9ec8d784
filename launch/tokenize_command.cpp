// slkv tokenize: text on stdin -> JSON array of ids; --decode: ids -> text.
#include <cxxopts.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/text_file.h"
#include "launch/cli_common.h"
#include "launch/commands.h"
#include "runtime/tokenizer/tokenizer.h"

namespace slkv {

int run_tokenize(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Tokenize stdin with a model's tokenizer.json (or --decode a JSON id array)");
  // clang-format off
  options.add_options()
      ("model", "directory with tokenizer.json (and tokenizer_config.json)", cxxopts::value<std::string>())
      ("no-special", "do not add the post-processor's special tokens (e.g. BOS)")
      ("decode", "read a JSON array of ids on stdin and print the text")
      ("skip-special", "with --decode: drop special tokens from the text");
  // clang-format on
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  Tokenizer tokenizer = Tokenizer::load(required_flag(args, "model", "DIR"));
  const std::string input = read_text_stream(std::cin, "standard input");

  if (args.count("decode")) {
    nlohmann::json ids = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false);
    if (!ids.is_array()) throw Error("--decode expects a JSON array of token ids on stdin");
    std::vector<int32_t> tokens;
    for (const auto& id : ids) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= tokenizer.vocab_size())
        throw Error("--decode: " + id.dump() + " is not a token id of this tokenizer (vocabulary size " +
                    std::to_string(tokenizer.vocab_size()) + ")");
      tokens.push_back(id.get<int32_t>());
    }
    std::cout << tokenizer.decode(tokens, args.count("skip-special") > 0);
    return 0;
  }
  nlohmann::json out = tokenizer.encode(input, /*add_special_tokens=*/!args.count("no-special"));
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace slkv
