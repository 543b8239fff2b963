// Bad input across the public API and its files (issue 19): every row of
// docs/bad_input.md is one test here, by name. Each row runs one bad call
// and expects a toadstool::Error whose message holds the op's name and the
// shapes or values involved (the project's error contract,
// ARCHITECTURE.md, "Errors"). Anything else (a crash, another exception, no
// exception, a message without them) fails the row.
//
// TOADSTOOL_BAD_INPUT_TABLE=<file> appends each row's markdown line, with
// the message the library gave, to <file>: how docs/bad_input.md's table is
// made (scripts or hand edits shorten the long messages).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "bad_input_rows.h"
#include "temp_dir.h"
#include "test_util.h"

namespace toadstool::testing {
namespace {

class BadInput : public ::testing::TestWithParam<BadInputRow> {};

// The message, on one line, without '|' (a markdown table cell), cut to
// `limit` characters with "...".
std::string table_cell(std::string message, size_t limit = 200) {
  for (char& c : message) {
    if (c == '\n') c = ' ';
    if (c == '|') c = '/';
  }
  if (message.size() > limit) message = message.substr(0, limit - 3) + "...";
  return message;
}

TEST_P(BadInput, GivesAClearError) {
  const BadInputRow& row = GetParam();
  std::string message;
  try {
    row.run();
    FAIL() << row.name << ": no Error";
  } catch (const Error& e) {
    message = e.what();
  }
  for (const std::string& fragment : row.fragments) {
    EXPECT_NE(message.find(fragment), std::string::npos)
        << "'" << fragment << "' not in: " << message;
  }
  if (const char* table = std::getenv("TOADSTOOL_BAD_INPUT_TABLE")) {
    std::ofstream(table, std::ios::app) << "| " << row.area << " | " << row.input << " | `"
                                        << table_cell(message) << "` | `" << row.name << "` |\n";
  }
}

std::string row_name(const ::testing::TestParamInfo<BadInputRow>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Rows, BadInput, ::testing::ValuesIn(bad_input_rows()), row_name);

// The table in docs/ lists every row, and nothing else.
TEST(BadInputTable, DocsListEveryRowByName) {
  const std::string doc = std::string(TOADSTOOL_GOLDEN_DIR) + "/../../../docs/bad_input.md";
  std::ifstream in(doc);
  ASSERT_TRUE(in.good()) << doc;
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  size_t rows = 0;
  for (const BadInputRow& row : bad_input_rows()) {
    EXPECT_NE(text.find("`" + row.name + "`"), std::string::npos) << row.name << " not in " << doc;
    ++rows;
  }
  EXPECT_GE(rows, 60U);
}

}  // namespace
}  // namespace toadstool::testing
