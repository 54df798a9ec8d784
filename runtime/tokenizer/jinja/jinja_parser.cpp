#include "runtime/tokenizer/jinja/jinja_parser.h"

#include <algorithm>
#include <initializer_list>
#include <set>

#include "runtime/tokenizer/jinja/jinja_error.h"
#include "runtime/tokenizer/jinja/jinja_filters.h"
#include "runtime/tokenizer/jinja/jinja_tests.h"
#include "runtime/tokenizer/jinja/jinja_value.h"

namespace slkv::jinja {
namespace {

using Names = std::vector<std::string>;

// How deep templates may nest. The parser, the renderer and the tree's
// destructor all recurse once per level, and 5000 nested parentheses or a
// chain of 100000 `+1` overflowed the stack; Jinja itself stops at Python's
// recursion limit (1000 frames). Real chat templates nest a few levels.
constexpr int kMaxNesting = 200;          // blocks, brackets, unary operators, conditionals
constexpr int kMaxExpressionDepth = 1000;  // levels of one expression's tree

int depth_of(const ExprPtr& e) { return e ? e->depth : 0; }
int depth_of(const CallArguments& args) {
  int depth = std::max(depth_of(args.star_args), depth_of(args.star_kwargs));
  for (const ExprPtr& e : args.positional) depth = std::max(depth, depth_of(e));
  for (const auto& [name, e] : args.keyword) depth = std::max(depth, depth_of(e));
  return depth;
}

// The deepest child of an expression node.
int children_depth(const LiteralExpr&) { return 0; }
int children_depth(const NameExpr&) { return 0; }
int children_depth(const ListExpr& e) {
  int depth = 0;
  for (const ExprPtr& item : e.items) depth = std::max(depth, depth_of(item));
  return depth;
}
int children_depth(const DictExpr& e) {
  int depth = 0;
  for (const auto& [key, value] : e.entries) depth = std::max({depth, depth_of(key), depth_of(value)});
  return depth;
}
int children_depth(const AttributeExpr& e) { return depth_of(e.object); }
int children_depth(const ItemExpr& e) { return std::max(depth_of(e.object), depth_of(e.key)); }
int children_depth(const SliceExpr& e) {
  return std::max({depth_of(e.object), depth_of(e.start), depth_of(e.stop), depth_of(e.step)});
}
int children_depth(const CallExpr& e) { return std::max(depth_of(e.callee), depth_of(e.args)); }
int children_depth(const FilterExpr& e) { return std::max(depth_of(e.subject), depth_of(e.filter.args)); }
int children_depth(const TestExpr& e) { return std::max(depth_of(e.subject), depth_of(e.args)); }
int children_depth(const UnaryExpr& e) { return depth_of(e.operand); }
int children_depth(const BinaryExpr& e) { return std::max(depth_of(e.left), depth_of(e.right)); }
int children_depth(const CompareExpr& e) {
  int depth = depth_of(e.first);
  for (const auto& [op, operand] : e.rest) depth = std::max(depth, depth_of(operand));
  return depth;
}
int children_depth(const ConditionalExpr& e) {
  return std::max({depth_of(e.condition), depth_of(e.then_value), depth_of(e.else_value)});
}

template <class T>
Node make_node(int line, T node) {
  Node n;
  n.line = line;
  n.node = std::move(node);
  return n;
}

std::string quoted(const std::string& text) { return python_string_repr(text); }

// One `[...]` argument: an expression or a slice.
struct Subscript {
  ExprPtr single;
  bool is_slice = false;
  ExprPtr start, stop, step;
};

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const std::string& name) : tokens_(tokens), name_(name) {}

  Body parse() { return subparse(nullptr); }

 private:
  // ---- bounds on nesting (kMaxNesting, kMaxExpressionDepth) ----
  template <class T>
  ExprPtr make_expr(int line, T node) {
    const int depth = 1 + children_depth(node);
    // Refused before the tree grows deeper: even unwinding a deeper one recurses.
    if (depth > kMaxExpressionDepth)
      fail("expression nested more than " + std::to_string(kMaxExpressionDepth) + " levels deep", line);
    auto expr = std::make_unique<Expr>();
    expr->line = line;
    expr->depth = depth;
    expr->node = std::move(node);
    return expr;
  }
  // Held by each parse function that recurses into itself through nesting.
  class NestingGuard {
   public:
    explicit NestingGuard(Parser& parser) : parser_(parser) {
      if (++parser_.nesting_ > kMaxNesting)
        parser_.fail("template nested more than " + std::to_string(kMaxNesting) + " levels deep", parser_.current().line);
    }
    ~NestingGuard() { --parser_.nesting_; }
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;

   private:
    Parser& parser_;
  };

  // ---- the token stream ----
  const Token& current() const { return tokens_[index_]; }
  const Token& look() const { return tokens_[std::min(index_ + 1, tokens_.size() - 1)]; }
  void next() {
    if (index_ + 1 < tokens_.size()) ++index_;
  }
  bool at_op(std::string_view op) const { return current().type == TokenType::Operator && current().value == op; }
  bool at_name(std::string_view name) const { return current().type == TokenType::Name && current().value == name; }
  bool skip_op(std::string_view op) {
    if (!at_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!at_name(name)) return false;
    next();
    return true;
  }

  [[noreturn]] void fail(const std::string& message, int line) const { throw TemplateError(name_, line, message); }

  [[noreturn]] void fail_expected(const std::string& what) const {
    if (current().type == TokenType::Eof) fail("unexpected end of template, expected " + quoted(what) + ".", current().line);
    fail("expected token " + quoted(what) + ", got " + quoted(describe_token(current())), current().line);
  }

  void expect_op(std::string_view op) {
    if (!skip_op(op)) fail_expected(std::string(op));
  }
  void expect_type(TokenType type, const std::string& what) {
    if (current().type != type) fail_expected(what);
    next();
  }
  void expect_name(std::string_view name) {
    if (!skip_name(name)) fail_expected(std::string(name));
  }
  std::string expect_any_name() {
    if (current().type != TokenType::Name) fail_expected("name");
    std::string name = current().value;
    next();
    return name;
  }

  // Jinja's message for the end of the template or an unknown tag.
  [[noreturn]] void fail_unknown_tag(const std::string* tag, int line) const {
    std::string message = tag ? "Encountered unknown tag " + quoted(*tag) + "." : "Unexpected end of template.";
    if (!end_tokens_.empty()) {
      std::set<std::string> expected;
      for (const Names* names : end_tokens_) expected.insert(names->begin(), names->end());
      std::string looking;
      for (const std::string& name : *end_tokens_.back()) looking += (looking.empty() ? "" : " or ") + quoted(name);
      if (tag && expected.count(*tag)) {
        message += " You probably made a nesting mistake. Jinja is expecting this tag, but currently looking for " +
                   looking + ".";
      } else {
        message += " Jinja was looking for the following tags: " + looking + ".";
      }
    }
    if (!tag_stack_.empty()) {
      message += " The innermost block that needs to be closed is " + quoted(tag_stack_.back().first) +
                 " (opened on line " + std::to_string(tag_stack_.back().second) + ").";
    }
    fail(message, line);
  }

  // ---- statements ----
  Body subparse(const Names* end_tokens) {
    Body body;
    if (end_tokens) end_tokens_.push_back(end_tokens);
    while (current().type != TokenType::Eof) {
      const Token& token = current();
      if (token.type == TokenType::Data) {
        body.push_back(make_node(token.line, TextNode{token.value}));
        next();
      } else if (token.type == TokenType::VariableBegin) {
        const int line = token.line;
        next();
        ExprPtr expr = parse_tuple(false, true, {}, false);
        expect_type(TokenType::VariableEnd, "end of print statement");
        body.push_back(make_node(line, OutputNode{std::move(expr)}));
      } else if (token.type == TokenType::BlockBegin) {
        next();
        if (end_tokens && current().type == TokenType::Name &&
            std::find(end_tokens->begin(), end_tokens->end(), current().value) != end_tokens->end()) {
          end_tokens_.pop_back();
          return body;
        }
        body.push_back(parse_statement());
        expect_type(TokenType::BlockEnd, "end of statement block");
      } else {
        fail("unexpected " + quoted(describe_token(token)), token.line);
      }
    }
    if (end_tokens) end_tokens_.pop_back();
    return body;
  }

  Body parse_statements(const Names& end_tokens, bool drop_needle) {
    skip_op(":");  // Jinja accepts a Python-style colon
    expect_type(TokenType::BlockEnd, "end of statement block");
    Body body = subparse(&end_tokens);
    if (current().type == TokenType::Eof) {
      end_tokens_.push_back(&end_tokens);
      fail_unknown_tag(nullptr, current().line);
    }
    if (drop_needle) next();
    return body;
  }

  Node parse_statement() {
    const NestingGuard guard(*this);
    const Token& token = current();
    if (token.type != TokenType::Name) fail("tag name expected", token.line);
    const std::string tag = token.value;
    const int line = token.line;
    static const std::set<std::string> unsupported = {"block", "extends", "include", "import", "from", "autoescape"};
    if (unsupported.count(tag)) fail("the " + quoted(tag) + " tag is not supported (templates are rendered alone)", line);
    tag_stack_.emplace_back(tag, line);
    Node node;
    if (tag == "if") node = parse_if();
    else if (tag == "for") node = parse_for();
    else if (tag == "set") node = parse_set();
    else if (tag == "macro") node = parse_macro();
    else if (tag == "call") node = parse_call_block();
    else if (tag == "filter") node = parse_filter_block();
    else if (tag == "with") node = parse_with();
    else if (tag == "print") node = parse_print();
    else if (tag == "generation") node = parse_generation();
    else if (tag == "break" || tag == "continue") node = parse_loop_control();
    else {
      tag_stack_.pop_back();
      fail_unknown_tag(&tag, line);
    }
    tag_stack_.pop_back();
    return node;
  }

  Node parse_if() {
    const int line = current().line;
    next();
    IfNode result;
    while (true) {
      ExprPtr test = parse_tuple(false, false, {}, false);
      static const Names ends = {"elif", "else", "endif"};
      Body body = parse_statements(ends, false);
      result.branches.emplace_back(std::move(test), std::move(body));
      const std::string keyword = current().value;
      next();
      if (keyword == "elif") continue;
      if (keyword == "else") {
        static const Names endif = {"endif"};
        result.otherwise = parse_statements(endif, true);
      }
      break;
    }
    return make_node(line, std::move(result));
  }

  Node parse_for() {
    const int line = current().line;
    next();
    ForNode result;
    result.target = parse_assign_target(true, false, {"in"}, false);
    expect_name("in");
    result.iterable = parse_tuple(false, false, {"recursive"}, false);
    if (skip_name("if")) result.condition = parse_expression(true);
    if (at_name("recursive")) fail("recursive for loops are not supported", current().line);
    ++loop_depth_;
    static const Names ends = {"endfor", "else"};
    result.body = parse_statements(ends, false);
    --loop_depth_;
    const std::string keyword = current().value;
    next();
    if (keyword == "else") {
      static const Names endfor = {"endfor"};
      result.otherwise = parse_statements(endfor, true);
    }
    return make_node(line, std::move(result));
  }

  Node parse_set() {
    const int line = current().line;
    next();
    Target target = parse_assign_target(true, false, {}, true);
    if (skip_op("=")) return make_node(line, SetNode{std::move(target), parse_tuple(false, true, {}, false)});
    SetBlockNode result;
    result.target = std::move(target);
    if (at_op("|")) result.filters = parse_filter_chain(false);
    static const Names ends = {"endset"};
    result.body = parse_statements(ends, true);
    return make_node(line, std::move(result));
  }

  void parse_signature(MacroDefinition& macro) {
    expect_op("(");
    bool has_default = false;
    while (!at_op(")")) {
      if (!macro.parameters.empty()) expect_op(",");
      if (at_op(")")) break;
      const int line = current().line;
      std::string name = expect_any_name();
      ExprPtr fallback;
      if (skip_op("=")) {
        fallback = parse_expression(true);
        has_default = true;
      } else if (has_default) {
        fail("non-default argument follows default argument", line);
      }
      macro.parameters.emplace_back(std::move(name), std::move(fallback));
    }
    expect_op(")");
  }

  // The body of a macro (or of a call block's caller): its own frame, where
  // break/continue of an enclosing loop do not reach.
  Body parse_macro_body(MacroDefinition& macro, const Names& ends) {
    macros_.push_back(&macro);
    const int saved_depth = loop_depth_;
    loop_depth_ = 0;
    Body body = parse_statements(ends, true);
    loop_depth_ = saved_depth;
    macros_.pop_back();
    return body;
  }

  Node parse_macro() {
    const int line = current().line;
    next();
    auto macro = std::make_shared<MacroDefinition>();
    macro->name = expect_any_name();
    parse_signature(*macro);
    static const Names ends = {"endmacro"};
    macro->body = parse_macro_body(*macro, ends);
    return make_node(line, MacroNode{std::move(macro)});
  }

  Node parse_call_block() {
    const int line = current().line;
    next();
    auto caller = std::make_shared<MacroDefinition>();
    caller->name = "caller";
    if (at_op("(")) parse_signature(*caller);
    ExprPtr call = parse_expression(true);
    if (!std::holds_alternative<CallExpr>(call->node)) fail("expected call", line);
    static const Names ends = {"endcall"};
    caller->body = parse_macro_body(*caller, ends);
    return make_node(line, CallBlockNode{std::move(caller), std::move(call)});
  }

  Node parse_filter_block() {
    const int line = current().line;
    next();
    FilterBlockNode result;
    result.filters = parse_filter_chain(true);
    static const Names ends = {"endfilter"};
    result.body = parse_statements(ends, true);
    return make_node(line, std::move(result));
  }

  Node parse_with() {
    const int line = current().line;
    next();
    WithNode result;
    while (current().type != TokenType::BlockEnd) {
      if (!result.assignments.empty()) expect_op(",");
      Target target = parse_assign_target(true, false, {}, false);
      expect_op("=");
      result.assignments.emplace_back(std::move(target), parse_expression(true));
    }
    static const Names ends = {"endwith"};
    result.body = parse_statements(ends, true);
    return make_node(line, std::move(result));
  }

  Node parse_print() {
    const int line = current().line;
    next();
    return make_node(line, OutputNode{parse_tuple(false, true, {}, false)});
  }

  Node parse_generation() {
    const int line = current().line;
    next();
    static const Names ends = {"endgeneration"};
    return make_node(line, ScopeNode{parse_statements(ends, true)});
  }

  Node parse_loop_control() {
    const int line = current().line;
    const bool is_break = current().value == "break";
    if (loop_depth_ == 0) fail(quoted(current().value) + " outside loop", line);
    next();
    return make_node(line, LoopControlNode{is_break});
  }

  Target parse_assign_target(bool with_tuple, bool name_only, const Names& extra_end_rules, bool with_namespace) {
    Target target;
    const int line = current().line;
    if (with_namespace && current().type == TokenType::Name && look().type == TokenType::Operator &&
        look().value == ".") {
      target.names.push_back(expect_any_name());
      next();  // the dot
      target.attribute = expect_any_name();
      return target;
    }
    if (name_only) {
      target.names.push_back(expect_any_name());
      return target;
    }
    ExprPtr expr = with_tuple ? parse_tuple(true, true, extra_end_rules, false) : parse_primary();
    const auto name_of = [&](const Expr& e) {
      if (const auto* name = std::get_if<NameExpr>(&e.node)) {
        if (name->name == "true" || name->name == "false" || name->name == "none" || name->name == "True" ||
            name->name == "False" || name->name == "None")
          fail("can't assign to 'const'", line);
        return name->name;
      }
      if (std::holds_alternative<ListExpr>(e.node)) fail("nested unpacking in assignments is not supported", line);
      fail("can't assign to " + quoted(std::holds_alternative<LiteralExpr>(e.node) ? "const" : "expression"), line);
    };
    if (const auto* tuple = std::get_if<ListExpr>(&expr->node); tuple && tuple->tuple) {
      target.unpack = true;
      for (const ExprPtr& item : tuple->items) target.names.push_back(name_of(*item));
    } else {
      target.names.push_back(name_of(*expr));
    }
    return target;
  }

  // ---- expressions ----
  bool is_tuple_end(const Names& extra_end_rules) const {
    if (current().type == TokenType::VariableEnd || current().type == TokenType::BlockEnd || at_op(")")) return true;
    return current().type == TokenType::Name &&
           std::find(extra_end_rules.begin(), extra_end_rules.end(), current().value) != extra_end_rules.end();
  }

  ExprPtr parse_tuple(bool simplified, bool with_condexpr, const Names& extra_end_rules, bool explicit_parentheses) {
    const int line = current().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end(extra_end_rules)) break;
      items.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
      if (at_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parentheses)
        fail("Expected an expression, got " + quoted(describe_token(current())), current().line);
    }
    return make_expr(line, ListExpr{std::move(items), true});
  }

  ExprPtr parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

  ExprPtr parse_condexpr() {
    const int line = current().line;
    ExprPtr expr = parse_or();
    while (skip_name("if")) {
      ExprPtr condition = parse_or();
      ExprPtr otherwise;
      if (skip_name("else")) {
        const NestingGuard guard(*this);  // `a if b else c if d else ...` recurses
        otherwise = parse_condexpr();
      }
      expr = make_expr(line, ConditionalExpr{std::move(condition), std::move(expr), std::move(otherwise)});
    }
    return expr;
  }

  ExprPtr parse_or() {
    const int line = current().line;
    ExprPtr left = parse_and();
    while (skip_name("or")) left = make_expr(line, BinaryExpr{"or", std::move(left), parse_and()});
    return left;
  }

  ExprPtr parse_and() {
    const int line = current().line;
    ExprPtr left = parse_not();
    while (skip_name("and")) left = make_expr(line, BinaryExpr{"and", std::move(left), parse_not()});
    return left;
  }

  ExprPtr parse_not() {
    const int line = current().line;
    if (skip_name("not")) {
      const NestingGuard guard(*this);
      return make_expr(line, UnaryExpr{"not", parse_not()});
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = current().line;
    ExprPtr first = parse_math1();
    CompareExpr compare;
    while (true) {
      const Token& token = current();
      if (token.type == TokenType::Operator && (token.value == "==" || token.value == "!=" || token.value == "<" ||
                                                token.value == "<=" || token.value == ">" || token.value == ">=")) {
        const std::string op = token.value;
        next();
        compare.rest.emplace_back(op, parse_math1());
      } else if (skip_name("in")) {
        compare.rest.emplace_back("in", parse_math1());
      } else if (at_name("not") && look().type == TokenType::Name && look().value == "in") {
        next();
        next();
        compare.rest.emplace_back("notin", parse_math1());
      } else {
        break;
      }
    }
    if (compare.rest.empty()) return first;
    compare.first = std::move(first);
    return make_expr(line, std::move(compare));
  }

  ExprPtr parse_math1() {
    const int line = current().line;
    ExprPtr left = parse_concat();
    while (at_op("+") || at_op("-")) {
      const std::string op = current().value;
      next();
      left = make_expr(line, BinaryExpr{op, std::move(left), parse_concat()});
    }
    return left;
  }

  ExprPtr parse_concat() {
    const int line = current().line;
    ExprPtr left = parse_math2();
    while (skip_op("~")) left = make_expr(line, BinaryExpr{"~", std::move(left), parse_math2()});
    return left;
  }

  ExprPtr parse_math2() {
    const int line = current().line;
    ExprPtr left = parse_pow();
    while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
      const std::string op = current().value;
      next();
      left = make_expr(line, BinaryExpr{op, std::move(left), parse_pow()});
    }
    return left;
  }

  ExprPtr parse_pow() {
    const int line = current().line;
    ExprPtr left = parse_unary(true);
    while (skip_op("**")) left = make_expr(line, BinaryExpr{"**", std::move(left), parse_unary(true)});
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    const NestingGuard guard(*this);  // brackets, parentheses and unary signs nest through here
    const int line = current().line;
    ExprPtr node;
    if (at_op("-") || at_op("+")) {
      const std::string op = current().value;
      next();
      node = make_expr(line, UnaryExpr{op, parse_unary(false)});
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& token = current();
    const int line = token.line;
    switch (token.type) {
      case TokenType::Name: {
        const std::string name = token.value;
        next();
        if (name == "true" || name == "True") return make_expr(line, LiteralExpr{Value::boolean(true)});
        if (name == "false" || name == "False") return make_expr(line, LiteralExpr{Value::boolean(false)});
        if (name == "none" || name == "None") return make_expr(line, LiteralExpr{Value::none()});
        note_name(name);
        return make_expr(line, NameExpr{name});
      }
      case TokenType::String: {
        std::string text;
        while (current().type == TokenType::String) {  // adjacent literals concatenate
          text += current().value;
          next();
        }
        return make_expr(line, LiteralExpr{Value::string(std::move(text))});
      }
      case TokenType::Integer: {
        const int64_t value = token.integer;
        next();
        return make_expr(line, LiteralExpr{Value::integer(value)});
      }
      case TokenType::Float: {
        const double value = token.number;
        next();
        return make_expr(line, LiteralExpr{Value::number(value)});
      }
      case TokenType::Operator:
        if (token.value == "(") {
          next();
          ExprPtr expr = parse_tuple(false, true, {}, true);
          expect_op(")");
          return expr;
        }
        if (token.value == "[") return parse_list();
        if (token.value == "{") return parse_dict();
        break;
      default: break;
    }
    fail("unexpected " + quoted(describe_token(token)), line);
  }

  // A macro accepts caller / varargs / kwargs only when its body uses them.
  void note_name(const std::string& name) {
    for (MacroDefinition* macro : macros_) {
      if (name == "caller") macro->uses_caller = true;
      if (name == "kwargs") macro->uses_kwargs = true;
      if (name == "varargs") macro->uses_varargs = true;
    }
  }

  ExprPtr parse_list() {
    const int line = current().line;
    expect_op("[");
    std::vector<ExprPtr> items;
    while (!at_op("]")) {
      if (!items.empty()) expect_op(",");
      if (at_op("]")) break;
      items.push_back(parse_expression(true));
    }
    expect_op("]");
    return make_expr(line, ListExpr{std::move(items), false});
  }

  ExprPtr parse_dict() {
    const int line = current().line;
    expect_op("{");
    DictExpr dict;
    while (!at_op("}")) {
      if (!dict.entries.empty()) expect_op(",");
      if (at_op("}")) break;
      ExprPtr key = parse_expression(true);
      expect_op(":");
      dict.entries.emplace_back(std::move(key), parse_expression(true));
    }
    expect_op("}");
    return make_expr(line, std::move(dict));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (at_op(".") || at_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (at_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (at_op("|")) {
        for (FilterCall& filter : parse_filter_chain(false)) {
          const int line = filter.line;
          node = make_expr(line, FilterExpr{std::move(node), std::move(filter)});
        }
      } else if (at_name("is")) {
        node = parse_test(std::move(node));
      } else if (at_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const int line = current().line;
    if (skip_op(".")) {
      const Token& token = current();
      if (token.type == TokenType::Name) {
        std::string name = token.value;
        next();
        return make_expr(line, AttributeExpr{std::move(node), std::move(name)});
      }
      if (token.type == TokenType::Integer) {
        const int64_t index = token.integer;
        next();
        return make_expr(line, ItemExpr{std::move(node), make_expr(line, LiteralExpr{Value::integer(index)})});
      }
      fail("expected name or number", token.line);
    }
    expect_op("[");
    std::vector<Subscript> args;
    while (!at_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    if (args.size() == 1) {
      Subscript& arg = args[0];
      if (arg.is_slice)
        return make_expr(line, SliceExpr{std::move(node), std::move(arg.start), std::move(arg.stop), std::move(arg.step)});
      return make_expr(line, ItemExpr{std::move(node), std::move(arg.single)});
    }
    std::vector<ExprPtr> items;
    for (Subscript& arg : args) {
      if (arg.is_slice) fail("slices inside a tuple subscript are not supported", line);
      items.push_back(std::move(arg.single));
    }
    return make_expr(line, ItemExpr{std::move(node), make_expr(line, ListExpr{std::move(items), true})});
  }

  Subscript parse_subscribed() {
    Subscript result;
    if (!skip_op(":")) {
      ExprPtr expr = parse_expression(true);
      if (!skip_op(":")) {
        result.single = std::move(expr);
        return result;
      }
      result.start = std::move(expr);
    }
    result.is_slice = true;
    if (!at_op(":") && !at_op("]") && !at_op(",")) result.stop = parse_expression(true);
    if (skip_op(":")) {
      if (!at_op("]") && !at_op(",")) result.step = parse_expression(true);
    }
    return result;
  }

  ExprPtr parse_call(ExprPtr node) {
    const int line = current().line;
    CallArguments args = parse_call_args();
    return make_expr(line, CallExpr{std::move(node), std::move(args)});
  }

  CallArguments parse_call_args() {
    const int line = current().line;
    expect_op("(");
    CallArguments args;
    bool require_comma = false;
    const auto ensure = [&](bool ok) {
      if (!ok) fail("invalid syntax for function call expression", line);
    };
    while (!at_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (at_op(")")) break;
      }
      if (skip_op("*")) {
        ensure(!args.star_args && !args.star_kwargs);
        args.star_args = parse_expression(true);
      } else if (skip_op("**")) {
        ensure(!args.star_kwargs);
        args.star_kwargs = parse_expression(true);
      } else if (current().type == TokenType::Name && look().type == TokenType::Operator && look().value == "=") {
        ensure(!args.star_kwargs);
        std::string key = current().value;
        next();
        next();
        args.keyword.emplace_back(std::move(key), parse_expression(true));
      } else {
        ensure(!args.star_args && !args.star_kwargs && args.keyword.empty());
        args.positional.push_back(parse_expression(true));
      }
      require_comma = true;
    }
    expect_op(")");
    return args;
  }

  std::string parse_dotted_name() {
    std::string name = expect_any_name();
    while (skip_op(".")) name += "." + expect_any_name();
    return name;
  }

  // `|f(args)|g ...`; for a filter block the first name has no `|`.
  std::vector<FilterCall> parse_filter_chain(bool start_inline) {
    std::vector<FilterCall> filters;
    while (at_op("|") || start_inline) {
      if (!start_inline) next();
      start_inline = false;
      FilterCall filter;
      filter.line = current().line;
      filter.name = parse_dotted_name();
      if (!has_filter(filter.name)) fail("No filter named " + quoted(filter.name) + ".", filter.line);
      if (at_op("(")) filter.args = parse_call_args();
      filters.push_back(std::move(filter));
    }
    return filters;
  }

  ExprPtr parse_test(ExprPtr node) {
    const int line = current().line;
    next();  // is
    TestExpr test;
    test.subject = std::move(node);
    test.negated = skip_name("not");
    test.name = parse_dotted_name();
    if (!has_test(test.name)) fail("No test named " + quoted(test.name) + ".", line);
    const Token& token = current();
    const bool argument_follows =
        token.type == TokenType::Name || token.type == TokenType::String || token.type == TokenType::Integer ||
        token.type == TokenType::Float || (token.type == TokenType::Operator && (token.value == "[" || token.value == "{"));
    if (at_op("(")) {
      test.args = parse_call_args();
    } else if (argument_follows && !at_name("else") && !at_name("or") && !at_name("and")) {
      if (at_name("is")) fail("You cannot chain multiple tests with is", token.line);
      test.args.positional.push_back(parse_postfix(parse_primary()));
    }
    return make_expr(line, std::move(test));
  }

  const std::vector<Token>& tokens_;
  const std::string& name_;
  size_t index_ = 0;
  std::vector<const Names*> end_tokens_;                 // what enclosing blocks wait for
  std::vector<std::pair<std::string, int>> tag_stack_;  // open tags and their lines
  std::vector<MacroDefinition*> macros_;                // macros being parsed
  int loop_depth_ = 0;                                  // for loops around, within this macro
  int nesting_ = 0;                                     // NestingGuards alive
};

}  // namespace

Body parse_template(const std::vector<Token>& tokens, const std::string& template_name) {
  return Parser(tokens, template_name).parse();
}

}  // namespace slkv::jinja
