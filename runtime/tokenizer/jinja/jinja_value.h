#pragma once
// Value: what a Jinja expression evaluates to, with Python's data model.
//
// Hugging Face chat templates run under Python, so the values behave like
// Python's: ints and floats are distinct (`/` gives a float, 1.0 prints as
// "1.0"), bool is a number, dicts keep insertion order, a list never equals
// a tuple (and prints with [] instead of ()), and printing a container gives its repr
// (['a', 'b'], {'k': None}). Jinja adds Undefined (a missing variable,
// attribute or element: prints as "", is false and empty, but any other use
// is an error naming what was missing), namespace() objects, the `loop`
// object, and one-shot iterators (what select/map/reverse return: always
// true, no length, consumed by the first pass).
//
// Containers are shared and immutable (templates run in Hugging Face's
// ImmutableSandboxedEnvironment, which forbids mutating them); only
// namespace() attributes and iterator positions change.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace slkv::jinja {

class Value;
struct CallArgs;

// Why a value is undefined: the UndefinedError message when it is used.
struct Undefined {
  std::string hint;
};

struct List {
  std::vector<Value> items;
  bool tuple = false;  // prints as (a, b) instead of [a, b]
};

// A dict in insertion order; keys compare with Python's ==.
struct Dict {
  std::vector<std::pair<Value, Value>> entries;

  const Value* find(const Value& key) const;
  // Replaces the value of an existing key, else appends.
  void set(Value key, Value value);
};

// An object with named attributes: namespace() (assignable) or the loop
// object of a for block (read-only).
struct Object {
  std::string type_name;     // "Namespace", "LoopContext"
  std::string qualified_name;  // for error messages: "jinja2.utils.Namespace"
  bool assignable = false;
  std::vector<std::pair<std::string, Value>> attributes;

  const Value* find(std::string_view name) const;
  void set(const std::string& name, Value value);
};

// A one-shot iterator: items are computed eagerly, handed out once.
struct IteratorState {
  std::string type_name;  // "generator", "list_reverseiterator", ...
  std::vector<Value> items;
  size_t next = 0;
};

// A function, bound method or macro.
struct Callable {
  std::string name;
  std::string type_name;  // "builtin_function_or_method", "Macro"
  std::function<Value(const CallArgs&)> call;
};

class Value {
 public:
  enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Object, Iterator, Callable };

  Value() : data_(Undefined{}) {}
  static Value undefined(std::string hint);
  static Value none();
  static Value boolean(bool value);
  static Value integer(int64_t value);
  static Value number(double value);
  static Value string(std::string value);
  static Value list(std::vector<Value> items, bool tuple = false);
  static Value dict(Dict dict);
  static Value object(std::shared_ptr<Object> object);
  static Value iterator(std::string type_name, std::vector<Value> items);
  static Value callable(std::string name, std::function<Value(const CallArgs&)> call,
                        std::string type_name = "builtin_function_or_method");

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_undefined() const { return kind() == Kind::Undefined; }
  bool is_none() const { return kind() == Kind::None; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }
  bool is_float() const { return kind() == Kind::Float; }
  // int, float or bool (bool is an int in Python).
  bool is_number() const { return is_bool() || is_int() || is_float(); }
  // int or bool: what Python accepts as an index.
  bool is_integral() const { return is_bool() || is_int(); }
  bool is_string() const { return kind() == Kind::String; }
  bool is_list() const { return kind() == Kind::List; }  // lists and tuples
  bool is_dict() const { return kind() == Kind::Dict; }
  bool is_object() const { return kind() == Kind::Object; }
  bool is_iterator() const { return kind() == Kind::Iterator; }
  bool is_callable() const { return kind() == Kind::Callable; }

  const std::string& undefined_hint() const { return std::get<Undefined>(data_).hint; }
  bool as_bool() const { return std::get<bool>(data_); }
  // An int or bool as int64.
  int64_t as_int() const;
  // Any number as double.
  double as_float() const;
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const List& as_list() const { return *std::get<std::shared_ptr<const List>>(data_); }
  const std::vector<Value>& items() const { return as_list().items; }
  const Dict& as_dict() const { return *std::get<std::shared_ptr<const Dict>>(data_); }
  Object& as_object() const { return *std::get<std::shared_ptr<Object>>(data_); }
  IteratorState& as_iterator() const { return *std::get<std::shared_ptr<IteratorState>>(data_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<const Callable>>(data_); }

  // Python's `is`: the same object (None, True and False are singletons).
  bool same_object(const Value& other) const;

 private:
  using Data = std::variant<Undefined, std::monostate, bool, int64_t, double, std::string,
                            std::shared_ptr<const List>, std::shared_ptr<const Dict>,
                            std::shared_ptr<Object>, std::shared_ptr<IteratorState>,
                            std::shared_ptr<const Callable>>;
  explicit Value(Data data) : data_(std::move(data)) {}
  Data data_;
};

// Python's bool(value).
bool truthy(const Value& value);
// Python's str(value); Undefined gives "".
std::string to_str(const Value& value);
// Python's repr(value).
std::string repr(const Value& value);
// Python's == (1 == 1.0 == True; a list never equals a tuple).
bool equals(const Value& a, const Value& b);

// Throws the UndefinedError of an undefined value (its hint); else nothing.
void require_defined(const Value& value);
// Python's hashability (what may be a dict key or be looked up in one).
bool is_hashable(const Value& value);

// The Python type name used in error messages: "int", "str", "NoneType".
std::string type_name(const Value& value);
// Jinja's object_type_repr: "dict object", "None", "jinja2.utils.Namespace object".
std::string object_type_repr(const Value& value);

// Python's repr of a float ("1.0", "0.1", "1e+16", "inf").
std::string python_float_repr(double value);
// Python's repr of a str: 'text', or "it's" when only ' occurs; \n, \x..,
// \u.... escapes for what is not printable.
std::string python_string_repr(std::string_view text);

}  // namespace slkv::jinja
