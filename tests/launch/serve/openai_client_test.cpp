// The official `openai` npm client drives slkv serve (tests/tools/openai_client.mjs):
// its answers equal the server's own over plain HTTP, streamed or not, and a
// session grows over three turns. Skipped, saying why, without node or the
// package (scripts/setup.sh installs it into $SLKV_NPM_DIR, default ~/.cache/slkv-npm).
#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/launch/serve/serve_process.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

TEST(OpenAiClient, TheOfficialNpmClientGetsTheServersAnswers) {
  SLKV_REQUIRE_SHARED();
  const char* dir = std::getenv("SLKV_NPM_DIR");
  const std::filesystem::path npm = dir ? dir : std::filesystem::path(std::getenv("HOME") ? std::getenv("HOME") : "/") / ".cache" / "slkv-npm";
  if (std::system("node --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  if (!std::filesystem::exists(npm / "node_modules" / "openai" / "package.json"))
    GTEST_SKIP() << "the openai npm package is not in " << npm << " (scripts/setup.sh installs it)";
  testing::ServeProcess server("--model " + testing::stories_dir().string() + " --threads 1 --kv-policy full");
  ASSERT_TRUE(server.ok()) << server.log();
  // The script imports "openai" from next to itself: run a copy inside the npm directory.
  const std::filesystem::path script = npm / "openai_client.mjs";
  std::filesystem::copy_file(std::filesystem::path(SLKV_SOURCE_DIR) / "tests" / "tools" / "openai_client.mjs", script,
                             std::filesystem::copy_options::overwrite_existing);
  const std::string command = "timeout 300 node " + script.string() + " " + std::to_string(server.port()) + " 2>&1";
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  ASSERT_EQ(pclose(pipe), 0) << output;
  const nlohmann::json out = nlohmann::json::parse(output.substr(output.find('{')));
  const auto direct = testing::post(server.port(), "/v1/completions",
                                    {{"prompt", "Once upon a time"}, {"max_tokens", 16}, {"temperature", 0}});
  EXPECT_EQ(out["completion"], nlohmann::json::parse(direct.body)["choices"][0]["text"]);
  EXPECT_EQ(out["completion_streamed"], out["completion"]);
  EXPECT_EQ(out["completion_usage"]["completion_tokens"], 16);
  EXPECT_EQ(out["chat_streamed"], out["chat"]);
  EXPECT_EQ(out["chat_stream_usage"]["completion_tokens"], 12);
  ASSERT_EQ(out["session"].size(), 3u);
  EXPECT_LT(out["session"][0]["prompt_tokens"], out["session"][1]["prompt_tokens"]);
  EXPECT_LT(out["session"][1]["prompt_tokens"], out["session"][2]["prompt_tokens"]);
}

}  // namespace
}  // namespace slkv
