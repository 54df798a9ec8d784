#include "runtime/checkpoint/safetensors_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace slkv {

namespace {

using Json = nlohmann::json;

// Owns one read-only private mapping of a whole file.
struct Mapping {
  void* address = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (address != MAP_FAILED) munmap(address, size);
  }
};

std::shared_ptr<const Mapping> map_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open " + path.string() + ": " + std::strerror(errno));
  struct stat info {};
  if (fstat(fd, &info) != 0) {
    int saved = errno;
    ::close(fd);
    throw Error("cannot stat " + path.string() + ": " + std::strerror(saved));
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = size_t(info.st_size);
  if (mapping->size < 8) {
    ::close(fd);
    throw Error(path.string() + " is truncated: " + std::to_string(mapping->size) +
                " bytes, shorter than the 8-byte header length");
  }
  mapping->address = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
  int saved = errno;
  ::close(fd);  // the mapping stays valid without the descriptor
  if (mapping->address == MAP_FAILED) {
    throw Error("cannot mmap " + path.string() + ": " + std::strerror(saved));
  }
  return mapping;
}

std::optional<DType> parse_dtype(const std::string& name) {
  if (name == "F32") return DType::F32;
  if (name == "F16") return DType::F16;
  if (name == "BF16") return DType::BF16;
  return std::nullopt;
}

uint64_t read_u64_le(const std::byte* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | uint64_t(bytes[i]);
  return value;
}

struct Entry {
  TensorView view;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Parses and checks one header entry against the data section of `data_size` bytes.
Entry parse_entry(const std::string& file, const std::string& name, const Json& info, uint64_t data_size) {
  const std::string where = file + ": tensor \"" + name + "\"";
  if (!info.is_object()) throw Error(where + ": header entry is not an object");

  auto dtype_it = info.find("dtype");
  if (dtype_it == info.end() || !dtype_it->is_string()) throw Error(where + ": missing or non-string \"dtype\"");
  std::string dtype_text = dtype_it->get<std::string>();
  std::optional<DType> dtype = parse_dtype(dtype_text);
  if (!dtype) throw Error(where + ": unsupported dtype " + dtype_text + " (slkv reads F32, F16 and BF16)");

  Entry entry;
  entry.view.name = name;
  entry.view.file = file;
  entry.view.dtype = *dtype;

  auto shape_it = info.find("shape");
  if (shape_it == info.end() || !shape_it->is_array()) throw Error(where + ": missing or non-list \"shape\"");
  uint64_t numel = 1;
  for (const Json& dim : *shape_it) {
    if (!dim.is_number_integer() || dim.get<int64_t>() < 0) {
      throw Error(where + ": bad dimension " + dim.dump() + " in shape " + shape_it->dump());
    }
    int64_t size = dim.get<int64_t>();
    entry.view.shape.push_back(size);
    if (__builtin_mul_overflow(numel, uint64_t(size), &numel)) throw Error(where + ": shape is too large");
  }

  auto offsets_it = info.find("data_offsets");
  if (offsets_it == info.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
    throw Error(where + ": \"data_offsets\" must be two non-negative integers");
  }
  entry.begin = (*offsets_it)[0].get<uint64_t>();
  entry.end = (*offsets_it)[1].get<uint64_t>();
  if (entry.begin > entry.end) {
    throw Error(where + ": data_offsets begin " + std::to_string(entry.begin) + " is after end " +
                std::to_string(entry.end));
  }
  if (entry.end > data_size) {
    throw Error(where + ": data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                "] are out of range of the " + std::to_string(data_size) + "-byte data section");
  }
  uint64_t expected_bytes = 0;
  if (__builtin_mul_overflow(numel, uint64_t(dtype_size(*dtype)), &expected_bytes) ||
      expected_bytes != entry.end - entry.begin) {
    throw Error(where + ": data_offsets span " + std::to_string(entry.end - entry.begin) + " bytes, but " +
                dtype_text + " shape " + shape_it->dump() + " needs " + std::to_string(numel) + " x " +
                std::to_string(dtype_size(*dtype)) + " bytes");
  }
  entry.view.nbytes = size_t(expected_bytes);
  return entry;
}

}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::shared_ptr<const Mapping> mapping = map_file(path);
  const auto* bytes = static_cast<const std::byte*>(mapping->address);

  const uint64_t header_size = read_u64_le(bytes);
  if (header_size > mapping->size - 8) {
    throw Error(file + ": header length " + std::to_string(header_size) + " goes beyond the end of the " +
                std::to_string(mapping->size) + "-byte file");
  }
  Json header;
  try {
    header = Json::parse(reinterpret_cast<const char*>(bytes + 8), reinterpret_cast<const char*>(bytes + 8 + header_size));
  } catch (const Json::exception& e) {
    throw Error(file + ": bad JSON header: " + e.what());
  }
  if (!header.is_object()) throw Error(file + ": bad JSON header: not an object");

  const std::byte* data = bytes + 8 + header_size;
  const uint64_t data_size = mapping->size - 8 - header_size;

  auto result = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  result->path_ = path;
  result->mapping_ = mapping;

  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) throw Error(file + ": \"__metadata__\" is not an object");
      for (const auto& [key, value] : info.items()) {
        if (!value.is_string()) throw Error(file + ": \"__metadata__\" value of \"" + key + "\" is not a string");
        result->metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(file, name, info, data_size));
  }

  // Tensors must not share bytes: a corrupt or hand-edited header could alias them.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const Entry* previous = nullptr;
  for (const Entry& entry : entries) {
    if (entry.begin == entry.end) continue;  // empty tensors occupy no bytes
    if (previous && entry.begin < previous->end) {
      throw Error(file + ": tensors \"" + previous->view.name + "\" and \"" + entry.view.name +
                  "\" have overlapping data_offsets");
    }
    previous = &entry;
  }

  for (Entry& entry : entries) {
    entry.view.data = data + entry.begin;
    entry.view.keep_alive = mapping;
    result->index_[entry.view.name] = result->tensors_.size();
    result->tensors_.push_back(std::move(entry.view));
  }
  return result;
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace slkv
