// WeightStore on the real stories260K checkpoints and on sharded/corrupt directories.
#include "runtime/checkpoint/weight_store.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tests/test_support.h"
#include "runtime/checkpoint/model_config.h"
#include "runtime/checkpoint/safetensors_writer.h"
#include "runtime/checkpoint/tensor_names.h"

namespace slkv {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

using testing::shared_dir;

fs::path stories_dir(const std::string& name) { return shared_dir() / "models" / name; }

#define SKIP_WITHOUT_STORIES(dir)                                                          \
  if (!fs::exists((dir) / "model.safetensors"))                                           \
  GTEST_SKIP() << "shared data not found (set SLKV_SHARED): " << (dir)

// Expects `body` to throw an Error whose message holds every one of `parts`.
template <typename Body>
void expect_error(Body body, const std::vector<std::string>& parts) {
  try {
    body();
    ADD_FAILURE() << "no error; expected one mentioning " << parts.front();
  } catch (const Error& e) {
    std::string message = e.what();
    for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
  }
}

class WeightStoreDir : public ::testing::Test {
 protected:

  // Two shards: "a" [2, 2] and "b" [3] in the first, "c" [2] in the second.
  void write_two_shards() {
    std::vector<float> a = {1, 2, 3, 4}, b = {5, 6, 7}, c = {8, 9};
    write_safetensors(dir_ / "model-00001-of-00002.safetensors",
                      {make_safetensors_tensor("a", DType::F32, {2, 2}, a),
                       make_safetensors_tensor("b", DType::BF16, {3}, b)});
    write_safetensors(dir_ / "model-00002-of-00002.safetensors", {make_safetensors_tensor("c", DType::F16, {2}, c)});
    write_index({{"a", "model-00001-of-00002.safetensors"},
                 {"b", "model-00001-of-00002.safetensors"},
                 {"c", "model-00002-of-00002.safetensors"}});
  }

  void write_index(const Json& weight_map) {
    std::ofstream(dir_ / "model.safetensors.index.json") << Json{{"metadata", Json::object()}, {"weight_map", weight_map}}.dump();
  }

  testing::ScratchDir scratch_{"slkv_weight_store"};
  const fs::path& dir_ = scratch_.path();
};

TEST(WeightStore, LoadsStories260K) {
  fs::path dir = stories_dir("stories260K");
  SKIP_WITHOUT_STORIES(dir);
  WeightStore store = WeightStore::open(dir);
  ModelConfig config = ModelConfig::load(dir);
  store.validate(config);
  EXPECT_EQ(store.tensors().size(), 47u);  // embeddings + 5 x 9 + final norm; tied, so no lm_head
  EXPECT_FALSE(store.contains("lm_head.weight"));
  EXPECT_EQ(store.directory(), dir);

  const TensorView& embed = store.get("model.embed_tokens.weight", {512, 64});
  EXPECT_EQ(embed.dtype, DType::F32);
  EXPECT_EQ(embed.nbytes, 512u * 64 * 4);
  std::vector<float> values = embed.to_floats();
  EXPECT_FLOAT_EQ(values[0], -0.29474878311157227f);
  EXPECT_FLOAT_EQ(values[1], 0.5618956089019775f);
  EXPECT_FLOAT_EQ(store.get("model.norm.weight", {64}).to_floats()[0], 2.4583089351654053f);
  EXPECT_FLOAT_EQ(store.get("model.layers.0.self_attn.q_proj.weight", {64, 64}).to_floats()[2],
                  -0.008925346657633781f);
  EXPECT_EQ(store.get("model.layers.4.mlp.down_proj.weight").shape, (std::vector<int64_t>{64, 172}));
  EXPECT_EQ(store.get("model.layers.2.self_attn.k_proj.weight").shape, (std::vector<int64_t>{32, 64}));

  auto bytes = store.bytes_by_dtype();
  EXPECT_EQ(bytes.size(), 1u);
  EXPECT_EQ(bytes[DType::F32], size_t(config.parameter_count()) * 4);
}

TEST(WeightStore, ParameterCountMatchesStories260K) {
  fs::path dir = stories_dir("stories260K");
  SKIP_WITHOUT_STORIES(dir);
  WeightStore store = WeightStore::open(dir);
  int64_t total = 0;
  for (const auto& [name, view] : store.tensors()) total += view.numel();
  EXPECT_EQ(ModelConfig::load(dir).parameter_count(), total);
}

TEST(WeightStore, Bf16EqualsRoundedF32) {
  fs::path f32_dir = stories_dir("stories260K");
  fs::path bf16_dir = stories_dir("stories260K-bf16");
  SKIP_WITHOUT_STORIES(f32_dir);
  SKIP_WITHOUT_STORIES(bf16_dir);
  WeightStore f32 = WeightStore::open(f32_dir);
  WeightStore bf16 = WeightStore::open(bf16_dir);
  bf16.validate(ModelConfig::load(bf16_dir));
  ASSERT_EQ(f32.tensors().size(), bf16.tensors().size());
  for (const auto& [name, view] : bf16.tensors()) {
    ASSERT_EQ(view.dtype, DType::BF16) << name;
    const TensorView& reference = f32.get(name, view.shape);
    std::vector<float> widened = view.to_floats();
    std::vector<float> exact = reference.to_floats();
    for (size_t i = 0; i < exact.size(); ++i) {
      ASSERT_EQ(widened[i], bf16_to_float(float_to_bf16(exact[i]))) << name << "[" << i << "]";
    }
  }
  EXPECT_FLOAT_EQ(bf16.get("model.embed_tokens.weight").to_floats()[0], -0.294921875f);
}

TEST_F(WeightStoreDir, ShardedRoundTrip) {
  write_two_shards();
  WeightStore store = WeightStore::open(dir_);
  EXPECT_EQ(store.tensors().size(), 3u);
  EXPECT_EQ(store.get("a", {2, 2}).to_floats(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(store.get("b").dtype, DType::BF16);
  EXPECT_EQ(store.get("b").to_floats(), (std::vector<float>{5, 6, 7}));
  EXPECT_EQ(store.get("c").dtype, DType::F16);
  EXPECT_EQ(store.get("c").to_floats(), (std::vector<float>{8, 9}));
  EXPECT_NE(store.get("c").file.find("model-00002-of-00002.safetensors"), std::string::npos);
  auto bytes = store.bytes_by_dtype();
  EXPECT_EQ(bytes[DType::F32], 16u);
  EXPECT_EQ(bytes[DType::BF16], 6u);
  EXPECT_EQ(bytes[DType::F16], 4u);
}

TEST_F(WeightStoreDir, ViewsOutliveTheStore) {
  write_two_shards();
  TensorView view;
  {
    WeightStore store = WeightStore::open(dir_);
    view = store.get("c");
  }
  EXPECT_EQ(view.to_floats(), (std::vector<float>{8, 9}));
}

TEST_F(WeightStoreDir, IndexedTensorMissingFromShard) {
  write_two_shards();
  write_index({{"a", "model-00001-of-00002.safetensors"},
               {"c", "model-00001-of-00002.safetensors"}});  // c lives in the second shard
  expect_error([&] { WeightStore::open(dir_); },
               {"tensor c", "model.safetensors.index.json", "missing from shard", "model-00001-of-00002.safetensors"});
}

TEST_F(WeightStoreDir, MissingShardFile) {
  write_two_shards();
  fs::remove(dir_ / "model-00002-of-00002.safetensors");
  expect_error([&] { WeightStore::open(dir_); }, {"model-00002-of-00002.safetensors", "missing"});
}

TEST_F(WeightStoreDir, BadIndex) {
  std::ofstream(dir_ / "model.safetensors.index.json") << R"({"metadata": {}})";
  expect_error([&] { WeightStore::open(dir_); }, {"weight_map"});
  std::ofstream(dir_ / "model.safetensors.index.json") << "{oops";
  expect_error([&] { WeightStore::open(dir_); }, {"model.safetensors.index.json", "bad JSON"});
}

TEST_F(WeightStoreDir, NoWeights) {
  expect_error([&] { WeightStore::open(dir_); }, {"no model.safetensors", dir_.string()});
  expect_error([&] { WeightStore::open(dir_ / "absent"); }, {"does not exist"});
}

TEST_F(WeightStoreDir, CorruptFileNamesFileAndTensor) {
  write_two_shards();
  // Cut the second shard's data short: tensor c's offsets now run past the end.
  fs::path shard = dir_ / "model-00002-of-00002.safetensors";
  fs::resize_file(shard, fs::file_size(shard) - 2);
  expect_error([&] { WeightStore::open(dir_); }, {shard.string(), "\"c\"", "out of range"});
}

TEST_F(WeightStoreDir, MissingTensor) {
  write_two_shards();
  WeightStore store = WeightStore::open(dir_);
  EXPECT_FALSE(store.contains("d"));
  expect_error([&] { store.get("d"); }, {"missing tensor d", dir_.string()});
}

TEST_F(WeightStoreDir, ShapeContradictingConfig) {
  write_two_shards();
  WeightStore store = WeightStore::open(dir_);
  expect_error([&] { store.get("a", {4, 1}); },
               {"tensor a", "model-00001-of-00002.safetensors", "has shape [2, 2], config.json implies [4, 1]"});
}

TEST(WeightStore, ValidateFindsWrongShapeAndMissingTensor) {
  fs::path dir = stories_dir("stories260K");
  SKIP_WITHOUT_STORIES(dir);
  WeightStore store = WeightStore::open(dir);
  ModelConfig config = ModelConfig::load(dir);
  ModelConfig wider = config;
  wider.intermediate_size = 256;
  expect_error([&] { store.validate(wider); },
               {"model.layers.0.mlp.gate_proj.weight", "has shape [172, 64], config.json implies [256, 64]"});
  ModelConfig untied = config;
  untied.tie_word_embeddings = false;
  expect_error([&] { store.validate(untied); }, {"missing tensor lm_head.weight"});
}

TEST(WeightStoreTensorNames, ExpectedTensorsForStories260K) {
  ModelConfig config;
  config.hidden_size = 64;
  config.intermediate_size = 172;
  config.num_layers = 5;
  config.num_heads = 8;
  config.num_kv_heads = 4;
  config.head_dim = 8;
  config.vocab_size = 512;
  config.tie_word_embeddings = true;
  std::vector<ExpectedTensor> tensors = expected_tensors(config);
  ASSERT_EQ(tensors.size(), 47u);
  EXPECT_EQ(tensors.front().name, "model.embed_tokens.weight");
  EXPECT_EQ(tensors.back().name, "model.norm.weight");
  EXPECT_EQ(layer_tensor_name(3, "mlp.up_proj.weight"), "model.layers.3.mlp.up_proj.weight");

  config.attention_bias = true;
  config.tie_word_embeddings = false;
  tensors = expected_tensors(config);
  ASSERT_EQ(tensors.size(), 47u + 5 * 3 + 1);
  EXPECT_EQ(tensors.back().name, "lm_head.weight");
  EXPECT_EQ(tensors.back().shape, (std::vector<int64_t>{512, 64}));
  bool found_bias = false;
  for (const ExpectedTensor& tensor : tensors) {
    if (tensor.name == "model.layers.1.self_attn.k_proj.bias") {
      found_bias = true;
      EXPECT_EQ(tensor.shape, (std::vector<int64_t>{32}));
    }
  }
  EXPECT_TRUE(found_bias);
}

}  // namespace
}  // namespace slkv
