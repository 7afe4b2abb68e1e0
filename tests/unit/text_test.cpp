// Text from outside on its way to a terminal or the journal, and the
// metrics server's address parsing (pure functions).
#include "vaultwall/common/text.h"

#include <gtest/gtest.h>

#include "vaultwall/apply/metrics_server.h"
#include "vaultwall/common/output.h"

namespace vaultwall {
namespace {

TEST(Printable, EscapesControlCharactersAsJsonDoes) {
  EXPECT_EQ(printable("8.8.8.8\x1b[2K"), "8.8.8.8\\u001b[2K");
  EXPECT_EQ(printable("a\nb\tc\rd"), "a\\nb\\tc\\rd");
  EXPECT_EQ(printable(std::string_view("\0\x07\x7f", 3)), "\\u0000\\u0007\\u007f");
}

TextTable rules_table() {
  TextTable table({{"ID", Align::kLeft, 4}, {"KIND"}, {"RULE"}});
  table.add_row({"1", "ip", "203.0.113.0/24"});
  table.add_row({"12", "vnet", "a\tb"});
  return table;
}

TEST(TextTable, AlignsColumnsUnderHeaders) {
  EXPECT_EQ(rules_table().render({}),
            "ID   KIND RULE\n"
            "1    ip   203.0.113.0/24\n"
            "12   vnet a\\tb\n");
}

TEST(TextTable, NoHeadersDropsTheHeaderLineOnly) {
  EXPECT_EQ(rules_table().render({.headers = false}),
            "1    ip   203.0.113.0/24\n"
            "12   vnet a\\tb\n");
}

// -o tsv: no padding, one tab between cells; a tab inside a cell is escaped
// so every row keeps its column count.
TEST(TextTable, TabSeparatedRowsKeepTheirColumns) {
  EXPECT_EQ(rules_table().render({.tab_separated = true}),
            "ID\tKIND\tRULE\n1\tip\t203.0.113.0/24\n12\tvnet\ta\\tb\n");
  EXPECT_EQ(rules_table().render({.headers = false, .tab_separated = true}),
            "1\tip\t203.0.113.0/24\n12\tvnet\ta\\tb\n");
}

TEST(ErrorJson, IsNullOrMessageCodeAndHint) {
  EXPECT_TRUE(error_json(nullptr).is_null());
  Error refused{0, "doc.json: invalid", {}};
  EXPECT_EQ(error_json(&refused).dump(),
            R"({"message":"doc.json: invalid","code":null,"hint":null})");
  Error missing{ENOENT, "open x", "run load first"};
  EXPECT_EQ(error_json(&missing).dump(),
            R"({"message":"open x: No such file or directory; run load first","code":2,"hint":"run load first"})");
}

TEST(Printable, EscapesC1ControlsAndInvalidUtf8) {
  EXPECT_EQ(printable("x\xc2\x9b"
                      "31m"),
            "x\\u009b31m");                                 // U+009B: CSI in 8 bits
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(printable("cut\xe2\x82"), "cut\\xe2\\x82");
}

TEST(Printable, KeepsPrintableTextAsIs) {
  const std::string text = "networkAcls.ipRules[0].value: \"10.0.0.0/8\" \\ é ✓ 🔥";
  EXPECT_EQ(printable(text), text);
}

TEST(Truncated, CutsLongTextAtACharacterBoundaryAndSaysHowMuch) {
  EXPECT_EQ(truncated("short", 10), "short");
  EXPECT_EQ(truncated(std::string(100, 'x'), 10), std::string(10, 'x') + " ... (90 more bytes)");
  EXPECT_EQ(truncated("aé", 2), "a ... (2 more bytes)");  // never half of é
}

TEST(ListenAddress, DefaultsToLoopbackAndChecksThePort) {
  EXPECT_EQ(*split_listen_address(":9465"),
            (std::pair<std::string, std::string>{"127.0.0.1", "9465"}));
  EXPECT_EQ(*split_listen_address("0.0.0.0:9465"),
            (std::pair<std::string, std::string>{"0.0.0.0", "9465"}));
  EXPECT_EQ(*split_listen_address("[::1]:80"), (std::pair<std::string, std::string>{"::1", "80"}));
  for (const char* bad : {"9465", "host:", ":0", ":65536", ":12a", ":99999999999999999999"})
    EXPECT_FALSE(split_listen_address(bad)) << bad;
}

}  // namespace
}  // namespace vaultwall
