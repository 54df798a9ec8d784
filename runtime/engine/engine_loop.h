#pragma once
// EngineLoop: the engine on a thread of its own, for callers on other
// threads (the HTTP server). Callers post commands, closures that run on the
// loop's thread between two steps with the engine in hand (submit, extend,
// cancel, read a history); a command watches the sequences it starts, and
// their events come back through its callback, on the loop's thread. So
// neither side waits for the other: callbacks must hand events on (to a
// network strand, a queue) rather than block.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "runtime/engine/engine.h"

namespace slkv {

// What the loop publishes after every step, for metrics (any thread).
struct EngineLoopSnapshot {
  int64_t running = 0;
  int64_t waiting = 0;
  int64_t steps = 0;
  int64_t preemptions = 0;
  int64_t blocks_in_use = 0;
  int64_t blocks_total = 0;
  int64_t sessions_evicted = 0;
};

class EngineLoop {
 public:
  using Command = std::function<void(Engine&)>;
  using EventCallback = std::function<void(const EngineEvent&)>;

  // Starts the thread. The engine must outlive the loop and is used only by it.
  explicit EngineLoop(Engine& engine);
  // stop(), then joins.
  ~EngineLoop();
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  // Any thread: runs `command` on the loop's thread before its next step.
  // An exception it throws goes nowhere: catch it inside and report it.
  void post(Command command);
  // Loop thread only (inside a command): sends the sequence's events to
  // `callback` until it finishes.
  void watch(SequenceId sequence, EventCallback callback);
  // Any thread: runs the commands already posted, then ends the thread
  // (the engine's shutdown() is the caller's, after this).
  void stop();

  EngineLoopSnapshot snapshot() const;

 private:
  void run();

  Engine& engine_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Command> commands_;
  bool stopping_ = false;
  EngineLoopSnapshot snapshot_;
  std::map<SequenceId, EventCallback> watchers_;  // loop thread only
  std::thread thread_;
};

}  // namespace slkv
