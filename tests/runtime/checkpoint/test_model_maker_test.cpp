// make_test_model writes directories that ModelConfig, WeightStore and the
// tokenizer conventions (stories260K layout) accept.
#include "runtime/checkpoint/test_model_maker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tests/test_support.h"
#include "runtime/checkpoint/tensor_names.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/checkpoint/weight_store.h"

namespace slkv {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

class TestModelMaker : public ::testing::Test {
 protected:

  testing::ScratchDir scratch_{"slkv_test_model"};
  const fs::path& dir_ = scratch_.path();
};

Json read_json(const fs::path& path) {
  std::ifstream in(path);
  return Json::parse(in);
}

TestModelSpec tiny_spec() {
  TestModelSpec spec;
  spec.hidden_size = 32;
  spec.intermediate_size = 48;
  spec.num_layers = 3;
  spec.num_heads = 4;
  spec.num_kv_heads = 2;
  spec.vocab_size = 300;
  spec.max_position_embeddings = 256;
  return spec;
}

// Opens the directory the way the model loader does and checks every tensor.
void expect_loads(const fs::path& dir, const TestModelSpec& spec) {
  ModelConfig config = ModelConfig::load(dir);
  WeightStore store = WeightStore::open(dir);
  store.validate(config);
  std::vector<ExpectedTensor> expected = expected_tensors(config);
  EXPECT_EQ(store.tensors().size(), expected.size());
  for (const ExpectedTensor& tensor : expected) {
    const TensorView& view = store.get(tensor.name, tensor.shape);
    EXPECT_EQ(view.dtype, spec.dtype) << tensor.name;
  }
  EXPECT_EQ(config.parameter_count(), test_model_config(spec).parameter_count());
}

TEST_F(TestModelMaker, TwoShardRoundTrip) {
  TestModelSpec spec = tiny_spec();
  spec.shards = 2;
  spec.dtype = DType::BF16;
  make_test_model(spec, dir_);

  EXPECT_FALSE(fs::exists(dir_ / "model.safetensors"));
  EXPECT_TRUE(fs::exists(dir_ / "model-00001-of-00002.safetensors"));
  EXPECT_TRUE(fs::exists(dir_ / "model-00002-of-00002.safetensors"));
  Json index = read_json(dir_ / "model.safetensors.index.json");
  std::set<std::string> files;
  for (const auto& [name, file] : index["weight_map"].items()) files.insert(file.get<std::string>());
  EXPECT_EQ(files.size(), 2u);

  ModelConfig config = ModelConfig::load(dir_);
  EXPECT_EQ(config.family, ModelFamily::Llama2);
  EXPECT_EQ(config.hidden_size, 32);
  EXPECT_EQ(config.head_dim, 8);
  EXPECT_EQ(config.num_kv_heads, 2);
  EXPECT_EQ(config.eos_token_ids, std::vector<int32_t>{2});
  EXPECT_EQ(config.bos_token_id, 1);
  EXPECT_EQ(config.torch_dtype, "bfloat16");
  EXPECT_EQ(index["metadata"]["total_size"].get<int64_t>(), config.parameter_count() * 2);
  expect_loads(dir_, spec);
}

TEST_F(TestModelMaker, WeightStatistics) {
  TestModelSpec spec = tiny_spec();
  make_test_model(spec, dir_);
  WeightStore store = WeightStore::open(dir_);
  for (float value : store.get("model.layers.1.post_attention_layernorm.weight").to_floats()) EXPECT_EQ(value, 1.0f);
  EXPECT_EQ(store.get("model.norm.weight").to_floats(), std::vector<float>(32, 1.0f));

  std::vector<float> embed = store.get("model.embed_tokens.weight").to_floats();
  double sum = 0, sum_squares = 0;
  for (float value : embed) {
    sum += value;
    sum_squares += double(value) * value;
  }
  double mean = sum / double(embed.size());
  double stddev = std::sqrt(sum_squares / double(embed.size()) - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.002);
  EXPECT_NEAR(stddev, 0.02, 0.002);
}

TEST_F(TestModelMaker, DeterministicFromSeed) {
  TestModelSpec spec = tiny_spec();
  spec.seed = 7;
  make_test_model(spec, dir_ / "a");
  make_test_model(spec, dir_ / "b");
  spec.shards = 3;  // layout must not change the values
  make_test_model(spec, dir_ / "c");
  spec.seed = 8;
  spec.shards = 1;
  make_test_model(spec, dir_ / "d");

  WeightStore a = WeightStore::open(dir_ / "a");
  WeightStore b = WeightStore::open(dir_ / "b");
  WeightStore c = WeightStore::open(dir_ / "c");
  WeightStore d = WeightStore::open(dir_ / "d");
  const std::string name = "model.layers.2.self_attn.v_proj.weight";
  EXPECT_EQ(a.get(name).to_floats(), b.get(name).to_floats());
  EXPECT_EQ(a.get(name).to_floats(), c.get(name).to_floats());
  EXPECT_NE(a.get(name).to_floats(), d.get(name).to_floats());
  // Different tensors of one model differ too.
  EXPECT_NE(a.get("model.layers.0.mlp.up_proj.weight").to_floats(),
            a.get("model.layers.0.mlp.gate_proj.weight").to_floats());
}

// Values are generated in parallel runs of 65536, each with its own seed:
// runs must differ from one another and keep the weight statistics.
TEST_F(TestModelMaker, ParallelRunsAreIndependent) {
  TestModelSpec spec = tiny_spec();
  spec.hidden_size = 256;
  spec.vocab_size = 1024;  // a 262144-value embedding: four runs
  spec.dtype = DType::BF16;
  make_test_model(spec, dir_);
  std::vector<float> embed = WeightStore::open(dir_).get("model.embed_tokens.weight").to_floats();
  ASSERT_EQ(embed.size(), 262144u);
  constexpr size_t kRun = 65536;
  for (size_t run = 1; run < 4; ++run)
    EXPECT_FALSE(std::equal(embed.begin(), embed.begin() + kRun, embed.begin() + run * kRun)) << run;
  double sum = 0, sum_squares = 0;
  for (float value : embed) {
    sum += value;
    sum_squares += double(value) * value;
  }
  const double mean = sum / double(embed.size());
  EXPECT_NEAR(mean, 0.0, 0.001);
  EXPECT_NEAR(std::sqrt(sum_squares / double(embed.size()) - mean * mean), 0.02, 0.001);
}

TEST_F(TestModelMaker, EveryArchitectureLoads) {
  for (ModelFamily family : {ModelFamily::Llama2, ModelFamily::Llama3, ModelFamily::Mistral, ModelFamily::Qwen2}) {
    for (DType dtype : {DType::F32, DType::F16}) {
      SCOPED_TRACE(family_name(family) + " " + std::string(dtype_name(dtype)));
      TestModelSpec spec = tiny_spec();
      spec.architecture = family;
      spec.dtype = dtype;
      spec.tie_word_embeddings = family == ModelFamily::Llama2;
      spec.head_dim = 16;  // independent of hidden_size / num_heads
      fs::path dir = dir_ / (family_name(family) + std::string(dtype_name(dtype)));
      make_test_model(spec, dir);
      ModelConfig config = ModelConfig::load(dir);
      EXPECT_EQ(config.family, family);
      EXPECT_EQ(config.head_dim, 16);
      EXPECT_EQ(config.attention_bias, family == ModelFamily::Qwen2);
      expect_loads(dir, spec);
      WeightStore store = WeightStore::open(dir);
      EXPECT_EQ(store.contains("model.layers.0.self_attn.q_proj.bias"), family == ModelFamily::Qwen2);
      EXPECT_EQ(store.contains("lm_head.weight"), !spec.tie_word_embeddings);
      EXPECT_EQ(store.get("model.layers.0.self_attn.q_proj.weight").shape, (std::vector<int64_t>{64, 32}));
      EXPECT_EQ(store.get("model.layers.0.self_attn.o_proj.weight").shape, (std::vector<int64_t>{32, 64}));
    }
  }
}

TEST_F(TestModelMaker, TokenizerHasExactVocabAndConsistentMerges) {
  for (int64_t vocab_size : {259, 270, 300, 1000, 32000}) {
    SCOPED_TRACE(vocab_size);
    TestModelSpec spec = tiny_spec();
    spec.vocab_size = vocab_size;
    make_test_model(spec, dir_);
    Json tokenizer = read_json(dir_ / "tokenizer.json");
    const Json& model = tokenizer["model"];
    EXPECT_EQ(model["type"], "BPE");
    EXPECT_TRUE(model["byte_fallback"].get<bool>());
    const Json& vocab = model["vocab"];
    ASSERT_EQ(int64_t(vocab.size()), vocab_size);
    std::vector<bool> seen(size_t(vocab_size), false);
    for (const auto& [piece, id] : vocab.items()) {
      ASSERT_TRUE(id.is_number_integer());
      ASSERT_LT(id.get<int64_t>(), vocab_size);
      ASSERT_FALSE(seen[id.get<size_t>()]) << "duplicate id " << id;
      seen[id.get<size_t>()] = true;
    }
    EXPECT_EQ(vocab["<unk>"], 0);
    EXPECT_EQ(vocab["<s>"], 1);
    EXPECT_EQ(vocab["</s>"], 2);
    EXPECT_EQ(vocab["<0x00>"], 3);
    EXPECT_EQ(vocab["<0xFF>"], 258);
    EXPECT_EQ(tokenizer["added_tokens"].size(), 3u);
    // Every merge joins two pieces in the vocabulary into a piece in it.
    for (const Json& merge : model["merges"]) {
      std::string text = merge.get<std::string>();
      size_t space = text.find(' ');
      ASSERT_NE(space, std::string::npos) << text;
      std::string left = text.substr(0, space), right = text.substr(space + 1);
      ASSERT_TRUE(vocab.contains(left)) << text;
      ASSERT_TRUE(vocab.contains(right)) << text;
      ASSERT_TRUE(vocab.contains(left + right)) << text;
    }
    Json config = read_json(dir_ / "tokenizer_config.json");
    EXPECT_EQ(config["bos_token"], "<s>");
    EXPECT_EQ(config["eos_token"], "</s>");
    EXPECT_TRUE(config["chat_template"].is_string());
  }
}

TEST_F(TestModelMaker, OurTokenizerLoadsIt) {
  TestModelSpec spec = tiny_spec();
  spec.vocab_size = 1000;
  make_test_model(spec, dir_);
  Tokenizer tokenizer = Tokenizer::load(dir_);
  EXPECT_EQ(tokenizer.vocab_size(), 1000);
  EXPECT_EQ(tokenizer.bos_id(), 1);
  EXPECT_EQ(tokenizer.eos_id(), 2);

  std::vector<int32_t> ids = tokenizer.encode("hello world", /*add_special_tokens=*/false);
  EXPECT_LT(ids.size(), std::string("hello world").size());  // merges apply
  for (int32_t id : ids) EXPECT_GT(id, 258);                 // letters only: no byte fallback
  EXPECT_EQ(tokenizer.decode(ids), "hello world");

  // Capitals and punctuation are not in the vocabulary: byte fallback, <0xNN> = 3 + NN.
  ids = tokenizer.encode("Hi!", /*add_special_tokens=*/true);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 1);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 3 + 'H'), ids.end());
  EXPECT_EQ(ids.back(), 3 + '!');
  EXPECT_EQ(tokenizer.decode(ids, /*skip_special_tokens=*/true), "Hi!");
}

TEST_F(TestModelMaker, RewritingSwitchesLayout) {
  TestModelSpec spec = tiny_spec();
  spec.shards = 2;
  make_test_model(spec, dir_);
  spec.shards = 1;
  make_test_model(spec, dir_);
  EXPECT_TRUE(fs::exists(dir_ / "model.safetensors"));
  EXPECT_FALSE(fs::exists(dir_ / "model.safetensors.index.json"));
  expect_loads(dir_, spec);
}

TEST_F(TestModelMaker, RefusesImpossibleSpecs) {
  TestModelSpec spec = tiny_spec();
  spec.vocab_size = 200;  // no room for the byte-fallback tokens
  EXPECT_THROW(make_test_model(spec, dir_), Error);
  spec = tiny_spec();
  spec.num_kv_heads = 3;
  EXPECT_THROW(make_test_model(spec, dir_), Error);
  spec = tiny_spec();
  spec.hidden_size = 30;  // not a multiple of 4 heads, and no head_dim
  EXPECT_THROW(make_test_model(spec, dir_), Error);
  spec = tiny_spec();
  spec.num_heads = 0;
  EXPECT_THROW(make_test_model(spec, dir_), Error);
  spec = tiny_spec();
  spec.shards = 1000;
  EXPECT_THROW(make_test_model(spec, dir_), Error);
}

}  // namespace
}  // namespace slkv
