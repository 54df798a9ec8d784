// slkv make-test-model: a random-weight Hugging Face model directory of any
// shape, for benchmarks and tests that need a bigger model than stories260K.
#include <cxxopts.hpp>
#include <iostream>

#include "launch/cli_common.h"
#include "launch/commands.h"
#include "core/error.h"
#include "runtime/checkpoint/test_model_maker.h"

namespace slkv {
namespace {

DType parse_dtype(const std::string& name) {
  if (name == "f32" || name == "F32") return DType::F32;
  if (name == "f16" || name == "F16") return DType::F16;
  if (name == "bf16" || name == "BF16") return DType::BF16;
  throw Error("--dtype must be f32, f16 or bf16, got '" + name + "'");
}

ModelFamily parse_architecture(const std::string& name) {
  if (name == "llama" || name == "llama2") return ModelFamily::Llama2;
  if (name == "llama3") return ModelFamily::Llama3;
  if (name == "mistral") return ModelFamily::Mistral;
  if (name == "qwen2") return ModelFamily::Qwen2;
  throw Error("--architecture must be llama2, llama3, mistral or qwen2, got '" + name + "'");
}

}  // namespace

int run_make_test_model(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Write a random-weight Hugging Face model directory");
  // clang-format off
  options.add_options()
      ("out", "output directory", cxxopts::value<std::string>())
      ("hidden", "hidden size", cxxopts::value<int64_t>()->default_value("768"))
      ("layers", "decoder layers", cxxopts::value<int64_t>()->default_value("12"))
      ("heads", "query heads", cxxopts::value<int64_t>()->default_value("12"))
      ("kv-heads", "key/value heads", cxxopts::value<int64_t>()->default_value("4"))
      ("head-dim", "head dimension (0 = hidden / heads)", cxxopts::value<int64_t>()->default_value("0"))
      ("ffn", "intermediate (FFN) size", cxxopts::value<int64_t>()->default_value("2048"))
      ("vocab", "vocabulary size (>= 259)", cxxopts::value<int64_t>()->default_value("32000"))
      ("context", "max_position_embeddings", cxxopts::value<int64_t>()->default_value("4096"))
      ("dtype", "f32, f16 or bf16", cxxopts::value<std::string>()->default_value("f32"))
      ("architecture", "llama2, llama3, mistral or qwen2", cxxopts::value<std::string>()->default_value("llama2"))
      ("tie-embeddings", "share the embedding matrix with lm_head")
      ("shards", "number of safetensors shards", cxxopts::value<int>()->default_value("1"))
      ("seed", "random seed", cxxopts::value<uint64_t>()->default_value("0"));
  // clang-format on
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::string out = required_flag(args, "out", "DIR");
  TestModelSpec spec;
  spec.hidden_size = args["hidden"].as<int64_t>();
  spec.num_layers = args["layers"].as<int64_t>();
  spec.num_heads = args["heads"].as<int64_t>();
  spec.num_kv_heads = args["kv-heads"].as<int64_t>();
  spec.head_dim = args["head-dim"].as<int64_t>();
  spec.intermediate_size = args["ffn"].as<int64_t>();
  spec.vocab_size = args["vocab"].as<int64_t>();
  spec.max_position_embeddings = args["context"].as<int64_t>();
  spec.dtype = parse_dtype(args["dtype"].as<std::string>());
  spec.architecture = parse_architecture(args["architecture"].as<std::string>());
  spec.tie_word_embeddings = args.count("tie-embeddings") > 0;
  spec.shards = args["shards"].as<int>();
  spec.seed = args["seed"].as<uint64_t>();
  make_test_model(spec, out);
  std::cout << "wrote " << out << " (" << test_model_config(spec).parameter_count() / 1e6 << " M parameters, "
            << dtype_name(spec.dtype) << ")\n";
  return 0;
}

}  // namespace slkv
