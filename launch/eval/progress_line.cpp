#include "launch/eval/progress_line.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <sstream>

namespace slkv {
namespace {

std::string duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  std::ostringstream out;
  if (s >= 3600) out << s / 3600 << "h" << (s % 3600) / 60 << "m";
  else if (s >= 60) out << s / 60 << "m" << s % 60 << "s";
  else out << s << "s";
  return out.str();
}

}  // namespace

ProgressLine::ProgressLine(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), shown_(isatty(STDERR_FILENO) != 0) {
  if (shown_) std::fprintf(stderr, "\r%s", format(label_, 0, total_, 0, unit_).c_str());
}

ProgressLine::~ProgressLine() {
  if (shown_) std::fprintf(stderr, "\n");
}

void ProgressLine::advance(int64_t count) {
  done_ += count;
  // \033[K clears what a longer earlier line left.
  if (shown_) std::fprintf(stderr, "\r%s\033[K", format(label_, done_, total_, timer_.seconds(), unit_).c_str());
}

std::string ProgressLine::format(const std::string& label, int64_t done, int64_t total, double seconds,
                                 const std::string& unit) {
  std::ostringstream out;
  out << label << ": " << done << "/" << total << " " << unit;
  if (done > 0 && seconds > 0) {
    const double rate = done / seconds;
    out.precision(rate < 10 ? 2 : 0);
    out << std::fixed << ", " << rate << " " << unit << "/s";
    if (done < total) out << ", ETA " << duration((total - done) / rate);
  }
  return out.str();
}

}  // namespace slkv
