// read_text_file / read_text_stream: whole contents, bytes unchanged, clear errors.
#include "core/text_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "tests/test_support.h"

namespace slkv {
namespace {

TEST(TextFile, ReadsWholeFileBytesUnchanged) {
  testing::ScratchDir dir("slkv_text_file");
  const char bytes[] = "line one\r\nline two\n\0binary\xff tail";
  const std::string content = std::string(bytes, sizeof bytes - 1) + std::string(200000, 'x');  // > one read buffer
  std::ofstream(dir.path() / "a.txt", std::ios::binary) << content;
  EXPECT_EQ(read_text_file(dir.path() / "a.txt"), content);
  std::ofstream(dir.path() / "empty.txt", std::ios::binary);
  EXPECT_EQ(read_text_file(dir.path() / "empty.txt"), "");
}

TEST(TextFile, MissingFileOrDirectoryNamesThePath) {
  testing::ScratchDir dir("slkv_text_file");
  for (const std::filesystem::path& path : {dir.path() / "missing.txt", dir.path()}) {
    try {
      read_text_file(path);
      ADD_FAILURE() << "read " << path;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
  }
  try {
    read_text_file(dir.path() / "missing.txt");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
}

TEST(TextFile, ReadsTheRestOfAStream) {
  std::istringstream in("first\nsecond\n");
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(read_text_stream(in, "test"), "second\n");
  EXPECT_EQ(read_text_stream(in, "test"), "");
}

}  // namespace
}  // namespace slkv
