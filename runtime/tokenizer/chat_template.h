#pragma once
// ChatTemplate: turns a conversation into the prompt text a model expects,
// by rendering the Jinja chat template of its tokenizer_config.json exactly
// as Hugging Face transformers' apply_chat_template(tokenize=False) does.
//
// Rendering matches transformers: trim_blocks and lstrip_blocks on, break /
// continue allowed, `tojson` as json.dumps(ensure_ascii=False),
// raise_exception(msg) and strftime_now(fmt) available, and the variables
// messages, tools (None when absent), documents (None),
// add_generation_prompt, the special tokens that are set (bos_token,
// eos_token, unk_token, pad_token, additional_special_tokens) and any extra
// keywords (e.g. enable_thinking). The Jinja subset is jinja/jinja_template.h's.
//
// A directory whose tokenizer_config.json has no chat_template gets a plain
// fallback (has_model_template() is false): the BOS token (when the
// tokenizer has one), each message as "<role>: <content>\n", then
// "assistant: " when add_generation_prompt.
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/tokenizer/jinja/jinja_template.h"

namespace slkv {

class ChatTemplate {
 public:
  // The fallback template's source (documented above).
  static const char* const kFallbackTemplate;

  // Reads dir/tokenizer_config.json (dir: a model or tokenizer directory).
  // `chat_template` may be a string or a list of {"name", "template"}
  // entries; bos_token / eos_token may be strings, null or AddedToken objects
  // {"content": ...}. Throws slkv::Error for a missing or malformed file, a
  // field of the wrong type, and TemplateError (an slkv::Error naming the
  // line) for a template that does not parse.
  static ChatTemplate load(const std::filesystem::path& dir);
  // The same from the text of a tokenizer_config.json; `source` names it in errors.
  static ChatTemplate from_config_text(const std::string& config_json, const std::string& source);

  // Renders `messages` (an array of {"role", "content", ...} objects) with
  // `tools` (null or an array of tool schemas) and `extra` keywords (null or
  // an object). The template is the selected one, else "tool_use" when tools
  // are given and the model has one, else "default" (transformers' choice).
  // Throws slkv::Error for bad arguments, TemplateError for a render error,
  // and TemplateRaisedError (message exactly the template's) when the
  // template calls raise_exception.
  //
  // nlohmann::json keeps object keys sorted, so `tojson` output (tool
  // schemas, tool call arguments) follows that order; render_ordered takes
  // ordered_json and keeps the caller's key order, as Python dicts do.
  std::string render(const nlohmann::json& messages, bool add_generation_prompt,
                     const nlohmann::json& tools = nullptr, const nlohmann::json& extra = nullptr) const;
  std::string render_ordered(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                             const nlohmann::ordered_json& tools = nullptr,
                             const nlohmann::ordered_json& extra = nullptr) const;

  // Whether the model provides a chat template (false: the fallback).
  bool has_model_template() const { return has_model_template_; }
  // The names of the model's templates ("default" for a single string).
  std::vector<std::string> template_names() const;
  // Always render with the named template; throws slkv::Error naming the
  // available ones when there is no such template.
  void select(const std::string& name);

 private:
  struct Named {
    std::string name;
    jinja::Template compiled;
  };
  ChatTemplate() = default;
  const jinja::Template& choose(bool has_tools) const;
  std::string render_values(const jinja::Value& messages, bool add_generation_prompt, const jinja::Value& tools,
                            const jinja::Value& extra) const;

  std::string source_;  // the config file, for messages
  std::vector<Named> templates_;
  std::string selected_;
  bool has_model_template_ = false;
  std::vector<std::pair<std::string, jinja::Value>> special_tokens_;
};

}  // namespace slkv
