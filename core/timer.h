#pragma once
// Timer: wall-clock seconds since it started, on the steady clock (immune to
// system clock changes), for timings the commands report.
#include <chrono>

namespace slkv {

class Timer {
 public:
  using Clock = std::chrono::steady_clock;

  Timer() : start_(Clock::now()) {}
  // Seconds since construction or the last restart().
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  void restart() { start_ = Clock::now(); }

 private:
  Clock::time_point start_;
};

}  // namespace slkv
