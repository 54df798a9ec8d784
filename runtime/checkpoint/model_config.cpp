#include "runtime/checkpoint/model_config.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/text_file.h"
#include "runtime/checkpoint/tensor_names.h"

namespace slkv {

namespace {

using Json = nlohmann::json;

// Upper bounds on the dimensions, far above any released model (Llama-3.1-405B:
// 126 layers, hidden 16384, FFN 53248, 128 heads, head_dim 128, vocabulary
// 128256; Llama-4 Scout: 10M positions). A larger value is a corrupt config,
// and would otherwise size per-layer tables before any weight is checked.
constexpr int64_t kMaxLayers = int64_t{1} << 12;
constexpr int64_t kMaxHiddenSize = int64_t{1} << 18;
constexpr int64_t kMaxIntermediateSize = int64_t{1} << 20;
constexpr int64_t kMaxHeads = int64_t{1} << 12;  // query and key/value heads
constexpr int64_t kMaxHeadDim = int64_t{1} << 12;
constexpr int64_t kMaxVocabSize = int64_t{1} << 24;
constexpr int64_t kMaxPositions = int64_t{1} << 30;  // token positions are int32

[[noreturn]] void field_error(const std::string& source, const std::string& field, const std::string& what) {
  throw Error(source + ": field \"" + field + "\" " + what);
}

// A field counts as absent when missing or null, as in transformers' configs.
const Json* find_field(const Json& object, const std::string& field) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

int64_t read_int(const Json& value, const std::string& field, const std::string& source) {
  if (!value.is_number_integer()) field_error(source, field, "must be an integer, got " + value.dump());
  return value.get<int64_t>();
}

// A dimension: an integer in [1, max].
int64_t required_positive_int(const Json& object, const std::string& field, int64_t max, const std::string& source) {
  const Json* value = find_field(object, field);
  if (!value) field_error(source, field, "is missing");
  // Checked as unsigned first: a value above INT64_MAX would wrap to a negative int64.
  if (value->is_number_unsigned() && value->get<uint64_t>() > uint64_t(max))
    field_error(source, field,
                "is " + value->dump() + ", more than slkv supports (at most " + std::to_string(max) + ")");
  int64_t result = read_int(*value, field, source);
  if (result <= 0) field_error(source, field, "must be positive, got " + std::to_string(result));
  return result;
}

int64_t optional_positive_int(const Json& object, const std::string& field, int64_t fallback, int64_t max,
                              const std::string& source) {
  if (!find_field(object, field)) return fallback;
  return required_positive_int(object, field, max, source);
}

double optional_positive_number(const Json& object, const std::string& field, double fallback,
                                const std::string& source) {
  const Json* value = find_field(object, field);
  if (!value) return fallback;
  if (!value->is_number()) field_error(source, field, "must be a number, got " + value->dump());
  double result = value->get<double>();
  if (!(result > 0)) field_error(source, field, "must be positive, got " + value->dump());
  return result;
}

bool optional_bool(const Json& object, const std::string& field, bool fallback, const std::string& source) {
  const Json* value = find_field(object, field);
  if (!value) return fallback;
  if (!value->is_boolean()) field_error(source, field, "must be true or false, got " + value->dump());
  return value->get<bool>();
}

std::string optional_string(const Json& object, const std::string& field, const std::string& source) {
  const Json* value = find_field(object, field);
  if (!value) return "";
  if (!value->is_string()) field_error(source, field, "must be a string, got " + value->dump());
  return value->get<std::string>();
}

// bos/eos ids: an int, a list of ints, or null.
std::vector<int32_t> read_token_ids(const Json& object, const std::string& field, const std::string& source) {
  const Json* value = find_field(object, field);
  if (!value) return {};
  std::vector<int32_t> ids;
  auto add = [&](const Json& item) {
    int64_t id = read_int(item, field, source);
    if (id < 0 || id > INT32_MAX) field_error(source, field, "holds an invalid token id " + item.dump());
    ids.push_back(int32_t(id));
  };
  if (value->is_array()) {
    for (const Json& item : *value) add(item);
  } else {
    add(*value);
  }
  return ids;
}

Json parse_json_object(const std::string& json_text, const std::string& source) {
  Json json;
  try {
    json = Json::parse(json_text);
  } catch (const Json::exception& e) {
    throw Error(source + ": bad JSON: " + e.what());
  }
  if (!json.is_object()) throw Error(source + ": expected a JSON object at the top level");
  return json;
}

// Reads rope_scaling (transformers <= 4.x) or rope_parameters (5.x, which
// also carries rope_theta). Only "llama3" and "default" (no scaling) pass.
RopeScaling read_rope_scaling(const Json& scaling, const std::string& field, const std::string& source) {
  if (!scaling.is_object()) field_error(source, field, "must be an object or null, got " + scaling.dump());
  std::string type = optional_string(scaling, "rope_type", source);
  if (type.empty()) type = optional_string(scaling, "type", source);
  RopeScaling result;
  if (type.empty() || type == "default") return result;
  if (type != "llama3") {
    field_error(source, field, "has type \"" + type + "\"; slkv supports only \"llama3\" RoPE scaling");
  }
  auto required_number = [&](const std::string& key) {
    const Json* value = find_field(scaling, key);
    if (!value) field_error(source, field + "." + key, "is missing");
    if (!value->is_number() || !(value->get<double>() > 0)) {
      field_error(source, field + "." + key, "must be a positive number, got " + value->dump());
    }
    return value->get<double>();
  };
  result.type = RopeScaling::Type::Llama3;
  result.factor = required_number("factor");
  result.low_freq_factor = required_number("low_freq_factor");
  result.high_freq_factor = required_number("high_freq_factor");
  double original = required_number("original_max_position_embeddings");
  if (original != double(int64_t(original))) {
    field_error(source, field + ".original_max_position_embeddings", "must be an integer");
  }
  result.original_max_position_embeddings = int64_t(original);
  if (result.high_freq_factor <= result.low_freq_factor) {
    field_error(source, field + ".high_freq_factor", "must be larger than low_freq_factor");
  }
  return result;
}

void append_unique(std::vector<int32_t>& ids, const std::vector<int32_t>& more) {
  for (int32_t id : more) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
}

}  // namespace

ModelConfig ModelConfig::parse(const std::string& json_text, const std::string& source) {
  Json json = parse_json_object(json_text, source);
  ModelConfig config;

  const Json* architectures = find_field(json, "architectures");
  if (!architectures) field_error(source, "architectures", "is missing");
  if (!architectures->is_array() || architectures->empty() || !(*architectures)[0].is_string()) {
    field_error(source, "architectures", "must be a non-empty list of strings, got " + architectures->dump());
  }
  config.architecture = (*architectures)[0].get<std::string>();
  if (config.architecture == "LlamaForCausalLM") {
    config.family = ModelFamily::Llama2;
  } else if (config.architecture == "MistralForCausalLM") {
    config.family = ModelFamily::Mistral;
  } else if (config.architecture == "Qwen2ForCausalLM") {
    config.family = ModelFamily::Qwen2;
  } else {
    field_error(source, "architectures",
                "is \"" + config.architecture +
                    "\"; slkv supports LlamaForCausalLM, MistralForCausalLM and Qwen2ForCausalLM");
  }
  config.model_type = optional_string(json, "model_type", source);

  config.hidden_size = required_positive_int(json, "hidden_size", kMaxHiddenSize, source);
  config.intermediate_size = required_positive_int(json, "intermediate_size", kMaxIntermediateSize, source);
  config.num_layers = required_positive_int(json, "num_hidden_layers", kMaxLayers, source);
  config.num_heads = required_positive_int(json, "num_attention_heads", kMaxHeads, source);
  config.num_kv_heads = optional_positive_int(json, "num_key_value_heads", config.num_heads, kMaxHeads, source);
  config.vocab_size = required_positive_int(json, "vocab_size", kMaxVocabSize, source);
  config.max_position_embeddings = required_positive_int(json, "max_position_embeddings", kMaxPositions, source);
  if (config.num_heads % config.num_kv_heads != 0) {
    field_error(source, "num_key_value_heads",
                "is " + std::to_string(config.num_kv_heads) + ", which does not divide num_attention_heads " +
                    std::to_string(config.num_heads));
  }
  if (find_field(json, "head_dim")) {
    config.head_dim = required_positive_int(json, "head_dim", kMaxHeadDim, source);
  } else {
    if (config.hidden_size % config.num_heads != 0) {
      field_error(source, "head_dim",
                  "is missing and hidden_size is not a multiple of num_attention_heads");
    }
    config.head_dim = config.hidden_size / config.num_heads;
    if (config.head_dim > kMaxHeadDim) {
      field_error(source, "head_dim",
                  "is missing and hidden_size / num_attention_heads = " + std::to_string(config.head_dim) +
                      " is more than slkv supports (at most " + std::to_string(kMaxHeadDim) + ")");
    }
  }

  config.rms_norm_eps = optional_positive_number(json, "rms_norm_eps", 1e-6, source);
  const Json* rope_parameters = find_field(json, "rope_parameters");
  double theta = rope_parameters && rope_parameters->is_object()
                     ? optional_positive_number(*rope_parameters, "rope_theta", 10000.0, source)
                     : 10000.0;
  config.rope_theta = optional_positive_number(json, "rope_theta", theta, source);
  if (const Json* scaling = find_field(json, "rope_scaling")) {
    config.rope_scaling = read_rope_scaling(*scaling, "rope_scaling", source);
  } else if (rope_parameters) {
    config.rope_scaling = read_rope_scaling(*rope_parameters, "rope_parameters", source);
  }

  std::string activation = optional_string(json, "hidden_act", source);
  if (!activation.empty() && activation != "silu") {
    field_error(source, "hidden_act", "is \"" + activation + "\"; slkv supports only \"silu\"");
  }
  if (optional_bool(json, "mlp_bias", false, source)) {
    field_error(source, "mlp_bias", "is true; slkv supports only MLPs without biases");
  }
  config.attention_bias = optional_bool(json, "attention_bias", false, source);
  config.tie_word_embeddings = optional_bool(json, "tie_word_embeddings", false, source);

  // Sliding-window attention changes which keys a query sees; refuse rather
  // than silently compute full attention.
  if (config.family == ModelFamily::Mistral) {
    if (const Json* window = find_field(json, "sliding_window")) {
      int64_t size = read_int(*window, "sliding_window", source);
      if (size < config.max_position_embeddings) {
        field_error(source, "sliding_window",
                    "is " + std::to_string(size) + ", smaller than max_position_embeddings " +
                        std::to_string(config.max_position_embeddings) +
                        "; slkv does not support sliding-window attention");
      }
    }
  }
  if (config.family == ModelFamily::Qwen2) {
    if (optional_bool(json, "use_sliding_window", false, source)) {
      field_error(source, "use_sliding_window", "is true; slkv does not support sliding-window attention");
    }
    config.attention_bias = true;  // Qwen2's q/k/v projections always have biases
  }

  std::vector<int32_t> bos = read_token_ids(json, "bos_token_id", source);
  if (bos.size() > 1) field_error(source, "bos_token_id", "must be a single id");
  if (!bos.empty()) config.bos_token_id = bos[0];
  append_unique(config.eos_token_ids, read_token_ids(json, "eos_token_id", source));

  config.torch_dtype = optional_string(json, "torch_dtype", source);
  if (config.torch_dtype.empty()) config.torch_dtype = optional_string(json, "dtype", source);

  if (config.family == ModelFamily::Llama2 &&
      (config.rope_scaling.type == RopeScaling::Type::Llama3 || config.vocab_size >= 128000)) {
    config.family = ModelFamily::Llama3;
  }
  return config;
}

void ModelConfig::merge_generation_config(const std::string& json_text, const std::string& source) {
  Json json = parse_json_object(json_text, source);
  append_unique(eos_token_ids, read_token_ids(json, "eos_token_id", source));
  std::vector<int32_t> bos = read_token_ids(json, "bos_token_id", source);
  if (bos_token_id < 0 && bos.size() == 1) bos_token_id = bos[0];
}

ModelConfig ModelConfig::load(const std::filesystem::path& model_dir) {
  std::filesystem::path config_path = model_dir / "config.json";
  if (!std::filesystem::exists(config_path)) throw Error("no config.json in " + model_dir.string());
  ModelConfig config = parse(read_text_file(config_path), config_path.string());
  std::filesystem::path generation_path = model_dir / "generation_config.json";
  if (std::filesystem::exists(generation_path)) {
    config.merge_generation_config(read_text_file(generation_path), generation_path.string());
  }
  return config;
}

int64_t ModelConfig::parameter_count() const {
  // Counted from the same list the loader validates against, so they cannot drift.
  int64_t total = 0;
  for (const ExpectedTensor& tensor : expected_tensors(*this)) total += tensor.numel();
  return total;
}

std::string family_name(ModelFamily family) {
  switch (family) {
    case ModelFamily::Llama2: return "llama2";
    case ModelFamily::Llama3: return "llama3";
    case ModelFamily::Mistral: return "mistral";
    case ModelFamily::Qwen2: return "qwen2";
  }
  return "?";
}

}  // namespace slkv
