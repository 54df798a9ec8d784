// EngineLoop: requests posted from many threads run batched on the loop's
// thread and each gets its own events, equal to a run alone.
#include "runtime/engine/engine_loop.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "tests/engine_support.h"
#include "tests/stories_fixture.h"

namespace slkv {
namespace {

TEST(EngineLoop, RequestsFromManyThreadsEachGetTheirAloneResult) {
  SLKV_REQUIRE_SHARED();
  testing::StoriesFixture f;
  EngineConfig config;
  config.limits.max_batch_tokens = 64;
  Engine engine(*f.model, *f.backend, config);
  std::vector<std::vector<int32_t>> expected, got(8);
  for (size_t i = 0; i < 8; ++i)
    expected.push_back(
        testing::run_engine(*f.model, *f.backend, {{f.prompt(20 + 9 * i), static_cast<int64_t>(5 + i)}}, config, {})[0]
            .tokens);
  {
    EngineLoop loop(engine);
    std::vector<std::promise<void>> done(8);
    std::vector<std::thread> clients;
    for (size_t i = 0; i < 8; ++i)
      clients.emplace_back([&, i] {
        loop.post([&, i](Engine& e) {
          EngineRequest request;
          request.prompt = f.prompt(20 + 9 * i);
          request.max_new_tokens = static_cast<int64_t>(5 + i);
          const SequenceId id = e.submit(std::move(request));
          loop.watch(id, [&, i](const EngineEvent& event) {
            if (event.kind == EngineEvent::Kind::Token) got[i].push_back(event.token);
            if (event.kind == EngineEvent::Kind::Finished) done[i].set_value();
          });
        });
      });
    for (auto& client : clients) client.join();
    for (auto& d : done) d.get_future().wait();
    EXPECT_GE(loop.snapshot().steps, 1);
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(engine.cache().pool().blocks_in_use(), 0);
}

TEST(EngineLoop, ACancelPostedMidGenerationEndsTheRequestAndFreesItsBlocks) {
  SLKV_REQUIRE_SHARED();
  testing::StoriesFixture f;
  Engine engine(*f.model, *f.backend, EngineConfig{});
  std::promise<FinishReason> finished;
  int tokens = 0;
  {
    EngineLoop loop(engine);
    SequenceId id = -1;
    std::promise<void> started;
    loop.post([&](Engine& e) {
      EngineRequest request;
      request.prompt = f.prompt(30);
      request.max_new_tokens = 400;
      id = e.submit(std::move(request));
      loop.watch(id, [&](const EngineEvent& event) {
        if (event.kind == EngineEvent::Kind::Token && ++tokens == 3) started.set_value();
        if (event.kind == EngineEvent::Kind::Finished) finished.set_value(event.reason);
      });
    });
    started.get_future().wait();
    loop.post([&](Engine& e) { e.cancel(id); });
    EXPECT_EQ(finished.get_future().get(), FinishReason::Cancelled);
    loop.post([](Engine&) {});  // one more round so the removal is applied
  }
  EXPECT_LT(tokens, 400);
  engine.step();
  EXPECT_EQ(engine.cache().pool().blocks_in_use(), 0);
}

}  // namespace
}  // namespace slkv
