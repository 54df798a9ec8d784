#pragma once
// Writes .safetensors files (tests, the test-model maker). The header holds
// every tensor's offsets, so tensors are declared up front and their data is
// then streamed in declaration order, one piece at a time.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace slkv {

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;

  size_t nbytes() const;
};

// A whole tensor in memory, for small files.
struct SafetensorsTensor {
  SafetensorsEntry entry;
  std::vector<std::byte> data;
};

class SafetensorsWriter {
 public:
  // Creates `path` and writes the header (padded with spaces to 8 bytes, as
  // the Hugging Face writer does). Data offsets follow declaration order.
  SafetensorsWriter(const std::filesystem::path& path, std::vector<SafetensorsEntry> entries,
                    const std::map<std::string, std::string>& metadata = {{"format", "pt"}});
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  // Appends the next bytes of tensor data (may split or span tensors).
  void write(std::span<const std::byte> bytes);
  // Checks that exactly the declared bytes were written, then closes.
  void finish();

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  uint64_t data_size_ = 0;  // all declared tensors
  uint64_t written_ = 0;
};

// Writes a whole file at once; each data size must match its entry.
void write_safetensors(const std::filesystem::path& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// fp32 values encoded as `dtype` (bf16 rounds to nearest even).
std::vector<std::byte> encode_floats(std::span<const float> values, DType dtype);

// Convenience for tests: a tensor of `dtype` from fp32 values.
SafetensorsTensor make_safetensors_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape,
                                          std::span<const float> values);

}  // namespace slkv
