#pragma once
// The syntax tree of a parsed template: expressions (Expr) and statements
// (Node), each carrying the line it starts on for error messages.
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/tokenizer/jinja/jinja_value.h"

namespace slkv::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// The argument expressions of a call, filter or test.
struct CallArguments {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
  ExprPtr star_args;    // f(*list)
  ExprPtr star_kwargs;  // f(**dict)
};

struct FilterCall {
  std::string name;
  CallArguments args;
  int line = 0;
};

struct LiteralExpr { Value value; };
struct NameExpr { std::string name; };
struct ListExpr { std::vector<ExprPtr> items; bool tuple = false; };
struct DictExpr { std::vector<std::pair<ExprPtr, ExprPtr>> entries; };
struct AttributeExpr { ExprPtr object; std::string name; };          // x.name
struct ItemExpr { ExprPtr object; ExprPtr key; };                     // x[key]
struct SliceExpr { ExprPtr object; ExprPtr start, stop, step; };      // x[a:b:c]; null = omitted
struct CallExpr { ExprPtr callee; CallArguments args; };
struct FilterExpr { ExprPtr subject; FilterCall filter; };            // subject | name(args)
struct TestExpr { ExprPtr subject; std::string name; CallArguments args; bool negated = false; };
struct UnaryExpr { std::string op; ExprPtr operand; };                // "-", "+", "not"
// Arithmetic (+ - * / // % **), "~" and the short-circuit "and" / "or".
struct BinaryExpr { std::string op; ExprPtr left, right; };
// a < b <= c ...: operators "==", "!=", "<", "<=", ">", ">=", "in", "notin".
struct CompareExpr { ExprPtr first; std::vector<std::pair<std::string, ExprPtr>> rest; };
// then_value if condition else else_value (else_value may be null).
struct ConditionalExpr { ExprPtr condition, then_value, else_value; };

struct Expr {
  int line = 0;
  int depth = 1;  // levels of the expression tree from here down (the parser bounds it)
  std::variant<LiteralExpr, NameExpr, ListExpr, DictExpr, AttributeExpr, ItemExpr, SliceExpr, CallExpr,
               FilterExpr, TestExpr, UnaryExpr, BinaryExpr, CompareExpr, ConditionalExpr>
      node;
};

struct Node;
using Body = std::vector<Node>;

// What `set`, `for` and `with` assign to: a name, several names to unpack
// (`for key, value in ...`), or a namespace attribute (`set ns.count = 1`).
struct Target {
  std::vector<std::string> names;
  bool unpack = false;
  std::string attribute;  // non-empty: names[0] is the namespace
};

struct MacroDefinition {
  std::string name;
  std::vector<std::pair<std::string, ExprPtr>> parameters;  // default may be null
  Body body;
  // Whether the body mentions these names: only then does the macro accept
  // extra positional arguments, extra keywords or a `call` block.
  bool uses_varargs = false;
  bool uses_kwargs = false;
  bool uses_caller = false;
};

struct TextNode { std::string text; };
struct OutputNode { ExprPtr expr; };
struct IfNode { std::vector<std::pair<ExprPtr, Body>> branches; Body otherwise; };
struct ForNode { Target target; ExprPtr iterable; ExprPtr condition; Body body; Body otherwise; };
struct SetNode { Target target; ExprPtr value; };
struct SetBlockNode { Target target; std::vector<FilterCall> filters; Body body; };
struct MacroNode { std::shared_ptr<const MacroDefinition> macro; };
// {% call(params) callee(args) %}body{% endcall %}: body becomes `caller`.
struct CallBlockNode { std::shared_ptr<const MacroDefinition> caller; ExprPtr call; };
struct FilterBlockNode { std::vector<FilterCall> filters; Body body; };
struct WithNode { std::vector<std::pair<Target, ExprPtr>> assignments; Body body; };
struct LoopControlNode { bool is_break = false; };
// A block rendered in place in its own scope (transformers' {% generation %}).
struct ScopeNode { Body body; };

struct Node {
  int line = 0;
  std::variant<TextNode, OutputNode, IfNode, ForNode, SetNode, SetBlockNode, MacroNode, CallBlockNode,
               FilterBlockNode, WithNode, LoopControlNode, ScopeNode>
      node;
};

}  // namespace slkv::jinja
