// ChatTemplate tests: every golden rendering of the shared Llama-2,
// Llama-3 and Qwen3 chat templates byte for byte (errors by message), named
// templates, special tokens, the fallback, extra keywords and bad input.
#include "runtime/tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_nesting.h"
#include "runtime/tokenizer/jinja/jinja_error.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

fs::path tokenizers_dir() { return testing::shared_dir() / "tokenizers"; }

#define REQUIRE_CHAT_GOLDEN()                                                                  \
  if (!fs::exists(tokenizers_dir() / "golden" / "chat_llama2.jsonl")) {                        \
    GTEST_SKIP() << "shared test data not found at " << tokenizers_dir()                       \
                 << " (set SLKV_SHARED to the shared/ directory)";                             \
  }

// Renders every line of golden/chat_<model>.jsonl and compares.
void check_golden(const std::string& model) {
  const ChatTemplate chat = ChatTemplate::load(tokenizers_dir() / model);
  EXPECT_TRUE(chat.has_model_template());
  std::ifstream in(tokenizers_dir() / "golden" / ("chat_" + model + ".jsonl"));
  ASSERT_TRUE(in) << model;
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++count;
    const ordered_json golden = ordered_json::parse(line);
    const bool add_generation_prompt = golden.at("add_generation_prompt").get<bool>();
    SCOPED_TRACE(model + " line " + std::to_string(count) + ": " + line.substr(0, 200));
    if (golden.contains("rendered")) {
      const std::string expected = golden.at("rendered").get<std::string>();
      EXPECT_EQ(chat.render_ordered(golden.at("messages"), add_generation_prompt), expected);
      // The sorted-key nlohmann::json path gives the same text here (no tojson).
      EXPECT_EQ(chat.render(json::parse(golden.at("messages").dump()), add_generation_prompt), expected);
    } else {
      const std::string expected = golden.at("error").get<std::string>();
      try {
        chat.render_ordered(golden.at("messages"), add_generation_prompt);
        ADD_FAILURE() << "expected the error: " << expected;
      } catch (const jinja::TemplateRaisedError& e) {
        EXPECT_EQ(std::string(e.what()), expected);
      }
    }
  }
  EXPECT_GT(count, 0) << "no golden lines for " << model;
}

TEST(ChatTemplateGolden, Llama2) {
  REQUIRE_CHAT_GOLDEN();
  check_golden("llama2");
}

TEST(ChatTemplateGolden, Llama3) {
  REQUIRE_CHAT_GOLDEN();
  check_golden("llama3");
}

TEST(ChatTemplateGolden, Qwen3) {
  REQUIRE_CHAT_GOLDEN();
  check_golden("qwen3");
}

TEST(ChatTemplate, Qwen3ToolsThinkingAndExtraKeywords) {
  REQUIRE_CHAT_GOLDEN();
  const ChatTemplate chat = ChatTemplate::load(tokenizers_dir() / "qwen3");
  const ordered_json tools = ordered_json::parse(
      R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");
  const ordered_json messages = ordered_json::parse(R"([
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": "<think>\nNeed the tool.\n</think>\n\n", "tool_calls": [
          {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "°C"}}}]},
      {"role": "tool", "content": "{\"temp\": 21}"}
  ])");
  const std::string rendered = chat.render_ordered(messages, true, tools, ordered_json{{"enable_thinking", false}});
  const std::string expected =
      "<|im_start|>system\nBe brief.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
      "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
      "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather in a city\", "
      "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}\n"
      "</tools>\n\nFor each function call, return a json object with function name and arguments within "
      "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
      "</tool_call><|im_end|>\n"
      "<|im_start|>user\nWeather in Paris?<|im_end|>\n"
      "<|im_start|>assistant\n<think>\nNeed the tool.\n</think>\n\n"
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"°C\"}}\n</tool_call><|im_end|>\n"
      "<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response><|im_end|>\n"
      "<|im_start|>assistant\n<think>\n\n</think>\n\n";
  EXPECT_EQ(rendered, expected);
}

TEST(ChatTemplate, FallbackWithoutModelTemplate) {
  REQUIRE_CHAT_GOLDEN();
  // mistral-lenml's tokenizer_config.json has no chat_template.
  const ChatTemplate chat = ChatTemplate::load(tokenizers_dir() / "mistral-lenml");
  EXPECT_FALSE(chat.has_model_template());
  EXPECT_TRUE(chat.template_names().empty());
  const json messages = json::parse(R"([{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}])");
  EXPECT_EQ(chat.render(messages, false), "<s>system: Be kind.\nuser: Hi\n");
  EXPECT_EQ(chat.render(messages, true), "<s>system: Be kind.\nuser: Hi\nassistant: ");
  EXPECT_EQ(chat.render(json::array(), true), "<s>assistant: ");
}

TEST(ChatTemplate, AddedTokenObjectsAndSpecialTokens) {
  const ChatTemplate chat = ChatTemplate::from_config_text(R"({
      "bos_token": {"content": "<s>", "lstrip": false, "__type": "AddedToken"},
      "eos_token": "</s>", "pad_token": null,
      "additional_special_tokens": ["<a>", {"content": "<b>"}],
      "chat_template": "{{ bos_token }}|{{ eos_token }}|{{ pad_token is defined }}|{{ additional_special_tokens }}|{{ unk_token | default('none') }}"
  })", "config.json");
  EXPECT_EQ(chat.render(json::array(), false), "<s>|</s>|False|['<a>', '<b>']|none");
}

TEST(ChatTemplate, NamedTemplates) {
  const std::string config = R"({"chat_template": [
      {"name": "default", "template": "default:{{ messages|length }}"},
      {"name": "tool_use", "template": "tools:{{ tools|length }}"},
      {"name": "rag", "template": "rag:{{ documents }}"}]})";
  ChatTemplate chat = ChatTemplate::from_config_text(config, "config.json");
  EXPECT_TRUE(chat.has_model_template());
  EXPECT_EQ(chat.template_names(), (std::vector<std::string>{"default", "tool_use", "rag"}));
  const json messages = json::array({{{"role", "user"}, {"content", "x"}}});
  EXPECT_EQ(chat.render(messages, false), "default:1");
  EXPECT_EQ(chat.render(messages, false, json::array({json::object()})), "tools:1");
  chat.select("rag");
  EXPECT_EQ(chat.render(messages, false), "rag:None");
  EXPECT_THROW(chat.select("missing"), Error);

  ChatTemplate no_default = ChatTemplate::from_config_text(
      R"({"chat_template": [{"name": "a", "template": "A"}, {"name": "b", "template": "B"}]})", "config.json");
  try {
    no_default.render(messages, false);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("none is named 'default'"), std::string::npos) << e.what();
  }
  no_default.select("b");
  EXPECT_EQ(no_default.render(messages, false), "B");
}

TEST(ChatTemplate, RendersWithHuggingFaceWhitespaceSettings) {
  // trim_blocks drops the newline after a tag, lstrip_blocks the indentation before it.
  const ChatTemplate chat = ChatTemplate::from_config_text(
      R"({"chat_template": "{% for m in messages %}\n    {% if m.role == 'user' %}\n[{{ m.content }}]\n    {% endif %}\n{% endfor %}"})",
      "config.json");
  const json messages = json::parse(R"([{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}, {"role": "user", "content": "c"}])");
  EXPECT_EQ(chat.render(messages, false), "[a]\n[c]\n");
}

TEST(ChatTemplate, OrderedJsonKeepsKeyOrderForToJson) {
  const ChatTemplate chat =
      ChatTemplate::from_config_text(R"({"chat_template": "{{ tools[0] | tojson }}"})", "config.json");
  const ordered_json ordered = ordered_json::parse(R"([{"type": "function", "function": {"name": "f"}}])");
  EXPECT_EQ(chat.render_ordered(ordered_json::array(), false, ordered), R"({"type": "function", "function": {"name": "f"}})");
  EXPECT_EQ(chat.render(json::array(), false, json::parse(ordered.dump())), R"({"function": {"name": "f"}, "type": "function"})");
}

TEST(ChatTemplate, DeepNestingIsAClearErrorNotACrash) {
  // Each of these overflowed the stack (parser, renderer or the tree's
  // destructor) before nesting was bounded.
  const auto repeat = [](const std::string& text, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += text;
    return out;
  };
  const auto config = [](const std::string& chat_template) { return json{{"chat_template", chat_template}}.dump(); };
  for (const std::string& deep :
       {"{{ " + repeat("(", 5000) + "1" + repeat(")", 5000) + " }}", "{{ 1" + repeat("+1", 100000) + " }}",
        "{{ messages" + repeat("[0]", 100000) + " }}", "{{ 1" + repeat(" if true else 1", 100000) + " }}",
        "{{ 'x'" + repeat("|string", 100000) + " }}", "{{ " + repeat("not ", 5000) + "1 }}",
        repeat("{% if true %}", 5000) + "x" + repeat("{% endif %}", 5000)}) {
    try {
      ChatTemplate::from_config_text(config(deep), "c.json");
      ADD_FAILURE() << "no error for " << deep.substr(0, 40);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("levels deep"), std::string::npos) << e.what();
    }
  }
  // Nesting as deep as real templates go (and well beyond) still renders.
  EXPECT_EQ(ChatTemplate::from_config_text(config("{{ " + repeat("(", 150) + "1" + repeat(")", 150) + " }}"), "c.json")
                .render(json::array(), false),
            "1");
  EXPECT_EQ(ChatTemplate::from_config_text(config("{{ 1" + repeat("+1", 900) + " }}"), "c.json").render(json::array(), false),
            "901");
  // Messages nested 100000 levels deep parse as nlohmann::json (its parser
  // keeps its own stack) but are refused before anything walks them
  // recursively; deeper than kMaxJsonNesting is refused in either kind.
  const auto messages_nested = [&](int levels) {
    return R"([{"role": "user", "content": "hi", "x": )" + repeat("[", levels) + repeat("]", levels) + "}]";
  };
  const ChatTemplate chat = ChatTemplate::from_config_text(config("{{ messages[0].content }}"), "c.json");
  EXPECT_THROW(chat.render(json::parse(messages_nested(100000)), false), Error);
  EXPECT_THROW(chat.render_ordered(ordered_json::parse(messages_nested(int(kMaxJsonNesting))), false), Error);
  EXPECT_EQ(chat.render_ordered(ordered_json::parse(messages_nested(int(kMaxJsonNesting) - 2)), false), "hi");
}

TEST(ChatTemplate, BadInputIsAClearError) {
  const auto message_of = [](const auto& action) {
    try {
      action();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const auto contains = [](const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  };

  testing::ScratchDir dir("chat_template");
  EXPECT_TRUE(contains(message_of([&] { ChatTemplate::load(dir.path()); }), "tokenizer_config.json does not exist"));
  EXPECT_TRUE(contains(message_of([&] { ChatTemplate::load(dir.path() / "nowhere"); }), "does not exist"));

  std::ofstream(dir.path() / "tokenizer_config.json") << "{\"chat_template\": ";
  EXPECT_TRUE(contains(message_of([&] { ChatTemplate::load(dir.path()); }), "malformed JSON"));

  EXPECT_TRUE(contains(message_of([] { ChatTemplate::from_config_text(R"({"chat_template": 42})", "c.json"); }),
                       "c.json: chat_template: expected a string or a list"));
  EXPECT_TRUE(contains(message_of([] { ChatTemplate::from_config_text(R"({"chat_template": [{"name": "x"}]})", "c.json"); }),
                       "chat_template[0].template: expected a string"));
  EXPECT_TRUE(contains(message_of([] { ChatTemplate::from_config_text(R"({"chat_template": "x", "bos_token": 3})", "c.json"); }),
                       "bos_token"));
  EXPECT_TRUE(contains(message_of([] { ChatTemplate::from_config_text("[1]", "c.json"); }), "expected a JSON object"));

  // A template that does not parse names the config and the line.
  const std::string parse_error =
      message_of([] { ChatTemplate::from_config_text(R"({"chat_template": "ok\n{% if x %}\nnever closed"})", "c.json"); });
  EXPECT_TRUE(contains(parse_error, "c.json chat_template, line 3: Unexpected end of template")) << parse_error;

  const ChatTemplate chat = ChatTemplate::from_config_text(R"({"chat_template": "{{ messages[0].content }}"})", "c.json");
  EXPECT_TRUE(contains(message_of([&] { chat.render(json::object(), false); }), "must be a JSON array"));
  EXPECT_TRUE(contains(message_of([&] { chat.render(json::array(), false, json::object()); }), "tools must be null or a JSON array"));
  EXPECT_TRUE(contains(message_of([&] { chat.render(json::array(), false, nullptr, json::array()); }), "must be a JSON object"));
  EXPECT_TRUE(contains(message_of([&] { chat.render(json::array(), false, nullptr, json{{"messages", 1}}); }),
                       "'messages' is set by render() itself"));
  // A render error (an undefined value used) is a TemplateError naming the line.
  const std::string render_error = message_of([&] { chat.render(json::array(), false); });
  EXPECT_EQ(render_error, "c.json chat_template, line 1: list object has no element 0");
}

}  // namespace
}  // namespace slkv
