#include "launch/eval/eval_model.h"

#include "core/error.h"
#include "launch/cli_common.h"
#include "launch/device_choice.h"
#include "launch/kv_policy_options.h"
#include "launch/offload_options.h"
#include "launch/sampling_options.h"

namespace slkv {

void add_eval_model_options(cxxopts::Options& options) {
  options.add_options()(
      "model", "model directory (config.json, *.safetensors, tokenizer.json; the chat template from tokenizer_config.json)",
      cxxopts::value<std::string>());
  add_kv_policy_options(options);
  add_offload_options(options);
  add_engine_options(options);
  add_parallel_options(options);
  add_device_options(options, default_thread_count());
}

EvalModel::EvalModel(const cxxopts::ParseResult& args)
    : args_(args),
      model_dir_(required_flag(args, "model", "DIR")),
      layout_(make_rank_layout(args, model_dir_)) {
  if (coordinator()) {
    tokenizer_.emplace(Tokenizer::load(model_dir_));
    chat_template_.emplace(ChatTemplate::load(model_dir_));
  }
}

void EvalModel::load() {
  rank_ = load_rank_model(layout_, model_dir_, device_choice(args_));
  policies_ = kv_policies_from_args(args_, rank_.model->config());
  EngineConfig config = engine_config_from_args(args_, policies_.front());
  config.micro_batches = layout_.topology.pp;
  offload_ = make_offload_manager(args_, *rank_.model, *rank_.backend);
  engine_ = std::make_unique<Engine>(*rank_.model, *rank_.backend, config, layout_.sync(),
                                     tokenizer_ ? &*tokenizer_ : nullptr, offload_.get());
  if (tokenizer_) stop_ids_ = stop_token_ids(rank_.model->config(), *tokenizer_);
}

const ModelConfig& EvalModel::config() const { return rank_.model->config(); }

EngineRequest EvalModel::request(std::vector<int32_t> prompt, int64_t max_new_tokens,
                                 const KvPolicyConfig& policy) const {
  EngineRequest request;
  request.prompt = std::move(prompt);
  request.max_new_tokens = max_new_tokens;
  request.sampling.temperature = 0.f;  // the benchmarks' protocols decode greedily
  request.stop_ids = stop_ids_;
  request.kv_policy = policy;
  return request;
}

int EvalModel::run(const std::function<int()>& task) {
  if (!coordinator()) {
    engine_->follow();
    return 0;
  }
  int status = 0;
  try {
    status = task();
  } catch (...) {
    engine_->shutdown();
    throw;
  }
  engine_->shutdown();
  return status;
}

}  // namespace slkv
