#pragma once
// Test hook: SLKV_FAIL_AT forces a rank to fail so tests can check that the
// whole job goes down promptly. Forms: "load:RANK" (while loading weights),
// "decode:RANK:STEP" (before decode step STEP). Throws slkv::Error.
#include <cstdint>
#include <string>

namespace slkv {

void maybe_inject_failure(const std::string& phase, int rank, int64_t step = 0);

}  // namespace slkv
