#include "runtime/engine/engine_loop.h"

#include <utility>

namespace slkv {

EngineLoop::EngineLoop(Engine& engine) : engine_(engine), thread_([this] { run(); }) {}

EngineLoop::~EngineLoop() { stop(); }

void EngineLoop::post(Command command) {
  {
    std::lock_guard lock(mutex_);
    commands_.push_back(std::move(command));
  }
  wake_.notify_one();
}

void EngineLoop::watch(SequenceId sequence, EventCallback callback) { watchers_[sequence] = std::move(callback); }

void EngineLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

EngineLoopSnapshot EngineLoop::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

void EngineLoop::run() {
  while (true) {
    std::deque<Command> commands;
    {
      std::unique_lock lock(mutex_);
      // Idle: sleep until a command comes (a step with nothing to do would spin).
      wake_.wait(lock, [&] { return stopping_ || !commands_.empty() || engine_.has_work(); });
      if (stopping_ && commands_.empty()) return;
      commands.swap(commands_);
    }
    for (Command& command : commands) command(engine_);
    if (!engine_.has_work()) continue;
    for (const EngineEvent& event : engine_.step()) {
      auto it = watchers_.find(event.sequence);
      if (it == watchers_.end()) continue;
      EventCallback callback = it->second;  // the callback may watch or end others
      if (event.kind == EngineEvent::Kind::Finished) watchers_.erase(it);
      callback(event);
    }
    EngineLoopSnapshot snapshot;
    snapshot.running = engine_.running();
    snapshot.waiting = engine_.waiting();
    snapshot.steps = engine_.stats().steps;
    snapshot.preemptions = engine_.stats().preemptions;
    snapshot.blocks_in_use = engine_.cache().pool().blocks_in_use();
    snapshot.blocks_total = engine_.cache().pool().max_blocks();
    snapshot.sessions_evicted = engine_.stats().sessions_evicted;
    std::lock_guard lock(mutex_);
    snapshot_ = snapshot;
  }
}

}  // namespace slkv
