// Oracle tests: randomized conversations rendered by slkv's Jinja engine and
// by Python's jinja2 configured as Hugging Face transformers configures it
// (tests/tools/jinja_oracle.py) must agree byte for byte; when jinja2
// fails, slkv must fail too, and a raise_exception message must match
// exactly. Covers the shared Llama-2, Llama-3 and Qwen3 chat templates (through
// ChatTemplate) and templates of our own that exercise the rest of the
// subset. Skipped when python3 or its jinja2 module is missing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/tokenizer/chat_template.h"
#include "runtime/tokenizer/jinja/jinja_error.h"
#include "runtime/tokenizer/jinja/jinja_globals.h"
#include "runtime/tokenizer/jinja/jinja_json.h"
#include "runtime/tokenizer/jinja/jinja_template.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

constexpr int kCasesPerModelTemplate = 200;
constexpr int kCasesPerOwnTemplate = 40;

bool python_jinja_available() {
  return std::system("python3 -c 'import jinja2' > /dev/null 2>&1") == 0;
}

#define REQUIRE_PYTHON_JINJA()                                                                       \
  if (!python_jinja_available()) {                                                                   \
    GTEST_SKIP() << "python3 with the jinja2 module is needed for the oracle (Debian: python3-jinja2, " \
                    "installed by scripts/setup.sh)";                                                \
  }

// Runs the Python oracle on `request`; one result object per case.
std::vector<ordered_json> run_oracle(const ordered_json& request) {
  testing::ScratchDir dir("jinja_oracle");
  const fs::path input = dir.path() / "request.json";
  const fs::path output = dir.path() / "results.jsonl";
  std::ofstream(input, std::ios::binary) << request.dump();
  const std::string script = std::string(SLKV_SOURCE_DIR) + "/tests/tools/jinja_oracle.py";
  const std::string command = "python3 '" + script + "' < '" + input.string() + "' > '" + output.string() + "'";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  std::vector<ordered_json> results;
  std::ifstream in(output, std::ios::binary);
  for (std::string line; std::getline(in, line);) results.push_back(ordered_json::parse(line));
  return results;
}

// What slkv gave for one case.
struct Outcome {
  enum class Kind { Rendered, Raised, Failed } kind = Kind::Rendered;
  std::string text;  // the rendering or the error message
};

template <class Render>
Outcome outcome_of(const Render& render) {
  try {
    return {Outcome::Kind::Rendered, render()};
  } catch (const jinja::TemplateRaisedError& e) {
    return {Outcome::Kind::Raised, e.what()};
  } catch (const jinja::TemplateError& e) {
    return {Outcome::Kind::Failed, e.what()};
  }
}

// Compares slkv's outcomes with the oracle's; reports at most a few mismatches.
void compare(const std::string& what, const std::vector<ordered_json>& cases, const std::vector<Outcome>& ours,
             const std::vector<ordered_json>& theirs) {
  ASSERT_EQ(theirs.size(), ours.size()) << what << ": the oracle answered " << theirs.size() << " of " << ours.size();
  int rendered = 0, raised = 0, failed = 0, mismatches = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    const ordered_json& expected = theirs[i];
    const Outcome& got = ours[i];
    std::string problem;
    if (expected.contains("rendered")) {
      ++rendered;
      if (got.kind != Outcome::Kind::Rendered) {
        problem = "slkv failed: " + got.text;
      } else if (got.text != expected["rendered"].get<std::string>()) {
        problem = "renderings differ:\n  jinja2: " + ordered_json(expected["rendered"]).dump() +
                  "\n  slkv:   " + ordered_json(got.text).dump();
      }
    } else if (expected["type"] == "TemplateError") {  // raise_exception
      ++raised;
      if (got.kind != Outcome::Kind::Raised || got.text != expected["error"].get<std::string>())
        problem = "jinja2 raised " + expected["error"].dump() + ", slkv gave " + ordered_json(got.text).dump();
    } else {
      ++failed;
      if (got.kind == Outcome::Kind::Rendered)
        problem = "jinja2 failed (" + expected["type"].get<std::string>() + ": " + expected["error"].get<std::string>() +
                  ") but slkv rendered " + ordered_json(got.text).dump();
    }
    if (!problem.empty() && ++mismatches <= 5)
      ADD_FAILURE() << what << " case " << i << ": " << problem << "\n  case: " << cases[i].dump();
  }
  EXPECT_EQ(mismatches, 0) << what;
  std::cout << "[ oracle   ] " << what << ": " << ours.size() << " cases (" << rendered << " rendered, " << raised
            << " raise_exception, " << failed << " other errors), " << mismatches << " mismatches\n";
}

// ---- random conversations ----

const std::vector<std::string>& pieces() {
  static const std::vector<std::string> texts = {
      "Hello!", "What is the capital of France?", "  padded both sides  ", "line one\nline two\n\n",
      "日本語で答えて: 5+5?", "emoji 🎉 party", "quote ' single", "quote \" double", "both ' and \"",
      "back\\slash \\n literal", "tab\there", "{{ not a tag }} {% neither %}",
      "<think>\nprivate reasoning\n</think>\n\nThe answer.", "\u00a0nbsp\u00a0", "\u2003em space\u3000",
      "\n\nleading newlines", "trailing newlines\n\n", "Ünïcödé café", "zero\u200bwidth",
      "<tool_response>\n42\n</tool_response>", "", " ", "a", "Ελληνικά σοφία", "🙂🙃", "\r\nwindows\r\n",
      "x\u000by", "\u0085next line", "Is it 3 < 4 & 5 > 2?", "<b>bold</b> &amp; more"};
  return texts;
}

class Maker {
 public:
  explicit Maker(uint64_t seed) : rng_(seed) {}

  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <class T>
  const T& pick(const std::vector<T>& items) { return items[static_cast<size_t>(uniform(0, static_cast<int>(items.size()) - 1))]; }

  std::string text() {
    std::string out;
    const int parts = uniform(1, 3);
    for (int i = 0; i < parts; ++i) out += (i ? pick(std::vector<std::string>{" ", "\n", ""}) : "") + pick(pieces());
    return out;
  }

  ordered_json message(const std::string& role) { return {{"role", role}, {"content", text()}}; }

  double number() {
    const double value = std::uniform_real_distribution<double>(-100.0, 100.0)(rng_);
    const double scale = std::pow(10.0, uniform(0, 3));
    return std::round(value * scale) / scale;
  }

  ordered_json tool_schema(int index) {
    ordered_json properties = ordered_json::object();
    properties["city"] = {{"type", "string"}, {"description", text()}};
    if (chance(0.5)) properties["days"] = {{"type", "integer"}, {"minimum", 1}, {"default", number()}};
    if (chance(0.3)) properties["units"] = {{"enum", {"°C", "°F", nullptr}}, {"strict", true}};
    return {{"type", "function"},
            {"function",
             {{"name", "tool_" + std::to_string(index)},
              {"description", text()},
              {"parameters", {{"type", "object"}, {"properties", properties}, {"required", {"city"}}}}}}};
  }

  ordered_json tool_call(int index) {
    ordered_json arguments = {{"city", text()}, {"days", uniform(1, 9)}, {"ratio", number()}, {"flags", {true, nullptr}}};
    ordered_json call = {{"name", "tool_" + std::to_string(index)},
                         {"arguments", chance(0.3) ? ordered_json(arguments.dump()) : arguments}};
    if (chance(0.8)) return {{"type", "function"}, {"function", call}};
    return call;  // some clients send the function without the wrapper
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

ordered_json llama2_case(Maker& m) {
  ordered_json messages = ordered_json::array();
  if (m.chance(0.5)) messages.push_back(m.message("system"));
  const int turns = m.uniform(1, 6);
  for (int i = 0; i < turns; ++i) messages.push_back(m.message(i % 2 == 0 ? "user" : "assistant"));
  if (m.chance(0.1)) {  // break the alternation: the template must raise
    const size_t at = static_cast<size_t>(m.uniform(0, static_cast<int>(messages.size()) - 1));
    messages[at]["role"] = messages[at]["role"] == "user" ? "assistant" : "user";
  }
  return {{"messages", messages}, {"add_generation_prompt", m.chance(0.5)}};
}

ordered_json llama3_case(Maker& m) {
  ordered_json messages = ordered_json::array();
  const int count = m.uniform(0, 6);
  for (int i = 0; i < count; ++i)
    messages.push_back(m.message(m.pick(std::vector<std::string>{"system", "user", "assistant", "ipython"})));
  return {{"messages", messages}, {"add_generation_prompt", m.chance(0.5)}};
}

ordered_json qwen3_case(Maker& m) {
  ordered_json messages = ordered_json::array();
  if (m.chance(0.4)) messages.push_back(m.message("system"));
  const int turns = m.uniform(1, 4);
  for (int t = 0; t < turns; ++t) {
    ordered_json user = m.message("user");
    if (m.chance(0.15)) user["content"] = "<tool_response>" + m.text() + "</tool_response>";
    messages.push_back(user);
    if (t + 1 == turns && m.chance(0.4)) break;  // end on the user's turn
    ordered_json assistant = m.message("assistant");
    if (m.chance(0.3)) assistant["content"] = "<think>\n" + m.text() + "\n</think>\n\n" + m.text();
    if (m.chance(0.2)) assistant["reasoning_content"] = m.chance(0.8) ? ordered_json(m.text()) : ordered_json(nullptr);
    const bool calls = m.chance(0.35);
    if (calls) {
      ordered_json list = ordered_json::array();
      const int count = m.uniform(1, 2);
      for (int i = 0; i < count; ++i) list.push_back(m.tool_call(i));
      assistant["tool_calls"] = list;
      if (m.chance(0.5)) assistant["content"] = "";
    }
    messages.push_back(assistant);
    if (calls) {
      const int results = m.uniform(1, 2);
      for (int i = 0; i < results; ++i) messages.push_back(m.message("tool"));
    }
  }
  if (m.chance(0.1)) messages.push_back(m.message("system"));  // a system message not first
  if (m.chance(0.03)) messages[static_cast<size_t>(m.uniform(0, static_cast<int>(messages.size()) - 1))]["content"] = nullptr;
  ordered_json result = {{"messages", messages}, {"add_generation_prompt", m.chance(0.5)}};
  if (m.chance(0.5)) {
    ordered_json tools = ordered_json::array();
    const int count = m.uniform(1, 2);
    for (int i = 0; i < count; ++i) tools.push_back(m.tool_schema(i));
    result["tools"] = tools;
  }
  const int thinking = m.uniform(0, 2);
  if (thinking > 0) result["extra"] = {{"enable_thinking", thinking == 1}};
  return result;
}

void check_model_template(const std::string& model, ordered_json (*make_case)(Maker&), uint64_t seed) {
  const fs::path dir = testing::shared_dir() / "tokenizers" / model;
  const ChatTemplate chat = ChatTemplate::load(dir);
  Maker maker(seed);
  ordered_json request = {{"templates", ordered_json::array()}, {"cases", ordered_json::array()}};
  std::vector<ordered_json> cases;
  std::vector<Outcome> ours;
  for (int i = 0; i < kCasesPerModelTemplate; ++i) {
    ordered_json c = make_case(maker);
    const ordered_json tools = c.contains("tools") ? c["tools"] : ordered_json(nullptr);
    const ordered_json extra = c.contains("extra") ? c["extra"] : ordered_json(nullptr);
    ours.push_back(outcome_of(
        [&] { return chat.render_ordered(c["messages"], c["add_generation_prompt"].get<bool>(), tools, extra); }));
    c["config"] = (dir / "tokenizer_config.json").string();
    request["cases"].push_back(c);
    cases.push_back(c);
  }
  compare(model, cases, ours, run_oracle(request));
}

#define REQUIRE_SHARED_TOKENIZERS()                                                              \
  if (!fs::exists(testing::shared_dir() / "tokenizers" / "qwen3" / "tokenizer_config.json")) { \
    GTEST_SKIP() << "shared test data not found at " << testing::shared_dir()                   \
                 << " (set SLKV_SHARED to the shared/ directory)";                              \
  }

TEST(JinjaOracle, Llama2ChatTemplate) {
  REQUIRE_PYTHON_JINJA();
  REQUIRE_SHARED_TOKENIZERS();
  check_model_template("llama2", llama2_case, 1001);
}

TEST(JinjaOracle, Llama3ChatTemplate) {
  REQUIRE_PYTHON_JINJA();
  REQUIRE_SHARED_TOKENIZERS();
  check_model_template("llama3", llama3_case, 1002);
}

TEST(JinjaOracle, Qwen3ChatTemplate) {
  REQUIRE_PYTHON_JINJA();
  REQUIRE_SHARED_TOKENIZERS();
  check_model_template("qwen3", qwen3_case, 1003);
}

// ---- templates of our own, over the rest of the subset ----

ordered_json own_variables(Maker& m);
ordered_json tool_conversation(Maker& m);

struct OwnTemplate {
  const char* name;
  bool hf;  // trim_blocks + lstrip_blocks, else Jinja's defaults
  const char* source;
  ordered_json (*variables)(Maker&) = own_variables;
  int cases = kCasesPerOwnTemplate;
};

const std::vector<OwnTemplate>& own_templates() {
  static const std::vector<OwnTemplate> templates = {
      {"loops, macros, namespace, slicing", true, R"J(
{%- macro fmt(m, idx, prefix='#') -%}
{{ prefix }}{{ idx }} {{ m.role|upper }}({{ m.content|length }}): {{ m.content|trim|replace('\n', ' / ') }}
{%- endmacro -%}
{%- set ns = namespace(users=0, chars=0, last_role=none) -%}
{%- for m in messages if m.role != 'tool' -%}
{%- set ns.chars = ns.chars + m.content|length -%}
{%- if m.role == 'user' %}{% set ns.users = ns.users + 1 %}{% endif -%}
{{ fmt(m, loop.index) }} [{{ loop.index0 }}/{{ loop.length }} rev={{ loop.revindex }}{% if loop.first %} first{% endif %}{% if loop.last %} last{% endif %}{% if loop.previtem is defined %} prev={{ loop.previtem.role }}{% endif %}{% if loop.nextitem is defined %} next={{ loop.nextitem.role }}{% endif %}] {{ loop.cycle('odd', 'even') }}
{% set ns.last_role = m.role %}
{%- else -%}
no messages
{% endfor -%}
users={{ ns.users }} chars={{ ns.chars }} last={{ ns.last_role }} ratio={{ (ns.chars / (ns.users or 1))|round(2) }}
{{ messages[1:]|map(attribute='role')|join(',') }} | {{ messages[::-1]|map(attribute='role')|list }} | {{ (messages|first).content[:5] if messages else 'none' }} | {{ messages[-2:]|length }} | {{ messages[1::2]|length }}
{{ messages|selectattr('role', 'equalto', 'user')|list|length }} {{ messages|rejectattr('role', 'in', ['user', 'system'])|map(attribute='role')|unique|list }}
{%- if add_generation_prompt %}

>>> {% endif %}
)J"},
      {"printing, tojson, str methods, numbers", true, R"J(
{%- for m in messages %}
{{ loop.index }}. {{ m|tojson }}
{%- if loop.first %} {{ m|tojson(indent=2) }}{% else %} {{ m.keys()|list }}{% endif %}

{% for k, v in m.items() %} {{ k }}={{ v is string }}/{{ v|string|length }}{% endfor %}

 {{ m.content.split()|length }} {{ m.content.strip().startswith(('Hello', 'line')) }} {{ m.content.lstrip(' \n').endswith('?') }} {{ m.content.find('o') }} {{ m.content.replace('o', '0', 2) }} {{ m.content.upper() }} {{ m.content.title() }} {{ m.content.split('\n') }} {{ m.content.rstrip() ~ '|' }} {{ [m.content] }} {{ m.content.splitlines() }} {{ m.content[::-1] }} {{ m.content[2:7] }}
{%- endfor %}
{{ n }} {{ x }} {{ n / 3 }} {{ n // 3 }} {{ n % 3 }} {{ x * 2 }} {{ x // 1 }} {{ x % 7 }} {{ n ** 2 }} {{ x|round(1) }} {{ x|int }} {{ n|abs }} {{ x|abs }} {{ (x ~ '')|float }} {{ n + x }} {{ [n, x, flag, none, word] }} {{ {'n': n, 'w': word} }} {{ word|tojson }} {{ flag and word or 'empty' }} {{ (n, word) }} {{ x > n }} {{ -x }} {{ n * word[:2] }}
)J"},
      {"Jinja default whitespace", false, R"J({% for m in messages %}
  {%- if m.role == 'system' %}
<<SYS>>{{ m.content }}<</SYS>>
  {% elif m.role == 'user' -%}
    [USER] {{ m.content }}
  {%- else %}
    {{ m.role }}: {{ m.content -}}
  {% endif %}
{% endfor %}
{# a comment #}
  {{- '>>' if add_generation_prompt }}
   {% if flag %}  flag  {% endif %}   end
)J"},
      {"filters", true, R"J(
{%- set roles = messages|map(attribute='role')|list -%}
{{ roles|unique|list }} {{ roles|sort }} {{ roles|sort(reverse=true)|first }} {{ roles|length }} {{ roles|join('/') }} {{ roles|select('equalto', 'user')|list|length }}
{{ messages|map(attribute='content')|map('length')|list }} {{ messages|map(attribute='content')|map('length')|sum }} {{ messages|map(attribute='content')|map('trim')|select|list|length }}
{{ (messages|map(attribute='content')|list|max) if messages else '' }} {{ messages|sort(attribute='content')|map(attribute='role')|list }} {{ messages|map(attribute='weight', default=0)|list }}
{%- for m in messages|reverse %}
{{ loop.revindex }}: {{ m.content|indent(2, first=true) }}|{{ m.content|center(30) }}|{{ m.content|wordcount }}|{{ m.content|capitalize }}|{{ m.content|title }}|{{ m.content|e }}|{{ m.content|striptags }}|{{ m.content|first|default('-') }}|{{ m.content|last|default('-') }}|{{ m.content|list|length }}|{{ m.content|trim('\n ') }}|{{ m.content|replace('\n', '\\n') }}|{{ m|dictsort }}|{{ m|items|list|length }}|{{ m.get('weight', 'none') }}
{%- endfor %}
{{ word|default('empty', true) }} {{ missing|default(word) }} {{ [n, 3, -1]|min }} {{ [x, n]|max }} {{ messages|batch(2)|list|length }} {{ roles|reverse|join }}
)J"},
      {"raise_exception and errors", true, R"J(
{%- if messages|length > 4 -%}{{ raise_exception('Too many messages: ' ~ messages|length) }}{%- endif -%}
{%- for m in messages -%}
{%- if m.role not in ['system', 'user', 'assistant', 'tool'] %}{{ raise_exception('Unknown role ' ~ m.role|tojson) }}{% endif -%}
{{ m.role[0]|upper }}{{ m.content[:3] }}{% if m.weight is defined %}{{ m.weight * 2 }}{% endif %};
{%- endfor -%}
{{ messages[0].content.missing.x if flag and n > 0 }}
{{- (n / 0) if n == 7 }}
)J"},
      {"call, filter, set and with blocks, formatting", true, R"J(
{%- macro tag(name) -%}<{{ name }}>{{ caller() }}</{{ name }}>{%- endmacro -%}
{%- macro row(cells, sep=' | ') -%}{{ cells|join(sep) }}{%- endmacro -%}
{%- for m in messages -%}
{% call tag(m.role) %}{{ m.content|trim }}{% endcall %}

{% endfor -%}
{% filter upper %}{{ word }} and {{ n }}{% endfilter %}

{% set summary %}{{ messages|length }} messages, flag={{ flag }}{% endset %}{{ summary|replace(' ', '_') }}
{% with total = n * 2, label = 'n' %}{{ label }}*2={{ total }}{% endwith %}

{{ dict(a=n, b=word) }} {{ range(n|abs % 5)|list }} {{ range(0, 10, 3)|list|join(',') }}
{{ '%s|%5.2f|%d'|format(word, x, n) }} {{ '{}:{:>8}'.format(n, word[:5]) }} {{ '%-6s|' % word[:4] }}
{{ row([n, x, flag]) }} {{ row(['a', 'b'], sep='-') }}
{%- for i in range(10) %}{% if i is divisibleby 3 %}{% continue %}{% endif %}{% if i > 6 %}{% break %}{% endif %}{{ i }}{% endfor %}

{% generation %}gen {{ n }}{% endgeneration %}
)J"},
      // In the style of Llama 3.1's template (tools in the system or first
      // user message, builtin tools, `is iterable` on content).
      {"Llama 3.1 style tools", true, R"J(
{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\n\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{%- if tools_in_user_message and not tools is none %}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
)J", tool_conversation, 100},
      // In the style of Mistral's tool templates (alternation check through
      // a namespace, dict equality, `out[:-1]`, loop filters, call ids).
      {"Mistral style tools", true, R"J(
{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

{%- set ns = namespace() %}
{%- set ns.index = 0 %}
{%- for message in loop_messages %}
    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
            {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
        {%- endif %}
        {%- set ns.index = ns.index + 1 %}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS] [" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
            {%- endif %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST] " + system_message + "\n\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST] " + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif message.tool_calls is defined and message.tool_calls is not none %}
        {{- "[TOOL_CALLS] [" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- " " + message["content"]|trim + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS] {"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}
)J", tool_conversation, 100},
  };
  return templates;
}

ordered_json own_variables(Maker& m) {
  ordered_json messages = ordered_json::array();
  const int count = m.uniform(0, 6);
  for (int i = 0; i < count; ++i) {
    ordered_json message = m.message(m.pick(std::vector<std::string>{"system", "user", "assistant", "tool", "user"}));
    if (m.chance(0.2)) message["weight"] = m.chance(0.5) ? ordered_json(m.uniform(-5, 5)) : ordered_json(m.number());
    if (m.chance(0.05)) message["role"] = "narrator";
    messages.push_back(message);
  }
  return {{"messages", messages},
          {"add_generation_prompt", m.chance(0.5)},
          {"bos_token", "<s>"},
          {"eos_token", "</s>"},
          {"n", m.uniform(-20, 20)},
          {"x", m.number()},
          {"flag", m.chance(0.5)},
          {"word", m.pick(pieces())}};
}

// Conversations with tool calls and tool results, for the tool templates:
// call ids right or wrong, content as text, a dict or a list of parts,
// arguments of several types, and the keywords those templates read.
ordered_json tool_conversation(Maker& m) {
  const auto call_id = [&] {
    static const std::string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string id;
    const int length = m.chance(0.9) ? 9 : m.uniform(1, 12);
    for (int i = 0; i < length; ++i) id += alphabet[static_cast<size_t>(m.uniform(0, 61))];
    return id;
  };
  ordered_json messages = ordered_json::array();
  if (m.chance(0.6)) messages.push_back(m.message("system"));
  const int turns = m.uniform(1, 4);
  for (int t = 0; t < turns; ++t) {
    ordered_json user = m.message("user");
    if (m.chance(0.08)) user["content"] = {{{"type", "text"}, {"text", m.text()}}};
    messages.push_back(user);
    if (m.chance(0.3)) {
      ordered_json calls = ordered_json::array();
      const int count = m.chance(0.9) ? 1 : 2;
      std::vector<std::string> ids;
      for (int i = 0; i < count; ++i) {
        ids.push_back(call_id());
        ordered_json arguments = {{"query", m.text()}};
        if (m.chance(0.3)) arguments["count"] = m.chance(0.5) ? ordered_json(m.uniform(1, 5)) : ordered_json("3");
        calls.push_back({{"id", ids.back()},
                         {"type", "function"},
                         {"function", {{"name", m.pick(std::vector<std::string>{"brave_search", "get_weather"})},
                                       {"arguments", arguments}}}});
      }
      messages.push_back({{"role", "assistant"}, {"tool_calls", calls}});
      for (const std::string& id : ids) {
        ordered_json result = {{"role", "tool"}, {"content", m.text()}};
        if (m.chance(0.15)) result["content"] = {{"content", m.text()}, {"score", m.number()}};
        if (m.chance(0.9)) result["tool_call_id"] = id;
        messages.push_back(result);
      }
      if (m.chance(0.7)) messages.push_back(m.message("assistant"));
    } else if (t + 1 < turns || m.chance(0.5)) {
      messages.push_back(m.message("assistant"));
    }
  }
  if (m.chance(0.08)) std::swap(messages[0], messages[messages.size() - 1]);  // break the order
  ordered_json variables = {{"messages", messages},
                            {"add_generation_prompt", m.chance(0.5)},
                            {"bos_token", "<s>"},
                            {"eos_token", "</s>"}};
  if (m.chance(0.6)) {
    ordered_json tools = ordered_json::array();
    const int count = m.uniform(1, 2);
    for (int i = 0; i < count; ++i) tools.push_back(m.tool_schema(i));
    variables[m.chance(0.15) ? "custom_tools" : "tools"] = tools;
  }
  if (m.chance(0.3)) variables["builtin_tools"] = {"brave_search", "wolfram_alpha", "code_interpreter"};
  if (m.chance(0.3)) variables["date_string"] = m.pick(std::vector<std::string>{"01 Jan 2025", "29 Feb 2024"});
  if (m.chance(0.5)) variables["tools_in_user_message"] = m.chance(0.5);
  return variables;
}

TEST(JinjaOracle, OwnTemplates) {
  REQUIRE_PYTHON_JINJA();
  Maker maker(2024);
  ordered_json request = {{"templates", ordered_json::array()}, {"cases", ordered_json::array()}};
  std::vector<ordered_json> cases;
  std::vector<Outcome> ours;
  const auto& templates = own_templates();
  for (size_t t = 0; t < templates.size(); ++t) {
    request["templates"].push_back({{"source", templates[t].source},
                                    {"trim_blocks", templates[t].hf},
                                    {"lstrip_blocks", templates[t].hf}});
    jinja::TemplateOptions options;
    options.trim_blocks = options.lstrip_blocks = templates[t].hf;
    options.name = templates[t].name;
    const jinja::Template compiled(templates[t].source, options);
    for (int i = 0; i < templates[t].cases; ++i) {
      const ordered_json variables = templates[t].variables(maker);
      std::map<std::string, jinja::Value> values;
      for (const auto& [key, value] : variables.items()) values[key] = jinja::from_json(value);
      values["raise_exception"] = jinja::raise_exception_function();
      ours.push_back(outcome_of([&] { return compiled.render(values); }));
      const ordered_json c = {{"template", t}, {"variables", variables}};
      request["cases"].push_back(c);
      cases.push_back(c);
    }
  }
  // One oracle run for all templates, compared template by template.
  const std::vector<ordered_json> theirs = run_oracle(request);
  ASSERT_EQ(theirs.size(), ours.size());
  size_t begin = 0;
  for (const OwnTemplate& own : templates) {
    const auto from = static_cast<std::ptrdiff_t>(begin);
    const auto to = static_cast<std::ptrdiff_t>(begin + static_cast<size_t>(own.cases));
    compare(own.name, std::vector<ordered_json>(cases.begin() + from, cases.begin() + to),
            std::vector<Outcome>(ours.begin() + from, ours.begin() + to),
            std::vector<ordered_json>(theirs.begin() + from, theirs.begin() + to));
    begin += static_cast<size_t>(own.cases);
  }
}

}  // namespace
}  // namespace slkv
