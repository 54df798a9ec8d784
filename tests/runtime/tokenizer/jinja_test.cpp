// Jinja engine tests: one table of small focused templates per construct,
// each expected output being what Jinja2 3.1 renders (the environment of
// tests/tools/jinja_oracle.py: Hugging Face's, with trim_blocks and
// lstrip_blocks only where a case says so), then errors, which must be a
// TemplateError naming the line and the problem.
#include "runtime/tokenizer/jinja/jinja_template.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/tokenizer/jinja/jinja_error.h"
#include "runtime/tokenizer/jinja/jinja_globals.h"
#include "runtime/tokenizer/jinja/jinja_json.h"
#include "runtime/tokenizer/jinja/jinja_value.h"

namespace slkv::jinja {
namespace {

struct RenderCase {
  const char* source;
  const char* variables;  // a JSON object
  bool hf;                // trim_blocks and lstrip_blocks, as transformers
  const char* expected;
};

struct ErrorCase {
  const char* source;
  const char* variables;
  const char* message;  // a part of what() after "template, line N: "
  int line;
};

std::map<std::string, Value> variables_from(const char* json_text) {
  std::map<std::string, Value> variables;
  const nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(json_text);
  for (const auto& [key, value] : parsed.items()) variables[key] = from_json(value);
  variables["raise_exception"] = raise_exception_function();
  return variables;
}

std::string render(const std::string& source, const char* variables = "{}", bool hf = false) {
  TemplateOptions options;
  options.trim_blocks = hf;
  options.lstrip_blocks = hf;
  return Template(source, options).render(variables_from(variables));
}

void expect_renders(const std::vector<RenderCase>& cases) {
  for (const RenderCase& c : cases) {
    SCOPED_TRACE(std::string("template: ") + c.source);
    try {
      EXPECT_EQ(render(c.source, c.variables, c.hf), c.expected);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "threw: " << e.what();
    }
  }
}

void expect_errors(const std::vector<ErrorCase>& cases) {
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(std::string("template: ") + c.source);
    try {
      const std::string text = render(c.source, c.variables);
      ADD_FAILURE() << "rendered " << text;
    } catch (const TemplateError& e) {
      EXPECT_EQ(e.line(), c.line) << e.what();
      EXPECT_NE(e.detail().find(c.message), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()), "template, line " + std::to_string(e.line()) + ": " + e.detail());
    }
  }
}

// Whitespace control: `-` on either side, trim_blocks / lstrip_blocks (HF) or
// Jinja's defaults, `+` to opt out, comments, raw blocks, newline handling.
TEST(JinjaWhitespace, RendersAsJinja) {
  expect_renders({
      {"a\n{% if true %}\nb\n{% endif %}\nc\n",
       R"({})", false,
       "a\n\nb\n\nc"},
      {"a\n{% if true %}\nb\n{% endif %}\nc\n",
       R"({})", true,
       "a\nb\nc"},
      {"  {% if true %}x{% endif %}  \n  y",
       R"({})", true,
       "x  \n  y"},
      {"a  {%- if true -%}  b  {%- endif -%}  c",
       R"({})", false,
       "abc"},
      {"{{- ' x ' -}}  \n {{ 'y' }}",
       R"({})", false,
       " x y"},
      {"line\n  {#- comment -#}\n  next",
       R"({})", false,
       "linenext"},
      {"    {%+ if true %}keep{% endif %}",
       R"({})", true,
       "    keep"},
      {"{% if true +%}\nkeep newline{% endif %}",
       R"({})", true,
       "\nkeep newline"},
      {"{% raw %}{{ not rendered }} {% if %}{% endraw %}",
       R"({})", false,
       "{{ not rendered }} {% if %}"},
      {"  {%- raw -%}  x  {%- endraw -%}  ",
       R"({})", false,
       "x"},
      {"text\r\nwith crlf\r\n",
       R"({})", false,
       "text\nwith crlf"},
      {"{# c #}\nafter",
       R"({})", true,
       "after"},
      {"x {{ 1 }}\n   {% if true %}y{% endif %}",
       R"({})", true,
       "x 1\ny"},
      {"\t{% for i in [1, 2] %}\n\t{{ i }}\n\t{% endfor %}\n",
       R"({})", true,
       "\t1\n\t2\n"},
      {"{{ 'a' }}\n{{ 'b' }}\n",
       R"({})", true,
       "a\nb"},
      {"{% for i in [1, 2] -%}\n  {{ i }}\n{%- endfor %}",
       R"({})", false,
       "12"},
  });
}

// Literals and how values print: Python's repr of None, bools, floats, strings,
// lists, tuples and dicts; string escapes; integer forms.
TEST(JinjaLiterals, RendersAsJinja) {
  expect_renders({
      {"{{ none }} {{ None }} {{ true }} {{ False }} {{ 1 }} {{ 1.0 }} {{ 1.5e3 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 1e-5 }} {{ 0.0001 }} {{ 10 / 4 }} {{ 10 / 5 }} {{ -0.0 }} {{ 2.5e-7 }}",
       R"({})", false,
       "None None True False 1 1.0 1500.0 0.30000000000000004 1e+16 1000000000000000.0 1e-05 0.0001 2.5 2.0 -0.0 2.5e-07"},
      {"{{ [1, 'a', none, true, 2.5] }} {{ {'k': 'v', 1: [2]} }} {{ ('x',) }} {{ (1, 2) }} {{ [] }} {{ {} }} {{ () }}",
       R"({})", false,
       "[1, 'a', None, True, 2.5] {'k': 'v', 1: [2]} ('x',) (1, 2) [] {} ()"},
      {"{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'tab\\there', 'nl\\n', 'é☃', '\\x07', '\\u200b', '\\\\'] }}",
       R"({})", false,
       "[\"it's\", 'say \"hi\"', 'both \\' \"', 'tab\\there', 'nl\\n', 'é☃', '\\x07', '\\u200b', '\\\\']"},
      {"{{ 'a' 'b' }} {{ \"\\u00e9\\x41\\101\\q\" }} {{ 'multi\nline' }}",
       R"({})", false,
       "ab éAA\\q multi\nline"},
      {"{{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1_0.5 }} {{ 2E2 }}",
       R"({})", false,
       "1000 31 15 5 10.5 200.0"},
      {"{{ v }} {{ l }} {{ d }}",
       R"({"v": 3.0, "l": [1.25, null, "x"], "d": {"b": true, "a": {"n": 1e+100}}})", false,
       "3.0 [1.25, None, 'x'] {'b': True, 'a': {'n': 1e+100}}"},
  });
}

// Arithmetic with Python's int/float rules, chained comparisons, `in`, `~`,
// and/or returning operands, the inline if.
TEST(JinjaOperators, RendersAsJinja) {
  expect_renders({
      {"{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ -2 ** 2 }} {{ 2 ** 3 ** 2 }} {{ 3 * 'ab' }} {{ [1] * 3 }} {{ 1 + 2 * 3 - 4 / 2 }} {{ true + 1 }} {{ 'a' ~ 1 ~ none ~ missing ~ 2.0 }}",
       R"({})", false,
       "3 -4 1 2 -2 3.0 0.5 1024 0.5 4 64 ababab [1, 1, 1] 5.0 2 a1None2.0"},
      {"{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ 1 == true }} {{ 'a' in 'cat' }} {{ 2 not in [1, 3] }} {{ 'k' in {'k': 1} }} {{ none == none }} {{ x == y }} {{ x != 1 }} {{ [1, 2] == (1, 2) }} {{ 'x' in missing }}",
       R"({})", false,
       "True False True True True True True True True True True True False False"},
      {"{{ 0 or 'default' }} {{ 'a' and 'b' }} [{{ '' and 'b' }}] {{ not 0 }} {{ 'yes' if 1 else 'no' }} [{{ 'yes' if 0 }}] {{ 'a' if false else 'b' if true else 'c' }} {{ not 1 == 2 }} {{ none or [] or 0 }}",
       R"({})", false,
       "default b [] True yes [] b True 0"},
  });
}

// Attributes, items, slices and the str / dict / list methods templates call.
TEST(JinjaAccess, RendersAsJinja) {
  expect_renders({
      {"{{ s[1] }} {{ s[-1] }} {{ s[1:4] }} {{ s[::-1] }} {{ s[::2] }} {{ l[1:] }} {{ l[:-2] }} {{ l[::-1] }} {{ l[-2:] }} {{ l[10:] }} {{ l[1:5:2] }} {{ l[5:1:-2] }} {{ l[-100:2] }}",
       R"({"s": "héllo wörld", "l": [0, 1, 2, 3, 4, 5]})", false,
       "é d éll dlröw olléh hlowrd [1, 2, 3, 4, 5] [0, 1, 2, 3] [5, 4, 3, 2, 1, 0] [4, 5] [] [1, 3] [5, 3] [0, 1]"},
      {"{{ d.a }} {{ d['b'].c[1] }} {{ d.b.c.0 }} [{{ d.missing }}] [{{ l[10] }}] {{ d['items'] is callable }} {{ d.items is callable }} {{ d['a'] }} {{ t[0] }}",
       R"({"d": {"a": 1, "b": {"c": [1, 2]}}, "l": [1], "t": ["x"]})", false,
       "1 2 1 [] [] True True 1 x"},
      {"{{ d.items()|list }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.get('a') }} {{ d.get('z', 'dflt') }} {{ d.get('z') }} {{ d.copy() }} {{ l.index(2) }} {{ l.count(1) }}",
       R"({"d": {"a": 1, "b": [2]}, "l": [1, 2, 1]})", false,
       "[('a', 1), ('b', [2])] ['a', 'b'] [1, [2]] 1 dflt None {'a': 1, 'b': [2]} 1 2"},
      {"{{ '  x  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\\n\\na'.lstrip('\\n') }}|{{ 'a  '.rstrip() }}|{{ 'a b  c'.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ '  a b  '.split(none, 1) }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'abc'.startswith('b', 1) }}|{{ 'abc'.upper() }}|{{ 'ABC'.lower() }}|{{ 'hello wORLD 1st'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'ab'.replace('', '-') }}|{{ 'héllo'.find('l') }}|{{ 'abc'.find('z') }}|{{ 'abcabc'.rfind('b') }}|{{ 'abc'.index('c') }}|{{ '{}-{}'.format(1, 'x') }}|{{ ', '.join(['a', 'b']) }}|{{ 'a\\nb\\r\\nc\\x0bd'.splitlines() }}|{{ 'ab'.count('') }}|{{ 'a-b'.count('-') }}|{{ '12'.isdigit() }}|{{ 'ab'.isalpha() }}|{{ ' '.isspace() }}|{{ 'AB'.isupper() }}|{{ 'ab'.islower() }}|[{{ 'ab'.center(6, '*') }}]|[{{ 'ab'.ljust(4) }}]|[{{ 'ab'.rjust(4) }}]",
       R"({})", false,
       "x|a|a|a|['a', 'b', 'c']|['a', 'b', '', 'c']|['a', 'b,c']|['a,b', 'c']|['a', 'b  ']|True|True|True|ABC|abc|Hello World 1St|Hello|bba|-a-b-|2|-1|4|2|1-x|a, b|['a', 'b', 'c', 'd']|3|1|True|True|True|True|True|[**ab**]|[ab  ]|[  ab]"},
      {"[{{ '\\u00a0 x\\u3000'.strip() }}] [{{ '\\u200bx'.strip() }}] [{{ 'x\\x1c'.strip() }}] [{{ '\\u2003y\\u2003'|trim }}] {{ 'a\\u2028b'.split() }}",
       R"({})", false,
       "[x] [​x] [x] [y] ['a', 'b']"},
  });
}

// for: loop variables, else, inline filter, unpacking, break/continue, scoping.
TEST(JinjaFor, RendersAsJinja) {
  expect_renders({
      {"{% for x in items %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.cycle('a', 'b') }};{% endfor %}",
       R"({"items": [10, 20, 30]})", false,
       "1032TrueFalse320a;2121FalseFalse31030b;3210FalseTrue320a;"},
      {"{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in nothing %}x{% else %}none{% endfor %}",
       R"({})", false,
       "empty|none"},
      {"{% for x in range(10) if x is odd %}{{ x }}{{ ',' if not loop.last }}{% endfor %} {% for x in range(10) if x > 6 %}{{ loop.index }}/{{ loop.length }} {% endfor %}",
       R"({})", false,
       "1,3,5,7,9 1/3 2/3 3/3 "},
      {"{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}{% for k in d %}{{ k }}{% endfor %}{% for c in 'hé' %}[{{ c }}]{% endfor %}",
       R"({"d": {"x": 1, "y": 2}})", false,
       "x=1;y=2;37xy[h][é]"},
      {"{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}",
       R"({})", false,
       "0134"},
      {"{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}",
       R"({})", false,
       "231"},
      {"{% for a in [1, 2] %}{% set outer = loop %}{% for b in 'xy' %}{{ outer.index }}{{ loop.index }}{{ b }} {% endfor %}{% endfor %}",
       R"({})", false,
       "11x 12y 21x 22y "},
      {"{% for x in [1, 1, 2, 2, 1] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}",
       R"({})", false,
       "121"},
      {"{% for m in messages %}{{ m.role }}{% if not loop.last %}, {% endif %}{% endfor %}",
       R"({"messages": [{"role": "user"}, {"role": "assistant"}]})", false,
       "user, assistant"},
  });
}

// set (tuple, block, namespace attribute), scoping of if and with, filter blocks.
TEST(JinjaSet, RendersAsJinja) {
  expect_renders({
      {"{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 1, 2 %}{{ t }}",
       R"({})", false,
       "12(1, 2)"},
      {"{% set body %}  Hi {{ name }}  {% endset %}[{{ body }}]{% set up | upper | trim %} shout {% endset %}[{{ up }}]",
       R"({"name": "Ann"})", false,
       "[  Hi Ann  ][SHOUT]"},
      {"{% set ns = namespace(count=0, items=[]) %}{% for i in range(3) %}{% set ns.count = ns.count + i %}{% set ns.items = ns.items + [i] %}{% endfor %}{{ ns.count }} {{ ns.items }} {{ ns }}",
       R"({})", false,
       "3 [0, 1, 2] <Namespace {'count': 3, 'items': [0, 1, 2]}>"},
      {"{% if true %}{% set y = 5 %}{% endif %}{{ y }}",
       R"({})", false,
       "5"},
      {"{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]",
       R"({})", false,
       "3[]"},
      {"{% set messages = messages[1:] %}{{ messages|length }}",
       R"({"messages": [1, 2, 3]})", false,
       "2"},
      {"{% filter upper %}hello {{ name }}{% endfilter %}",
       R"({"name": "bob"})", false,
       "HELLO BOB"},
  });
}

// Macros: defaults, keywords, varargs/kwargs, call blocks, recursion, closures.
TEST(JinjaMacro, RendersAsJinja) {
  expect_renders({
      {"{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', 'Hi') }} {{ greet('Cy', punct='?') }} {{ greet(name='Di', greeting='Yo') }}",
       R"({})", false,
       "Hello, Ann! Hi, Bob! Hello, Cy? Yo, Di!"},
      {"{% macro m(a) %}{{ a }}|{{ varargs }}|{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}",
       R"({})", false,
       "1|(2, 3)|{'x': 4}"},
      {"{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ 1 + 1 }}{% endcall %}",
       R"({})", false,
       "<b>bold 2</b>"},
      {"{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(item) each([1, 2]) %}[{{ item }}]{% endcall %}",
       R"({})", false,
       "[1][2]"},
      {"{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}",
       R"({})", false,
       "120"},
      {"{% macro m(a, b) %}[{{ a }}][{{ b }}]{% endmacro %}{{ m(1) }}",
       R"({})", false,
       "[1][]"},
      {"{% set v = 1 %}{% macro show() %}{{ v }}{% endmacro %}{% set v = 2 %}{{ show() }}",
       R"({})", false,
       "2"},
      {"{% macro render_args(args) %}{% for k, v in args.items() %}{{ k }}: {{ v|tojson }}{% if not loop.last %}, {% endif %}{% endfor %}{% endmacro %}{{ render_args({'a': 1, 'b': [true, none]}) }}",
       R"({})", false,
       "a: 1, b: [true, null]"},
  });
}

// Filters, including transformers' tojson.
TEST(JinjaFilters, RendersAsJinja) {
  expect_renders({
      {"{{ '  x  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ [1, 2, 3]|length }}|{{ 'héllo'|length }}|{{ {'a': 1}|count }}|{{ 'hello'|upper }}|{{ 'HeLLo'|lower }}|{{ 'hello World'|capitalize }}|{{ 'hello-world foo(bar) x_y'|title }}|{{ [3, 1, 2]|first }}|{{ [3, 1, 2]|last }}|{{ 'abc'|first }}|{{ [1, 2, 3]|join('-') }}|{{ 'aXbX'|replace('X', '.') }}|{{ 'aXbX'|replace('X', '.', 1) }}|{{ 42|string ~ '!' }}|{{ '42'|int + 1 }}|{{ '3.7'|int }}|{{ 'x'|int(7) }}|{{ '0x1A'|int(0, 16) }}|{{ ' 1_000 '|int }}|{{ '2.5'|float * 2 }}|{{ 'abc'|float }}|{{ 7|float }}|{{ 'abc'|list }}|{{ -3|abs }}|{{ -2.5|abs }}|{{ 3.14159|round(2) }}|{{ 2.5|round }}|{{ 3.5|round }}|{{ 2.675|round(2) }}|{{ 2.7|round(0, 'floor') }}|{{ 2.11|round(1, 'ceil') }}|{{ 5|round }}|{{ 1234|round(-2) }}",
       R"({})", false,
       "x|hi|3|5|1|HELLO|hello|Hello world|Hello-World Foo(Bar) X_y|3|2|a|1-2-3|a.b.|a.bX|42!|43|3|7|26|1000|5.0|0.0|7.0|['a', 'b', 'c']|3|2.5|3.14|2.0|4.0|2.67|2.0|2.2|5|1200"},
      {"{{ missing|default('d') }}|{{ ''|default('d') }}|{{ ''|default('d', true) }}|{{ none|d('n') }}|{{ false|default('f', boolean=true) }}|{{ missing|default }}|{{ missing|length }}|{{ missing|trim }}|{{ missing|list }}|{{ missing|join(',') }}|{{ missing|first }}",
       R"({})", false,
       "d||d|None|f||0||[]||"},
      {"{{ obj|tojson }}|{{ obj|tojson(indent=2) }}|{{ obj|tojson(sort_keys=true) }}|{{ 'é😀'|tojson(ensure_ascii=true) }}|{{ obj|tojson(separators=(',', ':')) }}|{{ [1, [2, []], {}]|tojson(indent='\\t') }}|{{ 'x\\u0001\\u007f'|tojson }}|{{ (1, 2)|tojson }}|{{ {1: 2, none: false}|tojson }}",
       R"({"obj": {"b": 1, "a": [1.5, "é\n\"q\"\\", null, true], "c": {}}})", false,
       "{\"b\": 1, \"a\": [1.5, \"é\\n\\\"q\\\"\\\\\", null, true], \"c\": {}}|{\n  \"b\": 1,\n  \"a\": [\n    1.5,\n    \"é\\n\\\"q\\\"\\\\\",\n    null,\n    true\n  ],\n  \"c\": {}\n}|{\"a\": [1.5, \"é\\n\\\"q\\\"\\\\\", null, true], \"b\": 1, \"c\": {}}|\"\\u00e9\\ud83d\\ude00\"|{\"b\":1,\"a\":[1.5,\"é\\n\\\"q\\\"\\\\\",null,true],\"c\":{}}|[\n\t1,\n\t[\n\t\t2,\n\t\t[]\n\t],\n\t{}\n]|\"x\\u0001\177\"|[1, 2]|{\"1\": 2, \"null\": false}"},
      {"{{ d|items|list }}|{{ {'b': 2, 'A': 1, 'c': 0}|dictsort }}|{{ {'b': 2, 'a': 1}|dictsort(by='value', reverse=true) }}|{{ {'b': 2, 'A': 1}|dictsort(true) }}",
       R"({"d": {"x": 1, "y": [2]}})", false,
       "[('x', 1), ('y', [2])]|[('A', 1), ('b', 2), ('c', 0)]|[('b', 2), ('a', 1)]|[('A', 1), ('b', 2)]"},
      {"{{ msgs|map(attribute='role')|join(',') }}|{{ msgs|selectattr('role', 'equalto', 'user')|map(attribute='content')|list }}|{{ msgs|rejectattr('role', 'eq', 'user')|list|length }}|{{ [1, 2, 3, 4]|select('even')|list }}|{{ [1, 2, 3, 4]|reject('odd')|list }}|{{ [0, 1, '', 'a']|select|list }}|{{ ['a', 'b']|map('upper')|list }}|{{ msgs|map(attribute='missing', default='?')|list }}|{{ msgs|selectattr('tool_calls')|list|length }}|{{ msgs|selectattr('tool_calls', 'defined')|list|length }}|{{ msgs|map(attribute='meta.tags.0')|list }}|{{ [1, 2, 3]|select('in', [2, 3])|list }}|{{ ['1', '2']|map('int')|sum }}|{{ msgs|join(', ', attribute='role') }}",
       R"({"msgs": [{"role": "user", "content": "hi", "meta": {"tags": ["a"]}}, {"role": "assistant", "content": "yo", "tool_calls": [], "meta": {"tags": ["b", "c"]}}, {"role": "user", "content": "bye", "tool_calls": [1], "meta": {"tags": ["d"]}}]})", false,
       "user,assistant,user|['hi', 'bye']|1|[2, 4]|[2, 4]|[1, 'a']|['A', 'B']|['?', '?', '?']|1|2|['a', 'b', 'd']|[2, 3]|3|user, assistant, user"},
      {"{{ [3, 1, 2]|sort }}|{{ ['b', 'A', 'c']|sort }}|{{ ['b', 'A', 'c']|sort(case_sensitive=true) }}|{{ [3, 1, 2]|sort(reverse=true) }}|{{ msgs|sort(attribute='role')|map(attribute='content')|list }}|{{ msgs|sort(attribute='role,content', reverse=true)|map(attribute='content')|list }}|{{ ['a', 'A', 'b', 'a']|unique|list }}|{{ ['a', 'A']|unique(case_sensitive=true)|list }}|{{ [3, 1, 2]|min }}|{{ [3, 1, 2]|max }}|{{ ['B', 'a']|max }}|{{ ['B', 'a']|min(case_sensitive=true) }}|{{ msgs|max(attribute='content') }}|{{ [1, 2, 3]|sum }}|{{ [1.5, 2]|sum(start=1) }}|{{ [[1], [2]]|sum(start=[]) }}|{{ msgs|sum(attribute='n') }}|{{ [1, 2, 3, 4, 5]|batch(2)|list }}|{{ [1, 2, 3]|batch(2, 'x')|list }}|{{ [1, 2, 3]|reverse|list }}|{{ 'abc'|reverse }}|{{ []|min }}",
       R"({"msgs": [{"role": "user", "content": "b", "n": 1}, {"role": "assistant", "content": "c", "n": 2}, {"role": "user", "content": "a", "n": 3}]})", false,
       "[1, 2, 3]|['A', 'b', 'c']|['A', 'b', 'c']|[3, 2, 1]|['c', 'b', 'a']|['b', 'a', 'c']|['a', 'b']|['a', 'A']|1|3|B|B|{'role': 'assistant', 'content': 'c', 'n': 2}|6|4.5|[1, 2]|6|[[1, 2], [3, 4], [5]]|[[1, 2], [3, 'x']]|[3, 2, 1]|cba|"},
      {"{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent('> ', blank=true) }}|[{{ 'x'|center(6) }}]|{{ '%s is %d years, %.2f%%'|format('Ann', 30, 99.5) }}|{{ '%(a)s-%(b)05.1f'|format(a='x', b=2.25) }}|{{ '%5s|%-5s|%x|%#o|%+d|%c|%r|%e|%g'|format('ab', 'cd', 255, 8, 5, 65, 'q', 12345.678, 0.00001234) }}|{{ '{:>6}|{:<4}|{:^7}|{:08.3f}|{:,}|{!r}|{name}|{:x}|{:+d}|{:.1%}|{:e}'.format('ab', 'c', 'mid', 3.14159, 1234567, 'q', 255, 5, 0.256, 1234.5, name='n') }}|{{ 'v%s' % 3 }}|{{ '%s-%s' % ('a', 'b') }}",
       R"({})", false,
       "a\n    b\n\n    c|  a\n  b|a\n> \n> b|[  x   ]|Ann is 30 years, 99.50%|x-002.2|   ab|cd   |ff|0o10|+5|A|'q'|1.234568e+04|1.234e-05|    ab|c   |  mid  |0003.142|1,234,567|'q'|n|ff|+5|25.6%|1.234500e+03|v3|a-b"},
      {"{{ '<a href=\"x\">&\\'</a>'|escape }}|{{ '<p>Hello <b>World</b></p> <!-- c -->  &amp; more &#65;&#x42;'|striptags }}|{{ 'one two, three_3'|wordcount }}|{{ '<b>'|safe }}|{{ 'x'|e }}|{{ {'a': 1}|attr('a') }}|{{ 'abc'|attr('upper') is callable }}|{{ 5|string|length }}",
       R"({})", false,
       "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt;|Hello World & more AB|3|<b>|x||True|1"},
  });
}

// Tests (`is ...`).
TEST(JinjaTests, RendersAsJinja) {
  expect_renders({
      {"{{ x is defined }}{{ y is undefined }}{{ none is none }}{{ 1 is not none }}{{ 'a' is string }}{{ 1 is string }}{{ {} is mapping }}{{ [] is mapping }}{{ [] is iterable }}{{ 1 is iterable }}{{ 'a' is sequence }}{{ 1 is number }}{{ 1.5 is number }}{{ true is number }}{{ true is boolean }}{{ 1 is boolean }}{{ true is true }}{{ 1 is true }}{{ false is false }}{{ 1 is integer }}{{ true is integer }}{{ 1.0 is float }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(4) }}{{ 'a' is equalto 'a' }}{{ 1 is eq 2 }}{{ 2 is gt 1 }}{{ 2 is lessthan 1 }}{{ 2 is ge 2 }}{{ 2 is ne 2 }}{{ 'a' is in 'cat' }}{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ range is callable }}{{ none is sameas none }}{{ 'upper' is filter }}{{ 'odd' is test }}{{ (x is defined) is false }}{{ y is iterable }}{{ y is sequence }}{{ ([1]|select) is iterable }}{{ ([1]|select) is sequence }}{{ 'a' if x is defined else 'b' }}",
       R"({"x": 1})", false,
       "TrueTrueTrueTrueTrueFalseTrueFalseTrueFalseTrueTrueTrueTrueTrueFalseTrueFalseTrueTrueFalseTrueTrueTrueTrueFalseTrueFalseTrueFalseTrueFalseTrueTrueTrueTrueTrueTrueTrueFalseTrueTrueTrueFalsea"},
  });
}

// range, dict, namespace.
TEST(JinjaGlobals, RendersAsJinja) {
  expect_renders({
      {"{{ range(3)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }} {{ dict(a=1, b='x') }} {{ dict([('k', 1)]) }} {{ dict({'a': 1}, b=2) }} {{ namespace(a=1).a }} {{ namespace({'q': 2}).q }}",
       R"({})", false,
       "[0, 1, 2] [1, 4, 7] [5, 3, 1] {'a': 1, 'b': 'x'} {'k': 1} {'a': 1, 'b': 2} 1 2"},
  });
}

// Filters returning one-shot iterators behave as Jinja's generators.
TEST(JinjaIterators, RendersAsJinja) {
  expect_renders({
      {"{% set g = [1, 2, 3]|select('odd') %}{{ g|list }}{{ g|list }}|{% if [1]|select('even') %}truthy{% endif %}|{{ [1, 2]|map('string')|join }}|{{ [3, 4]|reverse|list }}|{% set r = [5, 6]|map('string') %}{{ r|first }}{{ r|list }}|{{ 2 in [1, 2]|select }}|{{ [4]|select|reverse }}|{{ ([1, 2]|select|reverse)|length }}",
       R"({})", false,
       "[1, 3][]|truthy|12|[4, 3]|5['6']|True|[4]|2"},
  });
}

// Parse and render errors: a TemplateError naming the line and what is wrong.
TEST(JinjaErrors, NameTheProblemAndTheLine) {
  expect_errors({
      {"line1\n{% if x %}\nbody", R"({})",
       "Unexpected end of template. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if' (opened on line 2).", 2},
      {"a\n{{ x | nope }}", R"({})",
       "No filter named 'nope'.", 2},
      {"{% if x %}{% endif %}\n{{ x is nope }}", R"({})",
       "No test named 'nope'.", 2},
      {"{{ 1 + }}", R"({})",
       "unexpected 'end of print statement'", 1},
      {"{% for %}{% endfor %}", R"({})",
       "Expected an expression, got 'end of statement block'", 1},
      {"\n{% foo %}", R"({})",
       "Encountered unknown tag 'foo'.", 2},
      {"{# x", R"({})",
       "Missing end of comment tag", 1},
      {"{{ 1 ! 2 }}", R"({})",
       "unexpected char '!' at 5", 1},
      {"{{ (1] }}", R"({})",
       "unexpected ']', expected ')'", 1},
      {"{% endfor %}", R"({})",
       "Encountered unknown tag 'endfor'.", 1},
      {"{% for x in y %}\n{% endif %}", R"({})",
       "Encountered unknown tag 'endif'. Jinja was looking for the following tags: 'endfor' or 'else'.", 2},
      {"{% if a %}{% for x in y %}{% endif %}{% endfor %}{% endif %}", R"({})",
       "You probably made a nesting mistake", 1},
      {"{% break %}", R"({})",
       "'break' outside loop", 1},
      {"{% include 'x.j2' %}", R"({})",
       "'include' tag is not supported", 1},
      {"{{ 'unterminated }}", R"({})",
       "unexpected char \"'\" at 3", 1},
      {"{% macro m(a=1, b) %}{% endmacro %}", R"({})",
       "non-default argument follows default argument", 1},
      {"{% set 1 = 2 %}", R"({})",
       "can't assign to 'const'", 1},
      {"{{ x is defined is defined }}", R"({})",
       "You cannot chain multiple tests with is", 1},
      {"ok\n{{ x.y }}", R"({})",
       "'x' is undefined", 2},
      {"{{ d.a.b }}", R"({"d": {}})",
       "'dict object' has no attribute 'a'", 1},
      {"{{ 1 + 'a' }}", R"({})",
       "unsupported operand type(s) for +: 'int' and 'str'", 1},
      {"{{ 'a' + 1 }}", R"({})",
       "can only concatenate str (not \"int\") to str", 1},
      {"{{ messages.append(1) }}", R"({"messages": []})",
       "access to attribute 'append' of 'list' object is unsafe.", 1},
      {"{{ 1 / 0 }}", R"({})",
       "division by zero", 1},
      {"{% for a, b in [1] %}{% endfor %}", R"({})",
       "cannot unpack non-iterable int object", 1},
      {"{% for a, b in [[1, 2, 3]] %}{% endfor %}", R"({})",
       "too many values to unpack (expected 2)", 1},
      {"{{ [1, 2]|select('odd')|length }}", R"({})",
       "object of type 'generator' has no len()", 1},
      {"{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", R"({})",
       "macro 'm' takes not more than 1 argument(s)", 1},
      {"{% macro m(a) %}{% endmacro %}{{ m(b=2) }}", R"({})",
       "macro 'm' takes no keyword argument 'b'", 1},
      {"{{ 'a' < 1 }}", R"({})",
       "'<' not supported between instances of 'str' and 'int'", 1},
      {"{{ none.x.y }}", R"({})",
       "'None' has no attribute 'x'", 1},
      {"{{ [1][5].x }}", R"({})",
       "list object has no element 5", 1},
      {"{% set x = 1 %}{% set x.a = 2 %}", R"({})",
       "cannot assign attribute on non-namespace object", 1},
      {"{{ 'x'.upper(1) }}", R"({})",
       "upper() takes at most 0 argument(s) (1 given)", 1},
      {"{{ 'a'|indent(2, bogus=1) }}", R"({})",
       "indent() got an unexpected keyword argument 'bogus'", 1},
      {"{{ x|tojson }}", R"({})",
       "Object of type Undefined is not JSON serializable", 1},
      {"{{ range(100001)|length }}", R"({})",
       "Range too big", 1},
      {"{{ ''.split('') }}", R"({})",
       "empty separator", 1},
      {"{{ [1]|last|abs }}{{ ([1]|select)|last }}", R"({})",
       "'generator' object is not reversible", 1},
  });
}

TEST(JinjaErrors, RaiseExceptionGivesExactlyTheMessage) {
  try {
    render("a\n{% if true %}\n{{ raise_exception('Roles must alternate: ' ~ 1) }}{% endif %}");
    FAIL() << "expected an error";
  } catch (const TemplateRaisedError& e) {
    EXPECT_EQ(std::string(e.what()), "Roles must alternate: 1");
    EXPECT_EQ(e.line(), 3);
  }
  // A raise inside a macro inside a loop is still the template's message.
  EXPECT_THROW(render("{% macro m() %}{{ raise_exception('x') }}{% endmacro %}{% for i in [1] %}{{ m() }}{% endfor %}"),
               TemplateRaisedError);
}

TEST(JinjaErrors, AreSlkvErrorsNamingTheTemplate) {
  TemplateOptions options;
  options.name = "my.jinja";
  try {
    Template("{{ x.y }}", options).render({});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "my.jinja, line 1: 'x' is undefined");
  }
}

TEST(JinjaTemplate, KeepsTrailingNewlineOnlyWhenAsked) {
  TemplateOptions options;
  EXPECT_EQ(Template("x\n", options).render({}), "x");
  options.keep_trailing_newline = true;
  EXPECT_EQ(Template("x\n", options).render({}), "x\n");
}

TEST(JinjaTemplate, RendersManyTimesAndKeepsCallerVariables) {
  const Template t("{% set n = n + 1 %}{{ n }}");
  const std::map<std::string, Value> variables = {{"n", Value::integer(1)}};
  EXPECT_EQ(t.render(variables), "2");
  EXPECT_EQ(t.render(variables), "2");
  EXPECT_EQ(variables.at("n").as_int(), 1);
}

TEST(JinjaValue, FloatsPrintAsPythonRepr) {
  EXPECT_EQ(python_float_repr(1e22), "1e+22");
  EXPECT_EQ(python_float_repr(5e-324), "5e-324");
  EXPECT_EQ(python_float_repr(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(python_float_repr(123456789.123), "123456789.123");
  EXPECT_EQ(python_float_repr(-1.5e-10), "-1.5e-10");
  EXPECT_EQ(python_float_repr(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(python_float_repr(100.0), "100.0");
  EXPECT_EQ(python_float_repr(12345678901234567.0), "1.2345678901234568e+16");
}

TEST(JinjaValue, JsonInputKeepsOrderAndTypes) {
  const Value v = from_json(nlohmann::ordered_json::parse(R"({"z": 1, "a": [1.0, true, null, "s"]})"));
  EXPECT_EQ(repr(v), "{'z': 1, 'a': [1.0, True, None, 's']}");
  JsonStyle style;
  EXPECT_EQ(to_json(v, style), R"({"z": 1, "a": [1.0, true, null, "s"]})");
}

}  // namespace
}  // namespace slkv::jinja
