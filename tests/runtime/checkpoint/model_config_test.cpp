// ModelConfig parsing and refusals, and RoPE inverse frequencies.
#include "runtime/checkpoint/model_config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tests/test_support.h"
#include "runtime/rope_frequencies.h"

namespace slkv {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

using testing::shared_dir;

// A small valid Llama config; tests change one field at a time.
Json llama_config() {
  return Json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5,
    "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 512,
    "max_position_embeddings": 512, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
    "rope_scaling": null, "hidden_act": "silu", "tie_word_embeddings": true,
    "bos_token_id": 1, "eos_token_id": 2, "attention_bias": false, "mlp_bias": false,
    "torch_dtype": "float32"})");
}

ModelConfig parse(const Json& json) { return ModelConfig::parse(json.dump(), "test/config.json"); }

// Expects a refusal whose message names `field` and the source file.
void expect_refused(const Json& json, const std::string& field) {
  try {
    parse(json);
    ADD_FAILURE() << "accepted a config that should name " << field << ": " << json.dump();
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(field), std::string::npos) << message;
    EXPECT_NE(message.find("test/config.json"), std::string::npos) << message;
  }
}

TEST(ModelConfig, LoadsStories260K) {
  fs::path dir = shared_dir() / "models/stories260K";
  if (!fs::exists(dir / "config.json")) GTEST_SKIP() << "shared data not found (set SLKV_SHARED): " << dir;
  ModelConfig config = ModelConfig::load(dir);
  EXPECT_EQ(config.architecture, "LlamaForCausalLM");
  EXPECT_EQ(config.model_type, "llama");
  EXPECT_EQ(config.family, ModelFamily::Llama2);
  EXPECT_EQ(config.hidden_size, 64);
  EXPECT_EQ(config.intermediate_size, 172);
  EXPECT_EQ(config.num_layers, 5);
  EXPECT_EQ(config.num_heads, 8);
  EXPECT_EQ(config.num_kv_heads, 4);
  EXPECT_EQ(config.head_dim, 8);
  EXPECT_EQ(config.vocab_size, 512);
  EXPECT_EQ(config.max_position_embeddings, 512);
  EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(config.rope_theta, 10000.0);
  EXPECT_EQ(config.rope_scaling.type, RopeScaling::Type::None);
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_FALSE(config.attention_bias);
  EXPECT_EQ(config.bos_token_id, 1);
  EXPECT_EQ(config.eos_token_ids, std::vector<int32_t>{2});
  EXPECT_EQ(config.torch_dtype, "float32");
}

TEST(ModelConfig, DefaultsWhenOptionalFieldsAbsent) {
  Json json = llama_config();
  for (const char* field : {"num_key_value_heads", "rms_norm_eps", "rope_theta", "rope_scaling", "hidden_act",
                            "tie_word_embeddings", "bos_token_id", "eos_token_id", "attention_bias", "mlp_bias"}) {
    json.erase(field);
  }
  ModelConfig config = parse(json);
  EXPECT_EQ(config.num_kv_heads, 8);
  EXPECT_EQ(config.head_dim, 8);  // hidden_size / num_heads
  EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(config.rope_theta, 10000.0);
  EXPECT_FALSE(config.tie_word_embeddings);
  EXPECT_EQ(config.bos_token_id, -1);
  EXPECT_TRUE(config.eos_token_ids.empty());
}

TEST(ModelConfig, ExplicitHeadDimWins) {
  Json json = llama_config();
  json["head_dim"] = 16;  // Qwen3/Gemma-style head_dim independent of hidden_size
  EXPECT_EQ(parse(json).head_dim, 16);
}

TEST(ModelConfig, Llama3ByRopeScaling) {
  Json json = llama_config();
  json["rope_theta"] = 500000.0;
  json["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  ModelConfig config = parse(json);
  EXPECT_EQ(config.family, ModelFamily::Llama3);
  EXPECT_EQ(config.rope_scaling.type, RopeScaling::Type::Llama3);
  EXPECT_DOUBLE_EQ(config.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(config.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(config.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(config.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_DOUBLE_EQ(config.rope_theta, 500000.0);

  // Older configs spell the key "type".
  json["rope_scaling"].erase("rope_type");
  json["rope_scaling"]["type"] = "llama3";
  EXPECT_EQ(parse(json).rope_scaling.type, RopeScaling::Type::Llama3);
}

TEST(ModelConfig, Llama3ByVocabSize) {
  Json json = llama_config();
  json["vocab_size"] = 128256;
  json["eos_token_id"] = {128001, 128008, 128009};
  ModelConfig config = parse(json);
  EXPECT_EQ(config.family, ModelFamily::Llama3);
  EXPECT_EQ(config.rope_scaling.type, RopeScaling::Type::None);
  EXPECT_EQ(config.eos_token_ids, (std::vector<int32_t>{128001, 128008, 128009}));
}

TEST(ModelConfig, Mistral) {
  Json json = llama_config();
  json["architectures"] = {"MistralForCausalLM"};
  json["model_type"] = "mistral";
  json["sliding_window"] = nullptr;
  EXPECT_EQ(parse(json).family, ModelFamily::Mistral);
  json["sliding_window"] = 512;  // as long as the context: no window in effect
  EXPECT_EQ(parse(json).family, ModelFamily::Mistral);
  json["sliding_window"] = 4096;
  EXPECT_EQ(parse(json).family, ModelFamily::Mistral);
}

TEST(ModelConfig, Qwen2HasAttentionBias) {
  Json json = llama_config();
  json["architectures"] = {"Qwen2ForCausalLM"};
  json["model_type"] = "qwen2";
  json.erase("attention_bias");
  json["use_sliding_window"] = false;
  json["sliding_window"] = 32;  // ignored while use_sliding_window is false
  ModelConfig config = parse(json);
  EXPECT_EQ(config.family, ModelFamily::Qwen2);
  EXPECT_TRUE(config.attention_bias);
}

TEST(ModelConfig, MergesGenerationConfigEos) {
  fs::path dir = fs::temp_directory_path() / ("slkv_model_config_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Json json = llama_config();
  json.erase("bos_token_id");
  std::ofstream(dir / "config.json") << json.dump();
  std::ofstream(dir / "generation_config.json") << R"({"bos_token_id": 1, "eos_token_id": [7, 2]})";
  ModelConfig config = ModelConfig::load(dir);
  EXPECT_EQ(config.eos_token_ids, (std::vector<int32_t>{2, 7}));  // deduplicated
  EXPECT_EQ(config.bos_token_id, 1);

  std::ofstream(dir / "generation_config.json") << R"({"eos_token_id": "two"})";
  try {
    ModelConfig::load(dir);
    ADD_FAILURE() << "accepted a string eos_token_id";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("generation_config.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("eos_token_id"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(ModelConfig, MissingDirectoryIsAnError) {
  EXPECT_THROW(ModelConfig::load("/nonexistent/slkv/model"), Error);
}

TEST(ModelConfig, RefusesOtherArchitectures) {
  Json json = llama_config();
  json["architectures"] = {"GPT2LMHeadModel"};
  expect_refused(json, "architectures");
  json.erase("architectures");
  expect_refused(json, "architectures");
}

TEST(ModelConfig, RefusesOtherActivations) {
  Json json = llama_config();
  json["hidden_act"] = "gelu";
  expect_refused(json, "hidden_act");
}

TEST(ModelConfig, RefusesOtherRopeScaling) {
  Json json = llama_config();
  json["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  expect_refused(json, "rope_scaling");
  json["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  expect_refused(json, "rope_scaling");
  json["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};  // incomplete
  expect_refused(json, "rope_scaling.low_freq_factor");
}

TEST(ModelConfig, RefusesMlpBias) {
  Json json = llama_config();
  json["mlp_bias"] = true;
  expect_refused(json, "mlp_bias");
}

TEST(ModelConfig, RefusesActiveSlidingWindow) {
  Json mistral = llama_config();
  mistral["architectures"] = {"MistralForCausalLM"};
  mistral["max_position_embeddings"] = 32768;
  mistral["sliding_window"] = 4096;
  expect_refused(mistral, "sliding_window");

  Json qwen = llama_config();
  qwen["architectures"] = {"Qwen2ForCausalLM"};
  qwen["use_sliding_window"] = true;
  expect_refused(qwen, "use_sliding_window");
}

TEST(ModelConfig, RefusesIndivisibleHeads) {
  Json json = llama_config();
  json["num_key_value_heads"] = 3;
  expect_refused(json, "num_key_value_heads");
}

TEST(ModelConfig, RefusesMissingOrNonPositiveInts) {
  for (const char* field : {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                            "vocab_size", "max_position_embeddings"}) {
    Json json = llama_config();
    json.erase(field);
    expect_refused(json, field);
    json[field] = 0;
    expect_refused(json, field);
    json[field] = -4;
    expect_refused(json, field);
  }
  Json json = llama_config();
  json["num_key_value_heads"] = 0;
  expect_refused(json, "num_key_value_heads");
  json = llama_config();
  json["head_dim"] = -1;
  expect_refused(json, "head_dim");
}

// Absurd dimensions (a corrupt or hostile config) are refused by name before
// anything is sized by them; 2^31 layers used to end in std::bad_alloc.
TEST(ModelConfig, RefusesAbsurdDimensions) {
  for (const char* field : {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                            "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings"}) {
    for (Json huge : {Json(int64_t{1} << 31), Json(uint64_t{1} << 63), Json(~uint64_t{0})}) {
      Json json = llama_config();
      json[field] = huge;
      try {
        parse(json);
        ADD_FAILURE() << field << " = " << huge.dump() << " was accepted";
      } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find(std::string("\"") + field + "\""), std::string::npos) << message;
        EXPECT_NE(message.find("at most"), std::string::npos) << message;
      }
    }
  }
  // A head_dim derived from hidden_size / num_attention_heads is bounded too.
  Json json = llama_config();
  json["hidden_size"] = 1 << 17;
  json["num_attention_heads"] = 1;
  json["num_key_value_heads"] = 1;
  expect_refused(json, "head_dim");
  // Real large models stay well inside the bounds (Llama-3.1-405B's shape).
  json = llama_config();
  json["hidden_size"] = 16384;
  json["intermediate_size"] = 53248;
  json["num_hidden_layers"] = 126;
  json["num_attention_heads"] = 128;
  json["num_key_value_heads"] = 8;
  json["vocab_size"] = 128256;
  json["max_position_embeddings"] = 131072;
  EXPECT_EQ(parse(json).num_layers, 126);
}

TEST(ModelConfig, RefusesWrongJsonTypes) {
  Json json = llama_config();
  json["hidden_size"] = "64";
  expect_refused(json, "hidden_size");
  json = llama_config();
  json["num_hidden_layers"] = 5.5;
  expect_refused(json, "num_hidden_layers");
  json = llama_config();
  json["tie_word_embeddings"] = "yes";
  expect_refused(json, "tie_word_embeddings");
  json = llama_config();
  json["rms_norm_eps"] = "small";
  expect_refused(json, "rms_norm_eps");
  json = llama_config();
  json["eos_token_id"] = {2, "x"};
  expect_refused(json, "eos_token_id");
  json = llama_config();
  json["architectures"] = "LlamaForCausalLM";
  expect_refused(json, "architectures");
  json = llama_config();
  json["rope_scaling"] = 2.0;
  expect_refused(json, "rope_scaling");
}

TEST(ModelConfig, RefusesBadJson) {
  EXPECT_THROW(ModelConfig::parse("{\"architectures\": [", "test/config.json"), Error);
  EXPECT_THROW(ModelConfig::parse("[1, 2]", "test/config.json"), Error);
}

TEST(ModelConfig, ParameterCountFromDimensions) {
  ModelConfig config = parse(llama_config());
  // Per layer: q 64x64, k/v 32x64 each, o 64x64, MLP 3 x 64x172, two norms of 64.
  int64_t layer = 64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 64 * 172 + 2 * 64;
  EXPECT_EQ(config.parameter_count(), 512 * 64 + 5 * layer + 64);  // tied: no lm_head
  config.tie_word_embeddings = false;
  config.attention_bias = true;
  EXPECT_EQ(config.parameter_count(), 2 * 512 * 64 + 5 * (layer + 64 + 2 * 32) + 64);
}

TEST(ModelConfig, FamilyNames) {
  EXPECT_EQ(family_name(ModelFamily::Llama2), "llama2");
  EXPECT_EQ(family_name(ModelFamily::Llama3), "llama3");
  EXPECT_EQ(family_name(ModelFamily::Mistral), "mistral");
  EXPECT_EQ(family_name(ModelFamily::Qwen2), "qwen2");
}

TEST(RopeFrequencies, PlainTheta) {
  ModelConfig config;
  config.head_dim = 8;
  config.rope_theta = 10000.0;
  std::vector<float> inv_freq = rope_inverse_frequencies(config);
  ASSERT_EQ(inv_freq.size(), 4u);
  // 1 / 10000^(2i/8) = 10^-i
  EXPECT_FLOAT_EQ(inv_freq[0], 1.0f);
  EXPECT_FLOAT_EQ(inv_freq[1], 0.1f);
  EXPECT_FLOAT_EQ(inv_freq[2], 0.01f);
  EXPECT_FLOAT_EQ(inv_freq[3], 0.001f);
}

TEST(RopeFrequencies, Llama3ScalingHandComputed) {
  ModelConfig config;
  config.head_dim = 8;
  config.rope_theta = 10000.0;
  config.rope_scaling.type = RopeScaling::Type::Llama3;
  config.rope_scaling.factor = 8.0;
  config.rope_scaling.low_freq_factor = 1.0;
  config.rope_scaling.high_freq_factor = 4.0;
  config.rope_scaling.original_max_position_embeddings = 64;
  // Wavelengths 2*pi/f = 6.28, 62.8, 628, 6283; high_freq_wavelen = 64/4 = 16,
  // low_freq_wavelen = 64/1 = 64.
  std::vector<float> inv_freq = rope_inverse_frequencies(config);
  ASSERT_EQ(inv_freq.size(), 4u);
  EXPECT_FLOAT_EQ(inv_freq[0], 1.0f);  // 6.28 < 16: high frequency, unchanged
  // 62.8 is between: smooth = (64 / 62.83 - 1) / (4 - 1) = 0.0061972,
  // f = (1 - smooth) * 0.1 / 8 + smooth * 0.1 = 0.0125 + 0.0875 * smooth = 0.01304226.
  EXPECT_NEAR(inv_freq[1], 0.01304226, 1e-8);
  EXPECT_FLOAT_EQ(inv_freq[2], 0.01f / 8);   // 628 > 64: low frequency, divided by factor
  EXPECT_FLOAT_EQ(inv_freq[3], 0.001f / 8);
}

}  // namespace
}  // namespace slkv
