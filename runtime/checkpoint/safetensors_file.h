#pragma once
// SafetensorsFile: one .safetensors file mapped read-only (mmap) and fully
// validated on open: 8-byte little-endian header length, JSON header
// {name: {dtype, shape, data_offsets}}, optional "__metadata__", then data.
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/checkpoint/weight_store.h"

namespace slkv {

class SafetensorsFile {
 public:
  // Maps `path` and checks the header (length, JSON, dtypes F32/F16/BF16,
  // offsets inside the data section, no overlaps, sizes matching shapes).
  // Any problem throws slkv::Error naming the file and the tensor.
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  // In data order; every view keeps the mapping alive.
  const std::vector<TensorView>& tensors() const { return tensors_; }
  // nullptr when the file has no tensor of that name.
  const TensorView* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;

  std::filesystem::path path_;
  std::shared_ptr<const void> mapping_;  // unmapped when the last view goes away
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

}  // namespace slkv
