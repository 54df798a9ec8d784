#include "parallel/fault_injection.h"

#include <cstdlib>
#include <sstream>
#include <vector>

#include "core/error.h"

namespace slkv {

void maybe_inject_failure(const std::string& phase, int rank, int64_t step) {
  const char* spec = std::getenv("SLKV_FAIL_AT");
  if (!spec || !*spec) return;
  std::vector<std::string> parts;
  std::stringstream in(spec);
  std::string part;
  while (std::getline(in, part, ':')) parts.push_back(part);
  if (parts.size() < 2 || parts[0] != phase) return;
  try {
    if (std::stoi(parts[1]) != rank) return;
    if (phase == "decode" && (parts.size() < 3 || std::stoll(parts[2]) != step)) return;
  } catch (const std::exception&) {
    throw Error(std::string("SLKV_FAIL_AT=") + spec + " is not load:RANK or decode:RANK:STEP");
  }
  throw Error("injected failure (SLKV_FAIL_AT=" + std::string(spec) + ") at " + phase +
              (phase == "decode" ? " step " + std::to_string(step) : ""));
}

}  // namespace slkv
