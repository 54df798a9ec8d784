#include "runtime/tokenizer/jinja/jinja_tests.h"

#include <functional>
#include <map>

#include "runtime/tokenizer/jinja/jinja_error.h"
#include "runtime/tokenizer/jinja/jinja_filters.h"
#include "runtime/tokenizer/jinja/jinja_operators.h"
#include "runtime/tokenizer/jinja/jinja_string.h"

namespace slkv::jinja {
namespace {

using Test = std::function<bool(const Value& subject, const CallArgs& args)>;

// A test of the subject alone.
Test unary(bool (*predicate)(const Value&), const std::string& name) {
  return [predicate, name](const Value& subject, const CallArgs& args) {
    bind_arguments(name, args, {});
    return predicate(subject);
  };
}

// A test comparing the subject with one argument.
Test comparison(const std::string& op, const std::string& name) {
  return [op, name](const Value& subject, const CallArgs& args) {
    const auto a = bind_arguments(name, args, {{"other", {}, true}});
    return compare(op, subject, a[0]);
  };
}

bool remainder_is(const Value& value, const Value& divisor, int64_t expected) {
  return equals(binary_operator("%", value, divisor), Value::integer(expected));
}

const std::map<std::string, Test>& tests() {
  static const std::map<std::string, Test> table = [] {
    std::map<std::string, Test> t;
    t["defined"] = unary([](const Value& v) { return !v.is_undefined(); }, "defined");
    t["undefined"] = unary([](const Value& v) { return v.is_undefined(); }, "undefined");
    t["none"] = unary([](const Value& v) { return v.is_none(); }, "none");
    t["boolean"] = unary([](const Value& v) { return v.is_bool(); }, "boolean");
    t["true"] = unary([](const Value& v) { return v.is_bool() && v.as_bool(); }, "true");
    t["false"] = unary([](const Value& v) { return v.is_bool() && !v.as_bool(); }, "false");
    t["integer"] = unary([](const Value& v) { return v.is_int(); }, "integer");
    t["float"] = unary([](const Value& v) { return v.is_float(); }, "float");
    t["number"] = unary([](const Value& v) { return v.is_number(); }, "number");
    t["string"] = unary([](const Value& v) { return v.is_string(); }, "string");
    t["mapping"] = unary([](const Value& v) { return v.is_dict(); }, "mapping");
    // Undefined has __len__ and __getitem__, so Jinja calls it a sequence.
    t["sequence"] = unary([](const Value& v) { return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined(); },
                          "sequence");
    t["iterable"] = unary([](const Value& v) {
      return v.is_string() || v.is_list() || v.is_dict() || v.is_iterator() || v.is_undefined();
    }, "iterable");
    t["callable"] = unary([](const Value& v) { return v.is_callable(); }, "callable");
    t["escaped"] = unary([](const Value&) { return false; }, "escaped");
    t["lower"] = unary([](const Value& v) { return py_islower(to_str(v)); }, "lower");
    t["upper"] = unary([](const Value& v) { return py_isupper(to_str(v)); }, "upper");
    t["odd"] = unary([](const Value& v) { return remainder_is(v, Value::integer(2), 1); }, "odd");
    t["even"] = unary([](const Value& v) { return remainder_is(v, Value::integer(2), 0); }, "even");
    t["divisibleby"] = [](const Value& subject, const CallArgs& args) {
      const auto a = bind_arguments("divisibleby", args, {{"num", {}, true}});
      return remainder_is(subject, a[0], 0);
    };
    for (const auto& [op, names] : std::map<std::string, std::vector<std::string>>{
             {"==", {"==", "eq", "equalto"}}, {"!=", {"!=", "ne"}},
             {"<", {"<", "lt", "lessthan"}},  {"<=", {"<=", "le"}},
             {">", {">", "gt", "greaterthan"}}, {">=", {">=", "ge"}}}) {
      for (const std::string& name : names) t[name] = comparison(op, name);
    }
    t["in"] = [](const Value& subject, const CallArgs& args) {
      const auto a = bind_arguments("in", args, {{"seq", {}, true}});
      return contains(a[0], subject);
    };
    t["sameas"] = [](const Value& subject, const CallArgs& args) {
      const auto a = bind_arguments("sameas", args, {{"other", {}, true}});
      return subject.same_object(a[0]);
    };
    t["filter"] = [](const Value& subject, const CallArgs& args) {
      bind_arguments("filter", args, {});
      return subject.is_string() && has_filter(subject.as_string());
    };
    t["test"] = [](const Value& subject, const CallArgs& args) {
      bind_arguments("test", args, {});
      return subject.is_string() && has_test(subject.as_string());
    };
    return t;
  }();
  return table;
}

}  // namespace

bool has_test(const std::string& name) { return tests().count(name) > 0; }

bool apply_test(const std::string& name, const Value& subject, const CallArgs& args) {
  const auto it = tests().find(name);
  if (it == tests().end()) throw RenderFailure("No test named " + python_string_repr(name) + ".");
  return it->second(subject, args);
}

}  // namespace slkv::jinja
