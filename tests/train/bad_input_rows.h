#pragma once
// The rows of the bad-input table (docs/bad_input.md, test_bad_input.cpp):
// one bad call each, and the fragments its Error message must hold (the
// op's name and the shapes or values involved).
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace toadstool::testing {

struct BadInputRow {
  std::string name;   // the test's name (BadInput.GivesAClearError/<name>)
  std::string area;   // the table's first column
  std::string input;  // the bad input, in words
  std::function<void()> run;
  std::vector<std::string> fragments;
};

// gtest prints a row by its name (not its bytes).
inline void PrintTo(const BadInputRow& row, std::ostream* out) { *out << row.name; }

// By area; test_bad_input_*.cpp.
std::vector<BadInputRow> tensor_bad_input_rows();  // tensor ops, autograd
std::vector<BadInputRow>
nn_bad_input_rows();  // modules, losses, state dicts, optimizers, schedules
std::vector<BadInputRow> training_bad_input_rows();  // data, trainer, files, text

inline std::vector<BadInputRow> bad_input_rows() {
  std::vector<BadInputRow> rows;
  for (auto part : {tensor_bad_input_rows, nn_bad_input_rows, training_bad_input_rows}) {
    for (BadInputRow& row : part()) rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace toadstool::testing
