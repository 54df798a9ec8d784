#pragma once
// EvalModel: what every `slkv eval` task runs on. The model is loaded once
// per rank; the coordinator holds the tokenizer and chat template; the
// engine has an offload manager, so that multi-turn tasks park and restore
// what lazy layers drop; and --kv-policy may list several policies to
// compare in one run (each request carries its own).
//
// Two phases, so that a task can check its data files (on the coordinator)
// before any weight is read: the constructor builds the rank layout and
// loads the tokenizer and template, load() the weights and the engine.
#include <cstdint>
#include <cxxopts.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "launch/rank_layout.h"
#include "offload/offload_manager.h"
#include "runtime/engine/engine.h"
#include "runtime/kv/kv_policy_config.h"
#include "runtime/tokenizer/chat_template.h"
#include "runtime/tokenizer/tokenizer.h"

namespace slkv {

// --model and the KV policy, offload, engine, parallel and device flags.
void add_eval_model_options(cxxopts::Options& options);

class EvalModel {
 public:
  explicit EvalModel(const cxxopts::ParseResult& args);
  // Reads the weights and builds the engine (collective under mpirun).
  void load();

  bool coordinator() const { return layout_.coordinator(); }
  const std::filesystem::path& model_dir() const { return model_dir_; }
  // Coordinator only.
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const ChatTemplate& chat_template() const { return *chat_template_; }
  // After load():
  Engine& engine() { return *engine_; }
  const ModelConfig& config() const;
  int64_t context() const { return config().max_position_embeddings; }
  const std::vector<KvPolicyConfig>& policies() const { return policies_; }
  // What ends a reply (config.json's eos ids and the tokenizer's EOS).
  const std::vector<int32_t>& stop_ids() const { return stop_ids_; }
  // A greedy request for `prompt` under `policy`.
  EngineRequest request(std::vector<int32_t> prompt, int64_t max_new_tokens, const KvPolicyConfig& policy) const;

  // After load(): the coordinator runs `task` while every other rank
  // follows the engine; the engine is shut down either way. Returns the
  // task's exit code (0 on the other ranks).
  int run(const std::function<int()>& task);

 private:
  const cxxopts::ParseResult& args_;
  std::filesystem::path model_dir_;
  RankLayout layout_;
  std::optional<Tokenizer> tokenizer_;
  std::optional<ChatTemplate> chat_template_;
  RankModel rank_;
  std::unique_ptr<OffloadManager> offload_;
  std::unique_ptr<Engine> engine_;
  std::vector<KvPolicyConfig> policies_;
  std::vector<int32_t> stop_ids_;
};

}  // namespace slkv
