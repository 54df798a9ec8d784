#pragma once
// Runs a set of requests through the engine's continuous batching and hands
// each result over in request order, as soon as it and every request before
// it have finished. Evaluation tasks write their prediction files this way:
// the lines come in row order whatever the batching, so an interrupted and
// resumed run writes the same file as an uninterrupted one.
#include <cstddef>
#include <functional>
#include <vector>

#include "runtime/engine/engine.h"
#include "runtime/engine/run_to_completion.h"

namespace slkv {

void run_in_order(Engine& engine, std::vector<EngineRequest> requests,
                  const std::function<void(size_t, const RequestResult&)>& on_result);

}  // namespace slkv
