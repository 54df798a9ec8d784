#include "runtime/checkpoint/test_model_maker.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "runtime/checkpoint/safetensors_writer.h"
#include "runtime/checkpoint/tensor_names.h"

namespace slkv {

namespace {

using Json = nlohmann::ordered_json;  // keeps keys in the order written, like HF's files

constexpr float kWeightStd = 0.02f;
constexpr int64_t kSpecialTokens = 3;  // <unk> <s> </s>
constexpr int64_t kByteTokens = 256;   // <0x00> .. <0xFF>

// The Llama-2 chat template, so chat code paths work on test models.
constexpr const char* kChatTemplate =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}";

// splitmix64: tiny, fast and good enough for test weights.
struct Random {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Sum of four 16-bit uniforms (Irwin-Hall), scaled to mean 0 and `stddev`:
  // close enough to normal for weights and one generator call per value.
  float normal(float stddev) {
    uint64_t bits = next();
    double sum = double(bits & 0xffff) + double((bits >> 16) & 0xffff) + double((bits >> 32) & 0xffff) +
                 double(bits >> 48);
    constexpr double kMean = 4 * 32767.5;
    static const double kStd = std::sqrt(4 * (65536.0 * 65536.0 - 1) / 12);  // of the sum
    return float((sum - kMean) / kStd) * stddev;
  }
};

// Seeds each tensor from its name, so values do not depend on sharding or order.
uint64_t tensor_seed(uint64_t seed, const std::string& name) {
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a
  for (char c : name) hash = (hash ^ uint8_t(c)) * 0x100000001b3ull;
  return Random{seed ^ hash}.next();
}

bool is_norm(const std::string& name) { return name.find("norm.weight") != std::string::npos; }

std::string dtype_torch_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "float32";
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
  }
  return "float32";
}

Json config_json(const TestModelSpec& spec) {
  if (spec.head_dim == 0 && spec.num_heads > 0 && spec.hidden_size % spec.num_heads != 0) {
    throw Error("test model: hidden_size " + std::to_string(spec.hidden_size) +
                " is not a multiple of num_heads " + std::to_string(spec.num_heads) + " and head_dim is 0");
  }
  // Non-positive sizes are left for ModelConfig::parse to refuse by field name.
  const int64_t head_dim =
      spec.head_dim != 0 || spec.num_heads <= 0 ? spec.head_dim : spec.hidden_size / spec.num_heads;
  Json config;
  switch (spec.architecture) {
    case ModelFamily::Llama2:
    case ModelFamily::Llama3:
      config["architectures"] = {"LlamaForCausalLM"};
      config["model_type"] = "llama";
      break;
    case ModelFamily::Mistral:
      config["architectures"] = {"MistralForCausalLM"};
      config["model_type"] = "mistral";
      break;
    case ModelFamily::Qwen2:
      config["architectures"] = {"Qwen2ForCausalLM"};
      config["model_type"] = "qwen2";
      break;
  }
  config["hidden_size"] = spec.hidden_size;
  config["intermediate_size"] = spec.intermediate_size;
  config["num_hidden_layers"] = spec.num_layers;
  config["num_attention_heads"] = spec.num_heads;
  config["num_key_value_heads"] = spec.num_kv_heads;
  config["head_dim"] = head_dim;
  config["vocab_size"] = spec.vocab_size;
  config["max_position_embeddings"] = spec.max_position_embeddings;
  config["rms_norm_eps"] = 1e-5;
  config["hidden_act"] = "silu";
  config["tie_word_embeddings"] = spec.tie_word_embeddings;
  config["bos_token_id"] = 1;
  config["eos_token_id"] = 2;
  config["torch_dtype"] = dtype_torch_name(spec.dtype);
  switch (spec.architecture) {
    case ModelFamily::Llama2:
      config["rope_theta"] = 10000.0;
      config["rope_scaling"] = nullptr;
      config["attention_bias"] = false;
      config["mlp_bias"] = false;
      break;
    case ModelFamily::Llama3:
      config["rope_theta"] = 500000.0;
      config["rope_scaling"] = {{"rope_type", "llama3"},
                                {"factor", 8.0},
                                {"low_freq_factor", 1.0},
                                {"high_freq_factor", 4.0},
                                {"original_max_position_embeddings", 8192}};
      config["attention_bias"] = false;
      config["mlp_bias"] = false;
      break;
    case ModelFamily::Mistral:
      config["rope_theta"] = 10000.0;
      config["sliding_window"] = nullptr;
      break;
    case ModelFamily::Qwen2:
      config["rope_theta"] = 1000000.0;
      config["use_sliding_window"] = false;
      config["sliding_window"] = spec.max_position_embeddings;
      config["max_window_layers"] = spec.num_layers;
      break;
  }
  return config;
}

// A SentencePiece-style BPE tokenizer (the stories260K layout): specials,
// byte-fallback tokens, the letters and "▁", then merged pieces. Merges are
// generated breadth first (every piece + letter), so each merge joins two
// pieces already in the vocabulary and the list is consistent with it.
Json tokenizer_json(int64_t vocab_size) {
  if (vocab_size < kSpecialTokens + kByteTokens) {
    throw Error("test model: vocab_size " + std::to_string(vocab_size) + " is below " +
                std::to_string(kSpecialTokens + kByteTokens) + " (3 specials + 256 byte tokens)");
  }
  Json vocab = Json::object();
  Json added_tokens = Json::array();
  const char* specials[] = {"<unk>", "<s>", "</s>"};
  for (int id = 0; id < kSpecialTokens; ++id) {
    vocab[specials[id]] = id;
    added_tokens.push_back({{"id", id},
                            {"content", specials[id]},
                            {"single_word", false},
                            {"lstrip", false},
                            {"rstrip", false},
                            {"normalized", false},
                            {"special", true}});
  }
  for (int byte = 0; byte < kByteTokens; ++byte) {
    char piece[8];
    std::snprintf(piece, sizeof piece, "<0x%02X>", byte);
    vocab[piece] = kSpecialTokens + byte;
  }

  int64_t next_id = kSpecialTokens + kByteTokens;
  std::vector<std::string> alphabet = {"\u2581"};
  for (char c = 'a'; c <= 'z'; ++c) alphabet.push_back(std::string(1, c));
  if (int64_t(alphabet.size()) > vocab_size - next_id) alphabet.resize(size_t(vocab_size - next_id));
  for (const std::string& letter : alphabet) vocab[letter] = next_id++;

  Json merges = Json::array();
  std::vector<std::string> level = alphabet;
  while (next_id < vocab_size && !alphabet.empty()) {
    std::vector<std::string> longer;
    for (const std::string& left : level) {
      for (const std::string& right : alphabet) {
        if (next_id == vocab_size) break;
        vocab[left + right] = next_id++;
        merges.push_back(left + " " + right);
        longer.push_back(left + right);
      }
    }
    level = std::move(longer);
  }

  Json prepend = {{"type", "Prepend"}, {"prepend", "\u2581"}};
  Json replace_space = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}};
  Json bos_piece = {{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}};
  Json tokenizer;
  tokenizer["version"] = "1.0";
  tokenizer["truncation"] = nullptr;
  tokenizer["padding"] = nullptr;
  tokenizer["added_tokens"] = added_tokens;
  tokenizer["normalizer"] = {{"type", "Sequence"}, {"normalizers", {prepend, replace_space}}};
  tokenizer["pre_tokenizer"] = nullptr;
  tokenizer["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", {bos_piece, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"pair",
       {bos_piece,
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
        {{"SpecialToken", {{"id", "<s>"}, {"type_id", 1}}}},
        {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}};
  tokenizer["decoder"] = {
      {"type", "Sequence"},
      {"decoders",
       {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
        {{"type", "ByteFallback"}},
        {{"type", "Fuse"}},
        {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  tokenizer["model"] = {{"type", "BPE"},
                        {"dropout", nullptr},
                        {"unk_token", "<unk>"},
                        {"continuing_subword_prefix", nullptr},
                        {"end_of_word_suffix", nullptr},
                        {"fuse_unk", true},
                        {"byte_fallback", true},
                        {"ignore_merges", false},
                        {"vocab", vocab},
                        {"merges", merges}};
  return tokenizer;
}

Json tokenizer_config_json(const TestModelSpec& spec) {
  Json config;
  config["add_bos_token"] = true;
  config["add_eos_token"] = false;
  config["bos_token"] = "<s>";
  config["eos_token"] = "</s>";
  config["unk_token"] = "<unk>";
  config["pad_token"] = nullptr;
  config["clean_up_tokenization_spaces"] = false;
  config["legacy"] = true;
  config["model_max_length"] = spec.max_position_embeddings;
  config["tokenizer_class"] = "LlamaTokenizer";
  config["chat_template"] = kChatTemplate;
  return config;
}

void write_json(const std::filesystem::path& path, const Json& json) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << json.dump(2) << "\n";
  if (!out) throw Error("cannot write " + path.string());
}

size_t tensor_bytes(const ExpectedTensor& tensor, DType dtype) { return size_t(tensor.numel()) * dtype_size(dtype); }

// Streams one tensor's values in chunks so large embeddings never sit in RAM
// whole. Each run of kRunValues values has its own generator seeded from the
// tensor and the run's index, so runs are generated and encoded in parallel
// (a 70B-class shard is ~9 G values) with values independent of thread count.
void write_random_tensor(SafetensorsWriter& writer, const ExpectedTensor& tensor, const TestModelSpec& spec) {
  constexpr int64_t kRunValues = int64_t(1) << 16;
  constexpr int64_t kChunkValues = kRunValues * 256;  // 16 M values per write
  const uint64_t seed = tensor_seed(spec.seed, tensor.name);
  const bool norm = is_norm(tensor.name);
  const int64_t value_bytes = int64_t(dtype_size(spec.dtype));
  std::vector<std::byte> bytes;
  for (int64_t done = 0; done < tensor.numel(); done += kChunkValues) {
    const int64_t count = std::min(kChunkValues, tensor.numel() - done);
    bytes.resize(size_t(count * value_bytes));
    const int64_t runs = (count + kRunValues - 1) / kRunValues;
#pragma omp parallel for schedule(static) if (runs > 1)
    for (int64_t r = 0; r < runs; ++r) {
      const int64_t begin = r * kRunValues, n = std::min(kRunValues, count - begin);
      Random random{seed ^ Random{uint64_t((done + begin) / kRunValues)}.next()};
      std::vector<float> values(static_cast<size_t>(n));
      for (float& value : values) value = norm ? 1.0f : random.normal(kWeightStd);
      const std::vector<std::byte> encoded = encode_floats(values, spec.dtype);
      std::copy(encoded.begin(), encoded.end(), bytes.begin() + begin * value_bytes);
    }
    writer.write(bytes);
  }
}

// Contiguous groups balanced by bytes; every shard gets at least one tensor.
std::vector<int> assign_shards(const std::vector<ExpectedTensor>& tensors, const TestModelSpec& spec) {
  const int count = int(tensors.size());
  if (spec.shards < 1 || spec.shards > count) {
    throw Error("test model: shards is " + std::to_string(spec.shards) + ", must be between 1 and the " +
                std::to_string(count) + " tensors");
  }
  size_t total = 0;
  for (const ExpectedTensor& tensor : tensors) total += tensor_bytes(tensor, spec.dtype);
  std::vector<int> shard_of(size_t(count), 0);
  int current = 0;
  size_t start = 0;
  for (int i = 0; i < count; ++i) {
    bool past_share = start * size_t(spec.shards) >= size_t(current + 1) * total;
    bool must_advance = count - i == spec.shards - current - 1;  // one tensor left per remaining shard
    if (i > 0 && current + 1 < spec.shards && (past_share || must_advance)) ++current;
    shard_of[size_t(i)] = current;
    start += tensor_bytes(tensors[size_t(i)], spec.dtype);
  }
  return shard_of;
}

std::string shard_file_name(int index, int count) {
  char name[64];
  std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", index + 1, count);
  return name;
}

}  // namespace

ModelConfig test_model_config(const TestModelSpec& spec) {
  return ModelConfig::parse(config_json(spec).dump(), "test model config.json");
}

void make_test_model(const TestModelSpec& spec, const std::filesystem::path& out_dir) {
  // Parsing our own config.json checks the spec the way users' configs are checked.
  const ModelConfig config = test_model_config(spec);
  const std::vector<ExpectedTensor> tensors = expected_tensors(config);
  const std::vector<int> shard_of = assign_shards(tensors, spec);
  const Json tokenizer = tokenizer_json(spec.vocab_size);

  std::filesystem::create_directories(out_dir);
  // A previous run may have left the other layout behind; loaders prefer model.safetensors.
  std::filesystem::remove(out_dir / "model.safetensors");
  std::filesystem::remove(out_dir / "model.safetensors.index.json");

  write_json(out_dir / "config.json", config_json(spec));
  write_json(out_dir / "generation_config.json", Json{{"bos_token_id", 1}, {"eos_token_id", 2}, {"do_sample", false}});
  write_json(out_dir / "tokenizer.json", tokenizer);
  write_json(out_dir / "tokenizer_config.json", tokenizer_config_json(spec));

  Json weight_map = Json::object();
  size_t total_size = 0;
  for (int shard = 0; shard < spec.shards; ++shard) {
    std::vector<SafetensorsEntry> entries;
    std::vector<const ExpectedTensor*> members;
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (shard_of[i] != shard) continue;
      entries.push_back({tensors[i].name, spec.dtype, tensors[i].shape});
      members.push_back(&tensors[i]);
    }
    const std::string file = spec.shards == 1 ? "model.safetensors" : shard_file_name(shard, spec.shards);
    SafetensorsWriter writer(out_dir / file, std::move(entries));
    for (const ExpectedTensor* tensor : members) {
      write_random_tensor(writer, *tensor, spec);
      weight_map[tensor->name] = file;
      total_size += tensor_bytes(*tensor, spec.dtype);
    }
    writer.finish();
  }
  if (spec.shards > 1) {
    write_json(out_dir / "model.safetensors.index.json",
               Json{{"metadata", {{"total_size", total_size}}}, {"weight_map", weight_map}});
  }
}

}  // namespace slkv
