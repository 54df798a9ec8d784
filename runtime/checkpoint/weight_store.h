#pragma once
// WeightStore: the tensors of a Hugging Face checkpoint, read through mmap
// from model.safetensors or the shards named by model.safetensors.index.json.
// Every structural problem (truncated file, bad header, overlapping offsets,
// unknown dtype, missing tensor, wrong shape) throws slkv::Error naming the
// file and the tensor.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace slkv {

// A read-only view of one tensor inside a mapped file (row-major).
struct TensorView {
  std::string name;
  std::string file;  // the safetensors file it lives in, for messages
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;
  size_t nbytes = 0;
  // Keeps the mapped file alive for as long as any copy of this view exists.
  std::shared_ptr<const void> keep_alive;

  int64_t numel() const;
  // The elements widened to fp32 (for tests, checks and small tensors).
  std::vector<float> to_floats() const;
};

// Rows [begin, end) of a 2-D tensor (or elements of a 1-D one): a view into
// the same mapping, no copy (column-parallel weights, vocabulary shards).
TensorView row_slice(const TensorView& tensor, int64_t begin, int64_t end);
// Columns [begin, end) of every row of a 2-D tensor, copied into `storage`
// (row-parallel weights); the view points into storage.
TensorView column_slice(const TensorView& tensor, int64_t begin, int64_t end, std::vector<std::byte>& storage);

// Drops this process's resident pages of a tensor that lives in a file
// mapping (a WeightStore view) once a copy has been taken, so that a rank's
// resident memory is its share of the weights; later reads fault the pages
// back in from the file. Never call it on a view of heap memory.
void release_mapped_pages(const TensorView& tensor);

class SafetensorsFile;  // one mapped file (runtime/safetensors_file.h)
struct ModelConfig;     // runtime/model_config.h

class WeightStore {
 public:
  // Opens dir/model.safetensors, or every shard listed in
  // dir/model.safetensors.index.json. Throws slkv::Error if neither exists.
  static WeightStore open(const std::filesystem::path& model_dir);

  bool contains(const std::string& name) const;
  // Throws slkv::Error "missing tensor NAME in DIR" when absent.
  const TensorView& get(const std::string& name) const;
  // As get(), and also checks the shape: "tensor NAME in FILE has shape [a, b],
  // config.json implies [c, d]".
  const TensorView& get(const std::string& name, const std::vector<int64_t>& expected_shape) const;

  // Checks that every tensor config.json implies (runtime/tensor_names.h) is
  // present with that shape; extra tensors are allowed.
  void validate(const ModelConfig& config) const;

  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  std::map<DType, size_t> bytes_by_dtype() const;
  const std::filesystem::path& directory() const { return directory_; }

 private:
  std::filesystem::path directory_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, TensorView> tensors_;
};

}  // namespace slkv
