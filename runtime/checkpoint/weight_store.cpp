#include "runtime/checkpoint/weight_store.h"

#include <cstring>
#include <sys/mman.h>
#include <unistd.h>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "runtime/checkpoint/model_config.h"
#include "runtime/checkpoint/safetensors_file.h"
#include "runtime/checkpoint/tensor_names.h"

namespace slkv {

namespace {

using Json = nlohmann::json;

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// name -> shard file, from model.safetensors.index.json.
std::map<std::string, std::string> read_weight_map(const std::filesystem::path& index_path) {
  const std::string source = index_path.string();
  std::ifstream in(index_path, std::ios::binary);
  if (!in) throw Error("cannot read " + source);
  std::ostringstream text;
  text << in.rdbuf();
  Json index;
  try {
    index = Json::parse(text.str());
  } catch (const Json::exception& e) {
    throw Error(source + ": bad JSON: " + e.what());
  }
  auto weight_map = index.is_object() ? index.find("weight_map") : index.end();
  if (weight_map == index.end() || !weight_map->is_object()) {
    throw Error(source + ": missing \"weight_map\" object");
  }
  std::map<std::string, std::string> result;
  for (const auto& [name, file] : weight_map->items()) {
    if (!file.is_string()) throw Error(source + ": weight_map entry \"" + name + "\" is not a file name");
    result[name] = file.get<std::string>();
  }
  return result;
}

}  // namespace

int64_t TensorView::numel() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

std::vector<float> TensorView::to_floats() const {
  const size_t count = size_t(numel());
  std::vector<float> values(count);
  if (dtype == DType::F32) {
    std::memcpy(values.data(), data, count * sizeof(float));
    return values;
  }
  for (size_t i = 0; i < count; ++i) {
    uint16_t bits;
    std::memcpy(&bits, data + 2 * i, sizeof bits);  // memcpy: the data need not be aligned
    values[i] = dtype == DType::BF16 ? bf16_to_float(bits) : f16_to_float(bits);
  }
  return values;
}

TensorView row_slice(const TensorView& tensor, int64_t begin, int64_t end) {
  SLKV_CHECK(!tensor.shape.empty() && begin >= 0 && begin <= end && end <= tensor.shape[0],
             "rows [" << begin << ", " << end << ") of " << tensor.name << " " << shape_text(tensor.shape));
  const int64_t row_elements = tensor.numel() / tensor.shape[0];
  const size_t row_bytes = static_cast<size_t>(row_elements) * dtype_size(tensor.dtype);
  TensorView view = tensor;
  view.shape[0] = end - begin;
  view.data = tensor.data + begin * row_bytes;
  view.nbytes = (end - begin) * row_bytes;
  return view;
}

TensorView column_slice(const TensorView& tensor, int64_t begin, int64_t end, std::vector<std::byte>& storage) {
  SLKV_CHECK(tensor.shape.size() == 2 && begin >= 0 && begin <= end && end <= tensor.shape[1],
             "columns [" << begin << ", " << end << ") of " << tensor.name << " " << shape_text(tensor.shape));
  const size_t element = dtype_size(tensor.dtype);
  const size_t row_in = tensor.shape[1] * element, row_out = (end - begin) * element;
  storage.resize(tensor.shape[0] * row_out);
  for (int64_t r = 0; r < tensor.shape[0]; ++r)
    std::memcpy(storage.data() + r * row_out, tensor.data + r * row_in + begin * element, row_out);
  TensorView view = tensor;
  view.shape[1] = end - begin;
  view.data = storage.data();
  view.nbytes = storage.size();
  view.keep_alive = nullptr;  // the caller owns storage
  return view;
}

void release_mapped_pages(const TensorView& tensor) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(tensor.data) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(tensor.data) + tensor.nbytes) / page * page;
  // Only whole pages inside the tensor: neighbours' pages stay resident.
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

WeightStore WeightStore::open(const std::filesystem::path& model_dir) {
  if (!std::filesystem::is_directory(model_dir)) {
    throw Error("model directory " + model_dir.string() + " does not exist");
  }
  WeightStore store;
  store.directory_ = model_dir;
  const std::filesystem::path single = model_dir / "model.safetensors";
  const std::filesystem::path index = model_dir / "model.safetensors.index.json";

  if (std::filesystem::exists(single)) {
    auto file = SafetensorsFile::open(single);
    for (const TensorView& view : file->tensors()) store.tensors_[view.name] = view;
    store.files_.push_back(std::move(file));
    return store;
  }
  if (!std::filesystem::exists(index)) {
    throw Error("no model.safetensors or model.safetensors.index.json in " + model_dir.string());
  }

  std::map<std::string, std::string> weight_map = read_weight_map(index);
  std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
  for (const auto& [name, shard_name] : weight_map) {
    auto shard = shards.find(shard_name);
    if (shard == shards.end()) {
      const std::filesystem::path shard_path = model_dir / shard_name;
      if (!std::filesystem::exists(shard_path)) {
        throw Error("shard " + shard_path.string() + " named by " + index.string() + " is missing");
      }
      shard = shards.emplace(shard_name, SafetensorsFile::open(shard_path)).first;
      store.files_.push_back(shard->second);
    }
    const TensorView* view = shard->second->find(name);
    if (!view) {
      throw Error("tensor " + name + " listed in " + index.string() + " is missing from shard " +
                  shard->second->path().string());
    }
    store.tensors_[name] = *view;
  }
  return store;
}

bool WeightStore::contains(const std::string& name) const { return tensors_.count(name) != 0; }

const TensorView& WeightStore::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error("missing tensor " + name + " in " + directory_.string());
  return it->second;
}

const TensorView& WeightStore::get(const std::string& name, const std::vector<int64_t>& expected_shape) const {
  const TensorView& view = get(name);
  if (view.shape != expected_shape) {
    throw Error("tensor " + name + " in " + view.file + " has shape " + shape_text(view.shape) +
                ", config.json implies " + shape_text(expected_shape));
  }
  return view;
}

void WeightStore::validate(const ModelConfig& config) const {
  for (const ExpectedTensor& tensor : expected_tensors(config)) get(tensor.name, tensor.shape);
}

std::map<DType, size_t> WeightStore::bytes_by_dtype() const {
  std::map<DType, size_t> totals;
  for (const auto& [name, view] : tensors_) totals[view.dtype] += view.nbytes;
  return totals;
}

}  // namespace slkv
