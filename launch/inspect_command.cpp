// slkv inspect: what a model directory holds, without running it.
#include <cxxopts.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "launch/cli_common.h"
#include "launch/commands.h"
#include "core/error.h"
#include "runtime/model.h"

namespace slkv {

int run_inspect(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Print a model's config, parameter count and bytes by dtype");
  // clang-format off
  options.add_options()
      ("model", "model directory", cxxopts::value<std::string>());
  // clang-format on
  std::optional<cxxopts::ParseResult> parsed = parse_command_line(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  // Loading the Model validates every tensor's presence and shape.
  std::unique_ptr<Model> model = Model::load(required_flag(args, "model", "DIR"));
  const ModelConfig& c = model->config();
  int64_t stored_parameters = 0;
  for (const auto& [name, view] : model->weights().tensors()) stored_parameters += view.numel();
  nlohmann::json bytes_by_dtype = nlohmann::json::object();
  int64_t total_bytes = 0;
  for (const auto& [dtype, bytes] : model->weights().bytes_by_dtype()) {
    bytes_by_dtype[std::string(dtype_name(dtype))] = bytes;
    total_bytes += static_cast<int64_t>(bytes);
  }
  nlohmann::json out = {
      {"architecture", c.architecture},
      {"family", family_name(c.family)},
      {"hidden_size", c.hidden_size},
      {"intermediate_size", c.intermediate_size},
      {"num_hidden_layers", c.num_layers},
      {"num_attention_heads", c.num_heads},
      {"num_key_value_heads", c.num_kv_heads},
      {"head_dim", c.head_dim},
      {"vocab_size", c.vocab_size},
      {"max_position_embeddings", c.max_position_embeddings},
      {"rms_norm_eps", c.rms_norm_eps},
      {"rope_theta", c.rope_theta},
      {"rope_scaling", c.rope_scaling.type == RopeScaling::Type::Llama3 ? "llama3" : "none"},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"attention_bias", c.attention_bias},
      {"bos_token_id", c.bos_token_id},
      {"eos_token_ids", c.eos_token_ids},
      {"parameters", stored_parameters},
      {"tensors", model->weights().tensors().size()},
      {"bytes_by_dtype", bytes_by_dtype},
      {"total_bytes", total_bytes},
      {"weight_bytes_read_per_token", model->weight_bytes_per_token()},
  };
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace slkv
