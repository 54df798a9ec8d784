#pragma once
// ProgressLine: "label: 12/200 rows, 1.4 rows/s, ETA 2m15s" on stderr,
// rewritten in place, for long evaluation runs. Silent when stderr is not a
// terminal (logs and tests stay clean).
#include <cstdint>
#include <string>

#include "core/timer.h"

namespace slkv {

class ProgressLine {
 public:
  // total: the rows this run will do (already finished rows of a resumed run excluded).
  ProgressLine(std::string label, int64_t total, std::string unit = "rows");
  ~ProgressLine();  // ends the line
  void advance(int64_t count = 1);

  // The line's text (what the terminal shows), for tests.
  static std::string format(const std::string& label, int64_t done, int64_t total, double seconds,
                            const std::string& unit);

 private:
  std::string label_, unit_;
  int64_t total_ = 0, done_ = 0;
  bool shown_ = false;
  Timer timer_;
};

}  // namespace slkv
