// slkv bench-sessions on the CPU: every part reports (copy bandwidth per
// region size, fidelity per mode and turn, turn-2 latency per run, sessions
// held per policy) in --json, the copy part can be skipped, and a bad byte
// count is refused by name.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/test_support.h"

namespace slkv {
namespace {

using Json = nlohmann::json;
using testing::run_slkv;
using testing::stories_dir;

const std::string kSmall = " --threads 1 --conversations 1 --first-tokens 24 --turn-tokens 6 --new-tokens 3";

Json run_json(const std::string& extra, const testing::ScratchDir& dir) {
  const std::string file = (dir.path() / "sessions.json").string();
  const testing::CommandResult result =
      run_slkv("bench-sessions --model " + stories_dir().string() + kSmall + extra + " --json " + file, true);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  std::ifstream in(file);
  return Json::parse(in, nullptr, false);
}

TEST(BenchSessions, ReportsCopiesFidelityLatencyAndMemory) {
  SLKV_REQUIRE_SHARED();
  testing::ScratchDir dir("slkv_bench_sessions");
  const Json report = run_json(" --copy-bytes 1MiB", dir);
  ASSERT_TRUE(report.is_object());
  // Three region sizes: a page of this model's KV, a Llama-3-8B page, the whole MiB.
  ASSERT_EQ(report["copies"].size(), 3u);
  EXPECT_EQ(report["copies"][2]["region_bytes"], 1 << 20);
  EXPECT_EQ(report["copies"][2]["regions"], 1);
  for (const Json& row : report["copies"]) {
    EXPECT_GT(row["to_device_gbps"].get<double>(), 0.0);
    EXPECT_GT(row["to_host_gbps"].get<double>(), 0.0);
  }
  EXPECT_EQ(report["fidelity"].size(), 9u);  // none, cached, exact x 3 turns
  EXPECT_EQ(report["latency"].size(), 4u);
  ASSERT_EQ(report["memory"].size(), 2u);
  EXPECT_GE(report["memory"][1]["sessions"].get<int64_t>(), report["memory"][0]["sessions"].get<int64_t>())
      << "SimLayerKV + offload holds no fewer sessions than full KV in the same budget";
}

TEST(BenchSessions, CopyBytesZeroSkipsTheCopyPart) {
  SLKV_REQUIRE_SHARED();
  testing::ScratchDir dir("slkv_bench_sessions");
  const Json report = run_json(" --copy-bytes 0", dir);
  ASSERT_TRUE(report.is_object());
  EXPECT_FALSE(report.contains("copies"));
  EXPECT_EQ(report["fidelity"].size(), 9u);
}

TEST(BenchSessions, RefusesABadByteCountByName) {
  SLKV_REQUIRE_SHARED();
  const testing::CommandResult result =
      run_slkv("bench-sessions --model " + stories_dir().string() + kSmall + " --copy-bytes 3XB", true);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("--copy-bytes"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace slkv
