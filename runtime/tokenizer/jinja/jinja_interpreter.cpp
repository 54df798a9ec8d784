#include "runtime/tokenizer/jinja/jinja_interpreter.h"

#include <exception>
#include <memory>
#include <unordered_map>

#include "runtime/tokenizer/jinja/jinja_access.h"
#include "runtime/tokenizer/jinja/jinja_error.h"
#include "runtime/tokenizer/jinja/jinja_filters.h"
#include "runtime/tokenizer/jinja/jinja_operators.h"
#include "runtime/tokenizer/jinja/jinja_tests.h"

namespace slkv::jinja {
namespace {

// Variables of one scope; lookups continue in the enclosing scope.
class Scope {
 public:
  explicit Scope(std::shared_ptr<Scope> parent) : parent_(std::move(parent)) {}

  const Value* find(const std::string& name) const {
    for (const Scope* scope = this; scope; scope = scope->parent_.get()) {
      const auto it = scope->variables_.find(name);
      if (it != scope->variables_.end()) return &it->second;
    }
    return nullptr;
  }

  void set(const std::string& name, Value value) { variables_[name] = std::move(value); }

 private:
  std::shared_ptr<Scope> parent_;
  std::unordered_map<std::string, Value> variables_;
};

using ScopePtr = std::shared_ptr<Scope>;

ScopePtr child_of(const ScopePtr& scope) { return std::make_shared<Scope>(scope); }

// What a statement asks of the loop around it.
enum class Flow { Normal, Break, Continue };

// Python's recursion limit stops runaway recursive macros; ours is lower
// because each macro call takes several C++ frames.
constexpr int kMaxMacroDepth = 200;

class Interpreter {
 public:
  explicit Interpreter(const std::string& name) : name_(name) {}

  std::string render(const Body& body, const ScopePtr& scope) {
    std::string out;
    try {
      execute(body, scope, out);
    } catch (const RaisedFailure& e) {
      throw TemplateRaisedError(e.what(), line_);
    } catch (const RenderFailure& e) {
      throw TemplateError(name_, line_, e.what());
    }
    return out;
  }

 private:
  // Sets the current line for a node; restores the outer one when the node
  // completes, keeps it when an error unwinds (so errors name the innermost).
  class AtLine {
   public:
    AtLine(int& line, int now) : line_(line), saved_(line), exceptions_(std::uncaught_exceptions()) { line_ = now; }
    ~AtLine() {
      if (std::uncaught_exceptions() == exceptions_) line_ = saved_;
    }
    AtLine(const AtLine&) = delete;
    AtLine& operator=(const AtLine&) = delete;

   private:
    int& line_;
    int saved_;
    int exceptions_;
  };

  // ---- statements ----
  Flow execute(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const Node& node : body) {
      const Flow flow = execute(node, scope, out);
      if (flow != Flow::Normal) return flow;
    }
    return Flow::Normal;
  }

  Flow execute(const Node& node, const ScopePtr& scope, std::string& out) {
    AtLine at(line_, node.line);
    return std::visit([&](const auto& n) { return run(n, scope, out); }, node.node);
  }

  Flow run(const TextNode& node, const ScopePtr&, std::string& out) {
    out += node.text;
    return Flow::Normal;
  }

  Flow run(const OutputNode& node, const ScopePtr& scope, std::string& out) {
    out += to_str(eval(*node.expr, scope));
    return Flow::Normal;
  }

  Flow run(const IfNode& node, const ScopePtr& scope, std::string& out) {
    for (const auto& [test, body] : node.branches)
      if (truthy(eval(*test, scope))) return execute(body, scope, out);
    return execute(node.otherwise, scope, out);
  }

  Flow run(const ForNode& node, const ScopePtr& scope, std::string& out) {
    const std::vector<Value> all = iterate(eval(*node.iterable, scope));
    std::vector<Value> items;
    for (const Value& item : all) {
      if (node.condition) {
        const ScopePtr test_scope = child_of(scope);
        assign(node.target, item, test_scope);
        if (!truthy(eval(*node.condition, test_scope))) continue;
      }
      items.push_back(item);
    }
    if (items.empty()) {
      execute(node.otherwise, child_of(scope), out);
      return Flow::Normal;
    }
    auto last_changed = std::make_shared<std::optional<Value>>();  // loop.changed() state
    const int64_t count = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < count; ++i) {
      const ScopePtr iteration = child_of(scope);
      assign(node.target, items[static_cast<size_t>(i)], iteration);
      iteration->set("loop", loop_object(items, i, last_changed));
      if (execute(node.body, iteration, out) == Flow::Break) break;
    }
    return Flow::Normal;
  }

  static Value loop_object(const std::vector<Value>& items, int64_t i,
                           const std::shared_ptr<std::optional<Value>>& last_changed) {
    const int64_t count = static_cast<int64_t>(items.size());
    auto loop = std::make_shared<Object>();
    loop->type_name = "LoopContext";
    loop->qualified_name = "jinja2.runtime.LoopContext";
    loop->attributes = {
        {"index", Value::integer(i + 1)},
        {"index0", Value::integer(i)},
        {"revindex", Value::integer(count - i)},
        {"revindex0", Value::integer(count - i - 1)},
        {"first", Value::boolean(i == 0)},
        {"last", Value::boolean(i == count - 1)},
        {"length", Value::integer(count)},
        {"depth", Value::integer(1)},
        {"depth0", Value::integer(0)},
        {"previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item")},
        {"nextitem", i + 1 < count ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item")},
        {"cycle", Value::callable("cycle", [i](const CallArgs& args) {
           if (args.positional.empty()) throw RenderFailure("no items for cycling given");
           return args.positional[static_cast<size_t>(i) % args.positional.size()];
         })},
        {"changed", Value::callable("changed", [last_changed](const CallArgs& args) {
           const Value current = Value::list(args.positional);
           if (*last_changed && equals(**last_changed, current)) return Value::boolean(false);
           *last_changed = current;
           return Value::boolean(true);
         })},
    };
    return Value::object(std::move(loop));
  }

  Flow run(const SetNode& node, const ScopePtr& scope, std::string&) {
    assign(node.target, eval(*node.value, scope), scope);
    return Flow::Normal;
  }

  Flow run(const SetBlockNode& node, const ScopePtr& scope, std::string&) {
    std::string captured;
    execute(node.body, child_of(scope), captured);
    assign(node.target, apply_filters(node.filters, Value::string(std::move(captured)), scope), scope);
    return Flow::Normal;
  }

  Flow run(const MacroNode& node, const ScopePtr& scope, std::string&) {
    scope->set(node.macro->name, macro_value(node.macro, scope));
    return Flow::Normal;
  }

  Flow run(const CallBlockNode& node, const ScopePtr& scope, std::string& out) {
    const auto& call = std::get<CallExpr>(node.call->node);
    AtLine at(line_, node.call->line);
    const Value callee = eval(*call.callee, scope);
    CallArgs args = eval_arguments(call.args, scope);
    args.keyword.emplace_back("caller", macro_value(node.caller, scope));
    out += to_str(call_value(callee, args));
    return Flow::Normal;
  }

  Flow run(const FilterBlockNode& node, const ScopePtr& scope, std::string& out) {
    std::string captured;
    execute(node.body, child_of(scope), captured);
    out += to_str(apply_filters(node.filters, Value::string(std::move(captured)), scope));
    return Flow::Normal;
  }

  Flow run(const WithNode& node, const ScopePtr& scope, std::string& out) {
    const ScopePtr inner = child_of(scope);
    for (const auto& [target, value] : node.assignments) assign(target, eval(*value, scope), inner);
    return execute(node.body, inner, out);
  }

  Flow run(const LoopControlNode& node, const ScopePtr&, std::string&) {
    return node.is_break ? Flow::Break : Flow::Continue;
  }

  Flow run(const ScopeNode& node, const ScopePtr& scope, std::string& out) {
    return execute(node.body, child_of(scope), out);
  }

  void assign(const Target& target, const Value& value, const ScopePtr& scope) {
    if (!target.attribute.empty()) {
      const Value* ns = scope->find(target.names[0]);
      if (!ns || !ns->is_object() || !ns->as_object().assignable)
        throw RenderFailure("cannot assign attribute on non-namespace object");
      ns->as_object().set(target.attribute, value);
      return;
    }
    if (!target.unpack) {
      scope->set(target.names[0], value);
      return;
    }
    if (!value.is_list() && !value.is_string() && !value.is_dict() && !value.is_iterator() && !value.is_undefined())
      throw RenderFailure("cannot unpack non-iterable " + type_name(value) + " object");
    const std::vector<Value> parts = iterate(value);
    const size_t expected = target.names.size();
    if (parts.size() > expected)
      throw RenderFailure("too many values to unpack (expected " + std::to_string(expected) + ")");
    if (parts.size() < expected)
      throw RenderFailure("not enough values to unpack (expected " + std::to_string(expected) + ", got " +
                          std::to_string(parts.size()) + ")");
    for (size_t i = 0; i < expected; ++i) scope->set(target.names[i], parts[i]);
  }

  // ---- macros ----
  // The macro's value lives in its closure scope, so it may not own that
  // scope (a cycle that would never be freed): the interpreter keeps the
  // closure alive for the render, the value holds a weak reference.
  Value macro_value(const std::shared_ptr<const MacroDefinition>& macro, const ScopePtr& closure) {
    closures_.push_back(closure);
    const std::weak_ptr<Scope> weak = closure;
    return Value::callable(
        macro->name, [this, macro, weak](const CallArgs& args) { return call_macro(*macro, weak.lock(), args); },
        "Macro");
  }

  Value call_macro(const MacroDefinition& macro, const ScopePtr& closure, const CallArgs& args) {
    const std::string quoted_name = python_string_repr(macro.name);
    const size_t count = macro.parameters.size();
    if (args.positional.size() > count && !macro.uses_varargs)
      throw RenderFailure("macro " + quoted_name + " takes not more than " + std::to_string(count) + " argument(s)");
    if (depth_ >= kMaxMacroDepth) throw RenderFailure("maximum recursion depth exceeded in macro " + quoted_name);
    const ScopePtr scope = child_of(closure);
    std::vector<bool> given(count, false);
    std::vector<Value> extra_positional;
    for (size_t i = 0; i < args.positional.size(); ++i) {
      if (i < count) {
        scope->set(macro.parameters[i].first, args.positional[i]);
        given[i] = true;
      } else {
        extra_positional.push_back(args.positional[i]);
      }
    }
    Dict extra_keywords;
    Value caller = Value::undefined("No caller defined");
    for (const auto& [key, value] : args.keyword) {
      size_t index = 0;
      while (index < count && macro.parameters[index].first != key) ++index;
      if (index < count) {
        if (given[index]) throw RenderFailure("macro " + quoted_name + " got multiple values for argument " + python_string_repr(key));
        scope->set(key, value);
        given[index] = true;
      } else if (key == "caller" && macro.uses_caller) {
        caller = value;
      } else if (macro.uses_kwargs) {
        extra_keywords.set(Value::string(key), value);
      } else {
        throw RenderFailure("macro " + quoted_name + " takes no keyword argument " + python_string_repr(key));
      }
    }
    for (size_t i = 0; i < count; ++i) {
      if (given[i]) continue;
      const auto& [name, fallback] = macro.parameters[i];
      scope->set(name, fallback ? eval(*fallback, scope)
                                : Value::undefined("parameter " + python_string_repr(name) + " was not provided"));
    }
    if (macro.uses_varargs) scope->set("varargs", Value::list(std::move(extra_positional), true));
    if (macro.uses_kwargs) scope->set("kwargs", Value::dict(std::move(extra_keywords)));
    if (macro.uses_caller) scope->set("caller", caller);
    std::string out;
    ++depth_;
    try {
      execute(macro.body, scope, out);
    } catch (...) {
      --depth_;
      throw;
    }
    --depth_;
    return Value::string(std::move(out));
  }

  // ---- expressions ----
  Value eval(const Expr& expr, const ScopePtr& scope) {
    AtLine at(line_, expr.line);
    return std::visit([&](const auto& e) { return evaluate(e, expr, scope); }, expr.node);
  }

  Value evaluate(const LiteralExpr& e, const Expr&, const ScopePtr&) { return e.value; }

  Value evaluate(const NameExpr& e, const Expr&, const ScopePtr& scope) {
    if (const Value* value = scope->find(e.name)) return *value;
    return Value::undefined(python_string_repr(e.name) + " is undefined");
  }

  Value evaluate(const ListExpr& e, const Expr&, const ScopePtr& scope) {
    std::vector<Value> items;
    items.reserve(e.items.size());
    for (const ExprPtr& item : e.items) items.push_back(eval(*item, scope));
    return Value::list(std::move(items), e.tuple);
  }

  Value evaluate(const DictExpr& e, const Expr&, const ScopePtr& scope) {
    Dict dict;
    for (const auto& [key_expr, value_expr] : e.entries) {
      Value key = eval(*key_expr, scope);
      if (!is_hashable(key)) throw RenderFailure("unhashable type: '" + type_name(key) + "'");
      dict.set(std::move(key), eval(*value_expr, scope));
    }
    return Value::dict(std::move(dict));
  }

  Value evaluate(const AttributeExpr& e, const Expr&, const ScopePtr& scope) {
    return get_attribute(eval(*e.object, scope), e.name);
  }

  Value evaluate(const ItemExpr& e, const Expr&, const ScopePtr& scope) {
    const Value object = eval(*e.object, scope);
    return get_item(object, eval(*e.key, scope));
  }

  Value evaluate(const SliceExpr& e, const Expr&, const ScopePtr& scope) {
    const Value object = eval(*e.object, scope);
    const auto bound = [&](const ExprPtr& part) { return part ? eval(*part, scope) : Value::none(); };
    const Value start = bound(e.start), stop = bound(e.stop), step = bound(e.step);
    return get_slice(object, start, stop, step);
  }

  Value evaluate(const CallExpr& e, const Expr&, const ScopePtr& scope) {
    const Value callee = eval(*e.callee, scope);
    return call_value(callee, eval_arguments(e.args, scope));
  }

  Value evaluate(const FilterExpr& e, const Expr&, const ScopePtr& scope) {
    const Value subject = eval(*e.subject, scope);
    return apply_filter(e.filter.name, subject, eval_arguments(e.filter.args, scope));
  }

  Value evaluate(const TestExpr& e, const Expr&, const ScopePtr& scope) {
    const Value subject = eval(*e.subject, scope);
    const bool result = apply_test(e.name, subject, eval_arguments(e.args, scope));
    return Value::boolean(result != e.negated);
  }

  Value evaluate(const UnaryExpr& e, const Expr&, const ScopePtr& scope) {
    const Value operand = eval(*e.operand, scope);
    if (e.op == "not") return Value::boolean(!truthy(operand));
    return unary_operator(e.op, operand);
  }

  Value evaluate(const BinaryExpr& e, const Expr&, const ScopePtr& scope) {
    Value left = eval(*e.left, scope);
    // and / or short-circuit and give an operand, as in Python.
    if (e.op == "and") return truthy(left) ? eval(*e.right, scope) : left;
    if (e.op == "or") return truthy(left) ? left : eval(*e.right, scope);
    const Value right = eval(*e.right, scope);
    if (e.op == "~") return Value::string(to_str(left) + to_str(right));
    return binary_operator(e.op, left, right);
  }

  Value evaluate(const CompareExpr& e, const Expr&, const ScopePtr& scope) {
    Value left = eval(*e.first, scope);
    for (const auto& [op, right_expr] : e.rest) {
      Value right = eval(*right_expr, scope);
      bool result;
      if (op == "in") {
        result = contains(right, left);
      } else if (op == "notin") {
        result = !contains(right, left);
      } else {
        result = compare(op, left, right);
      }
      if (!result) return Value::boolean(false);
      left = std::move(right);
    }
    return Value::boolean(true);
  }

  Value evaluate(const ConditionalExpr& e, const Expr& expr, const ScopePtr& scope) {
    if (truthy(eval(*e.condition, scope))) return eval(*e.then_value, scope);
    if (e.else_value) return eval(*e.else_value, scope);
    return Value::undefined("the inline if-expression on line " + std::to_string(expr.line) +
                            " evaluated to false and no else section was defined.");
  }

  CallArgs eval_arguments(const CallArguments& arguments, const ScopePtr& scope) {
    CallArgs args;
    for (const ExprPtr& arg : arguments.positional) args.positional.push_back(eval(*arg, scope));
    for (const auto& [key, arg] : arguments.keyword) args.keyword.emplace_back(key, eval(*arg, scope));
    if (arguments.star_args) {
      for (Value& item : iterate(eval(*arguments.star_args, scope))) args.positional.push_back(std::move(item));
    }
    if (arguments.star_kwargs) {
      const Value mapping = eval(*arguments.star_kwargs, scope);
      if (!mapping.is_dict()) throw RenderFailure("argument after ** must be a mapping, not " + type_name(mapping));
      for (const auto& [key, value] : mapping.as_dict().entries) {
        if (!key.is_string()) throw RenderFailure("keywords must be strings");
        args.keyword.emplace_back(key.as_string(), value);
      }
    }
    return args;
  }

  Value apply_filters(const std::vector<FilterCall>& filters, Value value, const ScopePtr& scope) {
    for (const FilterCall& filter : filters) {
      AtLine at(line_, filter.line);
      value = apply_filter(filter.name, value, eval_arguments(filter.args, scope));
    }
    return value;
  }

  const std::string& name_;
  int line_ = 1;
  int depth_ = 0;  // macro calls in progress
  std::vector<ScopePtr> closures_;  // the scopes macros were defined in, alive for the render
};

}  // namespace

std::string render_template(const Body& body, const std::map<std::string, Value>& variables,
                            const std::string& template_name) {
  auto scope = std::make_shared<Scope>(nullptr);
  for (const auto& [name, value] : variables) scope->set(name, value);
  // The template's own top-level assignments go to a scope of their own, so
  // they shadow the variables without changing the caller's map.
  return Interpreter(template_name).render(body, child_of(scope));
}

}  // namespace slkv::jinja
