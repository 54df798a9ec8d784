#!/usr/bin/env python3
"""Renders Jinja templates the way Hugging Face transformers renders chat
templates, as the reference for slkv's Jinja engine (tests/runtime/tokenizer/
jinja_oracle_test.cpp).

Reads one JSON object from stdin:
  {"templates": [{"source": str, "trim_blocks": bool, "lstrip_blocks": bool}],
   "cases": [{"template": index, "variables": {...}}
             | {"config": path/to/tokenizer_config.json, "messages": [...],
                "tools": [...] | null, "add_generation_prompt": bool, "extra": {...}}]}
and writes one JSON line per case: {"rendered": text} or
{"error": message, "type": exception class name}.

Environment as transformers' _compile_jinja_template: ImmutableSandboxedEnvironment
with trim_blocks / lstrip_blocks (on for chat templates), loopcontrols, the
AssistantTracker's {% generation %} tag, tojson = json.dumps(ensure_ascii=False),
and raise_exception.
"""
import json
import sys

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


class AssistantTracker(Extension):
    """transformers' {% generation %}...{% endgeneration %}: renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", [], [], None), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def environment(trim_blocks, lstrip_blocks):
    env = ImmutableSandboxedEnvironment(
        trim_blocks=trim_blocks, lstrip_blocks=lstrip_blocks, extensions=[AssistantTracker, loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def compile_or_error(env, source):
    try:
        return env.from_string(source), None
    except Exception as e:  # a syntax error: every case of the template reports it
        return None, e


def special_tokens(config):
    """transformers' special_tokens_map: the tokens that are set and not empty."""
    tokens = {}
    for name in ("bos_token", "eos_token", "unk_token", "pad_token"):
        value = config.get(name)
        if isinstance(value, dict):
            value = value.get("content")
        if value:
            tokens[name] = value
    extra = [t["content"] if isinstance(t, dict) else t for t in config.get("additional_special_tokens") or []]
    if extra:
        tokens["additional_special_tokens"] = extra
    return tokens


def main():
    request = json.load(sys.stdin)
    compiled = [
        compile_or_error(environment(t.get("trim_blocks", True), t.get("lstrip_blocks", True)), t["source"])
        for t in request["templates"]
    ]
    configs = {}
    chat_env = environment(True, True)
    out = sys.stdout
    for case in request["cases"]:
        try:
            if "config" in case:
                path = case["config"]
                if path not in configs:
                    with open(path, encoding="utf-8") as f:
                        config = json.load(f)
                    configs[path] = (chat_env.from_string(config["chat_template"]), special_tokens(config))
                template, tokens = configs[path]
                kwargs = {**tokens, **case.get("extra", {})}
                text = template.render(
                    messages=case["messages"], tools=case.get("tools"), documents=None,
                    add_generation_prompt=case["add_generation_prompt"], **kwargs)
            else:
                template, error = compiled[case["template"]]
                if error is not None:
                    raise error
                text = template.render(**case["variables"])
            result = {"rendered": text}
        except Exception as e:
            result = {"error": str(e), "type": type(e).__name__}
        out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
