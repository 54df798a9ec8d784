#pragma once
// Test helper: runs token prompts through a fresh Engine to completion.
#include <cstdint>
#include <vector>

#include "runtime/engine/engine.h"
#include "runtime/engine/run_to_completion.h"

namespace slkv::testing {

struct EngineRun {
  std::vector<int32_t> prompt;
  int64_t max_new_tokens = 32;
  SamplingParams sampling;
};

// Every prompt submitted at once; `config` sets the pool, limits and policy.
inline std::vector<RequestResult> run_engine(Model& model, Backend& backend, const std::vector<EngineRun>& runs,
                                             const EngineConfig& config, const std::vector<int32_t>& stop_ids) {
  Engine engine(model, backend, config);
  std::vector<EngineRequest> requests;
  for (const EngineRun& run : runs) {
    EngineRequest request;
    request.prompt = run.prompt;
    request.max_new_tokens = run.max_new_tokens;
    request.sampling = run.sampling;
    request.stop_ids = stop_ids;
    requests.push_back(std::move(request));
  }
  return run_to_completion(engine, std::move(requests));
}

// The same with the default pool and limits and `policy`.
inline std::vector<RequestResult> run_engine(Model& model, Backend& backend, const std::vector<EngineRun>& runs,
                                             const KvPolicyConfig& policy, const std::vector<int32_t>& stop_ids) {
  EngineConfig config;
  config.kv_policy = policy;
  return run_engine(model, backend, runs, config, stop_ids);
}

}  // namespace slkv::testing
