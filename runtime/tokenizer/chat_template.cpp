#include "runtime/tokenizer/chat_template.h"

#include "core/error.h"
#include "core/json_nesting.h"
#include "core/text_file.h"
#include "runtime/tokenizer/jinja/jinja_globals.h"
#include "runtime/tokenizer/jinja/jinja_json.h"

namespace slkv {
namespace {

using jinja::Value;

jinja::TemplateOptions hf_options(const std::string& name) {
  jinja::TemplateOptions options;
  options.trim_blocks = true;
  options.lstrip_blocks = true;
  options.name = name;
  return options;
}

// A special token: a string, null (unset) or an AddedToken {"content": ...}.
std::optional<std::string> token_text(const nlohmann::json& config, const std::string& field, const std::string& source) {
  const auto it = config.find(field);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    const auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  throw Error(source + ": " + field + ": expected a string or an object with a string \"content\"");
}

}  // namespace

const char* const ChatTemplate::kFallbackTemplate =
    "{{- bos_token -}}\n"
    "{%- for message in messages -%}\n"
    "{{ message['role'] }}: {{ message['content'] }}{{ '\\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt %}assistant: {% endif -%}";

ChatTemplate ChatTemplate::load(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "tokenizer_config.json";
  if (!std::filesystem::exists(path))
    throw Error("no chat template configuration: " + path.string() + " does not exist");
  return from_config_text(read_text_file(path), path.string());
}

ChatTemplate ChatTemplate::from_config_text(const std::string& config_json, const std::string& source) {
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(config_json);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(source + ": malformed JSON: " + e.what());
  }
  if (!config.is_object()) throw Error(source + ": expected a JSON object");

  ChatTemplate result;
  result.source_ = source;
  const auto field = config.find("chat_template");
  if (field == config.end() || field->is_null()) {
    result.templates_.push_back({"fallback", jinja::Template(kFallbackTemplate, hf_options("fallback chat template"))});
  } else if (field->is_string()) {
    result.has_model_template_ = true;
    result.templates_.push_back(
        {"default", jinja::Template(field->get<std::string>(), hf_options(source + " chat_template"))});
  } else if (field->is_array()) {
    result.has_model_template_ = true;
    for (size_t i = 0; i < field->size(); ++i) {
      const nlohmann::json& entry = (*field)[i];
      const std::string where = source + ": chat_template[" + std::to_string(i) + "]";
      if (!entry.is_object()) throw Error(where + ": expected an object with \"name\" and \"template\"");
      const auto name = entry.find("name");
      const auto text = entry.find("template");
      if (name == entry.end() || !name->is_string()) throw Error(where + ".name: expected a string");
      if (text == entry.end() || !text->is_string()) throw Error(where + ".template: expected a string");
      result.templates_.push_back({name->get<std::string>(),
                                   jinja::Template(text->get<std::string>(),
                                                   hf_options(source + " chat_template '" + name->get<std::string>() + "'"))});
    }
    if (result.templates_.empty()) throw Error(source + ": chat_template: the list of templates is empty");
  } else {
    throw Error(source + ": chat_template: expected a string or a list of {\"name\", \"template\"} objects, got " +
                std::string(field->type_name()));
  }

  // transformers passes its special_tokens_map: the tokens that are set and
  // not empty.
  for (const char* name : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
    const std::optional<std::string> text = token_text(config, name, source);
    if (text && !text->empty()) result.special_tokens_.emplace_back(name, Value::string(*text));
  }
  if (const auto extra = config.find("additional_special_tokens"); extra != config.end() && !extra->is_null()) {
    if (!extra->is_array()) throw Error(source + ": additional_special_tokens: expected a list");
    std::vector<Value> tokens;
    for (size_t i = 0; i < extra->size(); ++i) {
      const nlohmann::json wrapper = {{"token", (*extra)[i]}};
      tokens.push_back(Value::string(*token_text(wrapper, "token", source + ": additional_special_tokens[" + std::to_string(i) + "]")));
    }
    if (!tokens.empty()) result.special_tokens_.emplace_back("additional_special_tokens", Value::list(std::move(tokens)));
  }
  return result;
}

std::vector<std::string> ChatTemplate::template_names() const {
  std::vector<std::string> names;
  if (!has_model_template_) return names;
  for (const Named& t : templates_) names.push_back(t.name);
  return names;
}

void ChatTemplate::select(const std::string& name) {
  for (const Named& t : templates_) {
    if (t.name == name) {
      selected_ = name;
      return;
    }
  }
  std::string available;
  for (const std::string& n : template_names()) available += (available.empty() ? "" : ", ") + n;
  throw Error(source_ + ": no chat template named '" + name + "' (available: " +
              (available.empty() ? std::string("none") : available) + ")");
}

const jinja::Template& ChatTemplate::choose(bool has_tools) const {
  const auto find = [&](const std::string& name) -> const jinja::Template* {
    for (const Named& t : templates_)
      if (t.name == name) return &t.compiled;
    return nullptr;
  };
  if (!selected_.empty()) return *find(selected_);
  if (templates_.size() == 1) return templates_[0].compiled;
  if (has_tools) {
    if (const jinja::Template* tool_use = find("tool_use")) return *tool_use;
  }
  if (const jinja::Template* fallback = find("default")) return *fallback;
  std::string available;
  for (const Named& t : templates_) available += (available.empty() ? "" : ", ") + t.name;
  throw Error(source_ + ": the model has several chat templates and none is named 'default'; select one of: " +
              available);
}

namespace {

// Refuses what nests too deep to convert and render without overflowing the stack.
template <class Json>
void check_nesting(std::initializer_list<const Json*> given) {
  for (const Json* json : given)
    if (json_nesting_depth(*json) > kMaxJsonNesting)
      throw Error(json_too_deep_message("the chat messages, tools or keywords"));
}

}  // namespace

std::string ChatTemplate::render(const nlohmann::json& messages, bool add_generation_prompt,
                                 const nlohmann::json& tools, const nlohmann::json& extra) const {
  check_nesting({&messages, &tools, &extra});  // before the copies below, which recurse
  return render_ordered(nlohmann::ordered_json(messages), add_generation_prompt, nlohmann::ordered_json(tools),
                        nlohmann::ordered_json(extra));
}

std::string ChatTemplate::render_ordered(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                         const nlohmann::ordered_json& tools,
                                         const nlohmann::ordered_json& extra) const {
  if (!messages.is_array())
    throw Error("chat messages must be a JSON array of {\"role\", \"content\"} objects, got " +
                std::string(messages.type_name()));
  if (!tools.is_null() && !tools.is_array())
    throw Error("chat tools must be null or a JSON array of tool schemas, got " + std::string(tools.type_name()));
  if (!extra.is_null() && !extra.is_object())
    throw Error("extra chat template keywords must be a JSON object, got " + std::string(extra.type_name()));
  check_nesting({&messages, &tools, &extra});
  return render_values(jinja::from_json(messages), add_generation_prompt, jinja::from_json(tools),
                       jinja::from_json(extra));
}

std::string ChatTemplate::render_values(const Value& messages, bool add_generation_prompt, const Value& tools,
                                        const Value& extra) const {
  std::map<std::string, Value> variables;
  variables["raise_exception"] = jinja::raise_exception_function();
  variables["strftime_now"] = jinja::strftime_now_function();
  for (const auto& [name, value] : special_tokens_) variables[name] = value;
  if (!extra.is_none()) {
    for (const auto& [key, value] : extra.as_dict().entries) {
      const std::string& name = key.as_string();
      if (name == "messages" || name == "tools" || name == "documents" || name == "add_generation_prompt")
        throw Error("extra chat template keyword '" + name + "' is set by render() itself");
      variables[name] = value;
    }
  }
  variables["messages"] = messages;
  variables["tools"] = tools;
  variables["documents"] = Value::none();
  variables["add_generation_prompt"] = Value::boolean(add_generation_prompt);
  return choose(!tools.is_none()).render(variables);
}

}  // namespace slkv
