#include "runtime/checkpoint/safetensors_writer.h"

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace slkv {

size_t SafetensorsEntry::nbytes() const {
  size_t count = 1;
  for (int64_t dim : shape) count *= size_t(dim);
  return count * dtype_size(dtype);
}

SafetensorsWriter::SafetensorsWriter(const std::filesystem::path& path, std::vector<SafetensorsEntry> entries,
                                     const std::map<std::string, std::string>& metadata)
    : path_(path) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  for (const SafetensorsEntry& entry : entries) {
    if (header.contains(entry.name)) throw InternalError("duplicate tensor " + entry.name + " for " + path.string());
    uint64_t begin = data_size_;
    data_size_ += entry.nbytes();
    header[entry.name] = {{"dtype", std::string(dtype_name(entry.dtype))},
                          {"shape", entry.shape},
                          {"data_offsets", {begin, data_size_}}};
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned

  file_ = std::fopen(path.c_str(), "wb");
  if (!file_) throw Error("cannot create " + path.string() + ": " + std::strerror(errno));
  std::byte length[8];
  for (int i = 0; i < 8; ++i) length[i] = std::byte((uint64_t(text.size()) >> (8 * i)) & 0xff);
  std::fwrite(length, 1, 8, file_);
  std::fwrite(text.data(), 1, text.size(), file_);
}

SafetensorsWriter::~SafetensorsWriter() {
  if (file_) std::fclose(file_);  // abandoned without finish(): leave the partial file
}

void SafetensorsWriter::write(std::span<const std::byte> bytes) {
  if (!file_) throw InternalError("write after finish on " + path_.string());
  if (written_ + bytes.size() > data_size_) {
    throw InternalError("more data than declared for " + path_.string());
  }
  if (bytes.empty()) return;  // an empty tensor's span may hold no pointer, which fwrite must not get
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    throw Error("cannot write " + path_.string() + ": " + std::strerror(errno));
  }
  written_ += bytes.size();
}

void SafetensorsWriter::finish() {
  if (!file_) throw InternalError("finish called twice on " + path_.string());
  if (written_ != data_size_) {
    throw InternalError(path_.string() + ": wrote " + std::to_string(written_) + " data bytes, declared " +
                        std::to_string(data_size_));
  }
  bool failed = std::fflush(file_) != 0;
  failed = std::fclose(file_) != 0 || failed;
  file_ = nullptr;
  if (failed) throw Error("cannot write " + path_.string() + ": " + std::strerror(errno));
}

void write_safetensors(const std::filesystem::path& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<SafetensorsEntry> entries;
  for (const SafetensorsTensor& tensor : tensors) {
    if (tensor.data.size() != tensor.entry.nbytes()) {
      throw InternalError("tensor " + tensor.entry.name + " has " + std::to_string(tensor.data.size()) +
                          " bytes, its shape needs " + std::to_string(tensor.entry.nbytes()));
    }
    entries.push_back(tensor.entry);
  }
  SafetensorsWriter writer(path, std::move(entries), metadata);
  for (const SafetensorsTensor& tensor : tensors) writer.write(tensor.data);
  writer.finish();
}

std::vector<std::byte> encode_floats(std::span<const float> values, DType dtype) {
  std::vector<std::byte> bytes(values.size() * dtype_size(dtype));
  if (dtype == DType::F32) {
    if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
  }
  for (size_t i = 0; i < values.size(); ++i) {
    uint16_t bits = dtype == DType::BF16 ? float_to_bf16(values[i]) : float_to_f16(values[i]);
    std::memcpy(bytes.data() + 2 * i, &bits, sizeof bits);
  }
  return bytes;
}

SafetensorsTensor make_safetensors_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape,
                                          std::span<const float> values) {
  SafetensorsTensor tensor{{name, dtype, std::move(shape)}, encode_floats(values, dtype)};
  if (tensor.data.size() != tensor.entry.nbytes()) {
    throw InternalError("tensor " + name + ": " + std::to_string(values.size()) + " values do not fill its shape");
  }
  return tensor;
}

}  // namespace slkv
