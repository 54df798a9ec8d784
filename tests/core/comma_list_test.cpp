// Comma-separated flag values: splitting and parsing whole items.
#include "core/comma_list.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace slkv {
namespace {

TEST(CommaList, SplitsKeepingEmptyItems) {
  using Items = std::vector<std::string>;
  EXPECT_EQ(split_comma_list(""), Items{});
  EXPECT_EQ(split_comma_list("a"), Items{"a"});
  EXPECT_EQ(split_comma_list("1,8,32"), (Items{"1", "8", "32"}));
  EXPECT_EQ(split_comma_list("a,,b"), (Items{"a", "", "b"}));
  EXPECT_EQ(split_comma_list("a,"), (Items{"a", ""}));
  EXPECT_EQ(split_comma_list(",a"), (Items{"", "a"}));
  EXPECT_EQ(split_comma_list(" a , b"), (Items{" a ", " b"}));
}

TEST(CommaList, ParsesIntegers) {
  EXPECT_EQ(parse_int_list("1,8,32", "--batch"), (std::vector<int64_t>{1, 8, 32}));
  EXPECT_EQ(parse_int_list("-3,0", "--batch"), (std::vector<int64_t>{-3, 0}));
  EXPECT_EQ(parse_int_list("9000000000", "--batch"), (std::vector<int64_t>{9000000000}));
  EXPECT_TRUE(parse_int_list("", "--batch").empty());
}

TEST(CommaList, ParsesNumbers) {
  EXPECT_EQ(parse_number_list("0.5,0.9,1", "--thresholds"), (std::vector<double>{0.5, 0.9, 1.0}));
  EXPECT_EQ(parse_number_list("1e-3", "--thresholds"), (std::vector<double>{1e-3}));
}

TEST(CommaList, RefusesBadItemsNamingTheFlagAndItem) {
  struct Case {
    std::string text;
    std::string item;
  };
  for (const Case& c : std::vector<Case>{{"1,x,3", "x"}, {"1,,3", ""}, {"1,2,", ""}, {"1.5", "1.5"},
                                         {" 1", " 1"}, {"1 ", "1 "}, {"99999999999999999999", "99999999999999999999"}}) {
    try {
      parse_int_list(c.text, "--batch");
      ADD_FAILURE() << "accepted '" << c.text << "'";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("--batch"), std::string::npos) << message;
      EXPECT_NE(message.find("'" + c.text + "'"), std::string::npos) << message;
      EXPECT_NE(message.find("('" + c.item + "' is not one)"), std::string::npos) << message;
    }
  }
  EXPECT_THROW(parse_number_list("0.5,abc", "--thresholds"), Error);
  EXPECT_THROW(parse_number_list("0.5x", "--thresholds"), Error);
}

}  // namespace
}  // namespace slkv
