#include "launch/eval/ordered_runner.h"

#include <map>

namespace slkv {

void run_in_order(Engine& engine, std::vector<EngineRequest> requests,
                  const std::function<void(size_t, const RequestResult&)>& on_result) {
  std::vector<std::vector<int32_t>> tokens(requests.size());
  std::map<size_t, RequestResult> finished;  // waiting for an earlier request
  size_t next = 0;
  run_to_completion(engine, std::move(requests), [&](size_t index, const EngineEvent& event) {
    if (event.kind == EngineEvent::Kind::Token) {
      tokens[index].push_back(event.token);
      return;
    }
    finished.emplace(index, finished_result(event, std::move(tokens[index])));
    for (auto it = finished.find(next); it != finished.end(); it = finished.find(next)) {
      on_result(next, it->second);
      finished.erase(it);
      ++next;
    }
  });
}

}  // namespace slkv
