#include "kernels/cuda/cuda_check.h"

#include <string>

#include "core/error.h"

namespace slkv {

void cuda_fail(const char* call, const char* why, const char* file, int line) {
  throw InternalError(std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: " + why);
}

}  // namespace slkv
