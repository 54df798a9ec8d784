// SafetensorsFile reading and validation, SafetensorsWriter output.
#include "runtime/checkpoint/safetensors_file.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tests/test_support.h"
#include "runtime/checkpoint/safetensors_writer.h"

namespace slkv {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

class Safetensors : public ::testing::Test {
 protected:

  // A valid two-tensor file: "a" F32 [2, 2] then "b" F32 [4].
  fs::path write_valid(const std::string& name = "valid.safetensors") {
    std::vector<float> a = {1, 2, 3, 4}, b = {5, 6, 7, 8};
    fs::path path = dir_ / name;
    write_safetensors(path, {make_safetensors_tensor("a", DType::F32, {2, 2}, a),
                             make_safetensors_tensor("b", DType::F32, {4}, b)});
    return path;
  }

  // Writes length + header text + data bytes, for headers the writer would never produce.
  fs::path write_raw(const std::string& header, size_t data_bytes, const std::string& name = "raw.safetensors") {
    fs::path path = dir_ / name;
    std::ofstream out(path, std::ios::binary);
    uint64_t length = header.size();
    for (int i = 0; i < 8; ++i) out.put(char((length >> (8 * i)) & 0xff));
    out << header << std::string(data_bytes, '\0');
    return path;
  }

  // Expects open() to throw an Error whose message holds every one of `parts`.
  void expect_open_error(const fs::path& path, const std::vector<std::string>& parts) {
    try {
      SafetensorsFile::open(path);
      ADD_FAILURE() << "opened corrupt file " << path;
    } catch (const Error& e) {
      std::string message = e.what();
      EXPECT_NE(message.find(path.string()), std::string::npos) << message;
      for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
    }
  }

  testing::ScratchDir scratch_{"slkv_safetensors"};
  const fs::path& dir_ = scratch_.path();
};

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST_F(Safetensors, RoundTripsEveryDtype) {
  std::vector<float> values = {0.5f, -1.25f, 3.0f, 1e-3f, -7.5f, 100.0f};
  fs::path path = dir_ / "round_trip.safetensors";
  write_safetensors(path,
                    {make_safetensors_tensor("f32", DType::F32, {2, 3}, values),
                     make_safetensors_tensor("f16", DType::F16, {3, 2}, values),
                     make_safetensors_tensor("bf16", DType::BF16, {6}, values),
                     make_safetensors_tensor("empty", DType::F32, {0, 4}, {})},
                    {{"format", "pt"}, {"note", "test"}});

  // The header is padded so the data section starts 8-byte aligned.
  std::string bytes = read_bytes(path);
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | uint8_t(bytes[size_t(i)]);
  EXPECT_EQ(header_length % 8, 0u);

  auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->tensors().size(), 4u);
  EXPECT_EQ(file->metadata().at("note"), "test");
  EXPECT_EQ(file->find("missing"), nullptr);

  const TensorView* f32 = file->find("f32");
  ASSERT_NE(f32, nullptr);
  EXPECT_EQ(f32->dtype, DType::F32);
  EXPECT_EQ(f32->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f32->nbytes, 24u);
  EXPECT_EQ(f32->file, path.string());
  EXPECT_EQ(f32->to_floats(), values);

  const TensorView* f16 = file->find("f16");
  ASSERT_NE(f16, nullptr);
  EXPECT_EQ(f16->dtype, DType::F16);
  EXPECT_EQ(f16->nbytes, 12u);
  std::vector<float> f16_values = f16->to_floats();
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(f16_values[i], f16_to_float(float_to_f16(values[i])));

  const TensorView* bf16 = file->find("bf16");
  ASSERT_NE(bf16, nullptr);
  EXPECT_EQ(bf16->dtype, DType::BF16);
  std::vector<float> bf16_values = bf16->to_floats();
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(bf16_values[i], bf16_to_float(float_to_bf16(values[i])));

  EXPECT_EQ(file->find("empty")->numel(), 0);
}

TEST_F(Safetensors, ViewsKeepTheMappingAlive) {
  TensorView view;
  {
    auto file = SafetensorsFile::open(write_valid());
    view = *file->find("b");
  }  // the file object is gone; the view's keep_alive still holds the mapping
  EXPECT_EQ(view.to_floats(), (std::vector<float>{5, 6, 7, 8}));
}

TEST_F(Safetensors, StreamingWriterChecksSizes) {
  fs::path path = dir_ / "stream.safetensors";
  std::vector<float> values = {1, 2, 3, 4};
  std::vector<std::byte> bytes = encode_floats(values, DType::F32);
  {
    SafetensorsWriter writer(path, {{"x", DType::F32, {2}}, {"y", DType::F32, {2}}});
    // Data may arrive in pieces that do not follow tensor boundaries.
    writer.write(std::span(bytes).subspan(0, 3));
    writer.write(std::span(bytes).subspan(3));
    writer.finish();
  }
  auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->find("y")->to_floats(), (std::vector<float>{3, 4}));

  SafetensorsWriter short_writer(dir_ / "short.safetensors", {{"x", DType::F32, {2}}});
  short_writer.write(std::span(bytes).subspan(0, 4));
  EXPECT_THROW(short_writer.finish(), InternalError);
  SafetensorsWriter long_writer(dir_ / "long.safetensors", {{"x", DType::F32, {2}}});
  EXPECT_THROW(long_writer.write(bytes), InternalError);
}

TEST_F(Safetensors, TruncatedFile) {
  fs::path path = write_valid();
  write_bytes(path, read_bytes(path).substr(0, 5));
  expect_open_error(path, {"truncated"});
}

TEST_F(Safetensors, HeaderLengthBeyondFile) {
  fs::path path = write_valid();
  std::string bytes = read_bytes(path);
  bytes[5] = char(1);  // header length now about 2^40
  write_bytes(path, bytes);
  expect_open_error(path, {"header length", "beyond"});
}

TEST_F(Safetensors, BadJsonHeader) {
  expect_open_error(write_raw("{\"a\": {\"dtype\": \"F32\",", 0), {"bad JSON header"});
  expect_open_error(write_raw("[1, 2, 3]", 0, "array.safetensors"), {"bad JSON header"});
}

TEST_F(Safetensors, OffsetsOutOfRange) {
  Json header = {{"w", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {8, 24}}}}};
  expect_open_error(write_raw(header.dump(), 16), {"\"w\"", "out of range"});
}

TEST_F(Safetensors, OverlappingOffsets) {
  Json header = {{"first", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {0, 16}}}},
                 {"second", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {8, 24}}}}};
  expect_open_error(write_raw(header.dump(), 24), {"\"first\"", "\"second\"", "overlapping"});
}

TEST_F(Safetensors, BeginAfterEnd) {
  Json header = {{"w", {{"dtype", "F32"}, {"shape", {0}}, {"data_offsets", {16, 0}}}}};
  expect_open_error(write_raw(header.dump(), 16), {"\"w\"", "after end"});
}

TEST_F(Safetensors, ByteSizeNotMatchingShape) {
  Json header = {{"w", {{"dtype", "F32"}, {"shape", {2, 2}}, {"data_offsets", {0, 8}}}}};
  expect_open_error(write_raw(header.dump(), 16), {"\"w\"", "needs 4 x 4 bytes"});
  // A BF16 tensor declared with F32-sized data.
  header = {{"h", {{"dtype", "BF16"}, {"shape", {4}}, {"data_offsets", {0, 16}}}}};
  expect_open_error(write_raw(header.dump(), 16, "bf16.safetensors"), {"\"h\"", "needs 4 x 2 bytes"});
}

TEST_F(Safetensors, UnknownDtype) {
  // Patch the writer's "F32" of tensor "a" into "I32" (same length, offsets unchanged).
  fs::path path = write_valid();
  std::string bytes = read_bytes(path);
  size_t at = bytes.find("\"F32\"");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] = 'I';
  write_bytes(path, bytes);
  expect_open_error(path, {"I32", "\"a\""});

  Json header = {{"d", {{"dtype", "F64"}, {"shape", {2}}, {"data_offsets", {0, 16}}}}};
  expect_open_error(write_raw(header.dump(), 16, "f64.safetensors"), {"F64", "\"d\""});
  header = {{"q", {{"dtype", "I8"}, {"shape", {16}}, {"data_offsets", {0, 16}}}}};
  expect_open_error(write_raw(header.dump(), 16, "i8.safetensors"), {"I8", "\"q\""});
}

TEST_F(Safetensors, MalformedEntries) {
  Json header = {{"w", {{"dtype", "F32"}, {"shape", {-1}}, {"data_offsets", {0, 4}}}}};
  expect_open_error(write_raw(header.dump(), 16), {"\"w\"", "shape"});
  header = {{"w", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0}}}}};
  expect_open_error(write_raw(header.dump(), 16, "offsets.safetensors"), {"\"w\"", "data_offsets"});
  header = {{"__metadata__", {{"format", 1}}}};
  expect_open_error(write_raw(header.dump(), 0, "metadata.safetensors"), {"__metadata__"});
}

TEST_F(Safetensors, MissingFile) { EXPECT_THROW(SafetensorsFile::open(dir_ / "absent.safetensors"), Error); }

}  // namespace
}  // namespace slkv
