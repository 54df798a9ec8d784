#pragma once
// The simplest engine driver: submit a batch of requests and step until all
// have finished (continuous batching does the rest). For subcommands that
// run a fixed set of requests; servers drive Engine::step() themselves.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "runtime/engine/engine.h"

namespace slkv {

struct RequestResult {
  SequenceId sequence = 0;
  std::vector<int32_t> tokens;  // generated ids (a stop id that ended it is not included)
  FinishReason reason = FinishReason::Length;
  std::string error;        // reason Error
  std::string stop_string;  // the stop string that ended it
  KvReport kv;
  double queue_seconds = 0, prefill_seconds = 0, decode_seconds = 0;
};

// A Finished event and the ids generated before it, as a RequestResult.
RequestResult finished_result(const EngineEvent& finished, std::vector<int32_t> tokens);

// Coordinator only. on_event sees every event with its request's index.
// Throws slkv::Error (nothing submitted) when a request is invalid, naming
// it by index when there are several.
std::vector<RequestResult> run_to_completion(Engine& engine, std::vector<EngineRequest> requests,
                                             const std::function<void(size_t, const EngineEvent&)>& on_event = {});

}  // namespace slkv
