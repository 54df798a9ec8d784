#pragma once
// The real stories260K model, its tokenizer and a CPU backend, plus a story
// it wrote itself: what the integration and engine tests run on.
#include <memory>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "runtime/model.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tests/test_support.h"

namespace slkv::testing {

// A real story of about 170 tokens (stories260K's own greedy text).
inline const char* const kStory =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw "
    "a big, red ball. She wanted to play with it, but it was too high. Lily's mom said, \"Lily, let's go to the "
    "park.\" Lily was sad and didn't know what to do. She said, \"I want to play with your ball, but I can't find "
    "it.\" Lily was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to do.\"";

struct StoriesFixture {
  std::unique_ptr<Model> model = Model::load(stories_dir());
  Tokenizer tokenizer = Tokenizer::load(stories_dir());
  std::unique_ptr<Backend> backend = make_cpu_backend(2);

  // The first n ids of the story (repeated as needed), BOS first.
  std::vector<int32_t> prompt(size_t n) const {
    std::vector<int32_t> ids = tokenizer.encode(kStory, true);
    const std::vector<int32_t> more = tokenizer.encode(kStory, false);
    while (ids.size() < n) ids.insert(ids.end(), more.begin(), more.end());
    ids.resize(n);
    return ids;
  }
};

}  // namespace slkv::testing
