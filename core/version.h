#pragma once
// The slkv release version, printed by `slkv --version`. Bump it with each
// release (CMakeLists.txt declares no project version).
#include <string_view>

namespace slkv {

inline constexpr std::string_view kVersion = "0.2.0";

}  // namespace slkv
