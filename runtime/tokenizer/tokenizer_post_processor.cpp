#include "runtime/tokenizer/tokenizer_post_processor.h"

#include <string>

namespace slkv {
namespace {

void add_template(const Json& value, const JsonPath& path, PostProcessor& out) {
  const Json& single = json_require(value, "single", path);
  if (!single.is_array()) (path / "single").fail("expected a list of template pieces");
  const Json empty = Json::object();
  const auto special_it = value.find("special_tokens");
  const Json& specials = special_it != value.end() ? *special_it : empty;
  bool after_sequence = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const JsonPath piece_path = (path / "single")[i];
    const Json& piece = single[i];
    if (piece.contains("Sequence")) {
      after_sequence = true;
    } else if (piece.contains("SpecialToken")) {
      const std::string name = json_string(piece["SpecialToken"], "id", piece_path / "SpecialToken");
      const Json& special = json_require(specials, name, path / "special_tokens");
      const Json& ids = json_require(special, "ids", path / "special_tokens" / name);
      if (!ids.is_array()) (path / "special_tokens" / name / "ids").fail("expected a list of ids");
      for (const Json& id : ids) (after_sequence ? out.suffix : out.prefix).push_back(id.get<int32_t>());
    } else {
      piece_path.fail("expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    }
  }
}

// RobertaProcessing / BertProcessing: "cls": [token, id], "sep": [token, id].
int32_t pair_id(const Json& value, const char* key, const JsonPath& path) {
  const Json& pair = json_require(value, key, path);
  if (!pair.is_array() || pair.size() != 2 || !pair[1].is_number_integer()) {
    (path / key).fail("expected [token, id]");
  }
  return pair[1].get<int32_t>();
}

void add_processor(const Json& value, const JsonPath& path, PostProcessor& out) {
  const std::string type = json_type(value, path);
  if (type == "Sequence") {
    const Json& list = json_require(value, "processors", path);
    if (!list.is_array()) (path / "processors").fail("expected an array");
    for (size_t i = 0; i < list.size(); ++i) add_processor(list[i], (path / "processors")[i], out);
  } else if (type == "TemplateProcessing") {
    add_template(value, path, out);
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    out.prefix.push_back(pair_id(value, "cls", path));
    out.suffix.push_back(pair_id(value, "sep", path));
  } else if (type != "ByteLevel") {  // ByteLevel only trims offsets
    (path / "type").fail("unsupported post_processor '" + type + "'");
  }
}

}  // namespace

PostProcessor PostProcessor::from_json(const Json& value, const JsonPath& path) {
  PostProcessor processor;
  if (!value.is_null()) add_processor(value, path, processor);
  return processor;
}

}  // namespace slkv
