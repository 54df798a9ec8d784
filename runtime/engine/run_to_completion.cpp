#include "runtime/engine/run_to_completion.h"

#include <map>

#include "core/error.h"

namespace slkv {

RequestResult finished_result(const EngineEvent& finished, std::vector<int32_t> tokens) {
  RequestResult result;
  result.sequence = finished.sequence;
  result.tokens = std::move(tokens);
  result.reason = finished.reason;
  result.error = finished.error;
  result.stop_string = finished.stop_string;
  result.kv = finished.kv;
  result.queue_seconds = finished.queue_seconds;
  result.prefill_seconds = finished.prefill_seconds;
  result.decode_seconds = finished.decode_seconds;
  return result;
}

std::vector<RequestResult> run_to_completion(Engine& engine, std::vector<EngineRequest> requests,
                                             const std::function<void(size_t, const EngineEvent&)>& on_event) {
  std::vector<RequestResult> results(requests.size());
  std::map<SequenceId, size_t> index_of;
  for (size_t i = 0; i < requests.size(); ++i) {
    try {
      results[i].sequence = engine.submit(std::move(requests[i]));
    } catch (const Error& e) {
      for (const auto& [sequence, index] : index_of) engine.cancel(sequence);
      while (engine.has_work()) engine.step();  // let the cancellations settle
      throw Error(requests.size() > 1 ? "prompt " + std::to_string(i + 1) + ": " + e.what() : e.what());
    }
    index_of[results[i].sequence] = i;
  }
  size_t open = requests.size();
  auto handle = [&](const EngineEvent& event) {
    auto it = index_of.find(event.sequence);
    if (it == index_of.end()) return;
    RequestResult& result = results[it->second];
    if (on_event) on_event(it->second, event);
    if (event.kind == EngineEvent::Kind::Token) {
      result.tokens.push_back(event.token);
      return;
    }
    result = finished_result(event, std::move(result.tokens));
    --open;
  };
  while (open > 0) {
    for (const EngineEvent& event : engine.step()) handle(event);
  }
  return results;
}

}  // namespace slkv
