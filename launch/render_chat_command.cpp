// slkv render-chat: prints exactly the prompt the model's chat template
// renders for the JSON array of messages on stdin, with nothing added.
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_nesting.h"
#include "launch/cli_common.h"
#include "launch/commands.h"
#include "runtime/tokenizer/chat_template.h"

namespace slkv {

int run_render_chat(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Render a conversation (JSON array of messages on stdin) with a model's chat template");
  // clang-format off
  options.add_options()
      ("model", "model or tokenizer directory (tokenizer_config.json with the chat template)", cxxopts::value<std::string>())
      ("add-generation-prompt", "end with the template's assistant prompt");
  // clang-format on
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::filesystem::path dir = required_flag(args, "model", "DIR");
  const ChatTemplate chat_template = ChatTemplate::load(dir);
  const InputText input = read_input_text("-");
  check_utf8(input.text, input.name);
  if (json_text_nesting_depth(input.text) > kMaxJsonNesting)
    throw Error(json_too_deep_message(input.name + ": the JSON"));
  nlohmann::ordered_json messages;  // keys in the input's order: `tojson` writes them so, as Python does
  try {
    messages = nlohmann::ordered_json::parse(input.text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(input.name + ": not valid JSON: " + e.what());
  }
  if (!messages.is_array()) throw Error(input.name + ": expected a JSON array of messages, got " + std::string(messages.type_name()));
  std::cout << chat_template.render_ordered(messages, args.count("add-generation-prompt") > 0) << std::flush;
  return 0;
}

}  // namespace slkv
