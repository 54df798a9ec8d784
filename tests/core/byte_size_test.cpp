// parse_byte_size: the --offload-capacity syntax.
#include "core/byte_size.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace slkv {
namespace {

TEST(ByteSize, ParsesPlainCountsAndBinarySuffixes) {
  EXPECT_EQ(parse_byte_size("1048576", "--x"), 1048576);
  EXPECT_EQ(parse_byte_size("3K", "--x"), 3072);
  EXPECT_EQ(parse_byte_size("512MiB", "--x"), int64_t{512} << 20);
  EXPECT_EQ(parse_byte_size("2G", "--x"), int64_t{2} << 30);
  EXPECT_EQ(parse_byte_size("8GiB", "--x"), int64_t{8} << 30);
}

TEST(ByteSize, RefusesWhatIsNotAByteCountNamingTheFlag) {
  for (const char* bad : {"", "MiB", "1.5G", "-3", "12 MiB", "4TB", "99999999999999G"}) {
    try {
      parse_byte_size(bad, "--offload-capacity");
      FAIL() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("--offload-capacity"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
TEST(ByteSize, FormatsWholeUnitsAndParsesBack) {
  EXPECT_EQ(format_byte_size(0), "0 B");
  EXPECT_EQ(format_byte_size(1000), "1000 B");
  EXPECT_EQ(format_byte_size(2048), "2 KiB");
  EXPECT_EQ(format_byte_size(int64_t{256} << 20), "256 MiB");
  EXPECT_EQ(format_byte_size(int64_t{3} << 30), "3 GiB");
  EXPECT_EQ(format_byte_size(int64_t{4096} << 30), "4096 GiB");
  for (int64_t bytes : {int64_t{1} << 10, int64_t{1536} << 10, int64_t{7} << 30}) {
    std::string text = format_byte_size(bytes);
    text.erase(text.find(' '), 1);
    EXPECT_EQ(parse_byte_size(text, "--x"), bytes) << text;
  }
}

}  // namespace slkv
