// ServerMetrics' text: counters past a million keep every digit (the
// stream's default 6 significant digits printed 10183680 as 1.01837e+07),
// and fractional sums read back as the same double.
#include "launch/serve/metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace slkv {
namespace {

TEST(ServerMetrics, LargeCountersKeepEveryDigit) {
  ServerMetrics metrics;
  KvReport kv;
  kv.kv_bytes_full = 10183680 + 4096;
  kv.kv_bytes = 4096;
  kv.lazy_layers = {true, false};
  metrics.kv_report(kv);
  metrics.tokens(123456789, 987654321);
  metrics.end_to_end(0.1);
  metrics.end_to_end(0.2);
  const std::string text = metrics.render(EngineLoopSnapshot{});
  EXPECT_NE(text.find("\nslkv_kv_bytes_saved_total 10183680\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" 123456789\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" 987654321\n"), std::string::npos) << text;
  EXPECT_NE(text.find("_sum 0.30000000000000004\n"), std::string::npos) << "0.1 + 0.2 in full\n" << text;
  EXPECT_EQ(text.find("e+"), std::string::npos) << "no value in exponent notation\n" << text;
}

}  // namespace
}  // namespace slkv
