// Timer: elapsed seconds on the steady clock.
#include "core/timer.h"

#include <gtest/gtest.h>

#include <thread>

namespace slkv {
namespace {

TEST(Timer, MeasuresElapsedSecondsAndRestarts) {
  Timer timer;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double first = timer.seconds();
  EXPECT_GE(first, 0.02);
  EXPECT_LT(first, 5.0);  // generous: a loaded CI machine may be slow
  EXPECT_GE(timer.seconds(), first);  // monotonic
  timer.restart();
  EXPECT_LT(timer.seconds(), first);
  EXPECT_GE(timer.seconds(), 0.0);
}

}  // namespace
}  // namespace slkv
