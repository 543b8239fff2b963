#include "toadstool/train/plot/csv_logs.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "toadstool/tensor/error.h"
#include "toadstool/train/callbacks/csv_logger.h"

namespace toadstool::train::plot {
namespace {

constexpr const char* kLRFinderHeader = "lr,loss,smoothed_loss";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TS_CHECK(in.good(), "reading ", path, ": cannot open it");
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// The rows under `header`, each with as many numbers as it has columns.
std::vector<std::vector<double>> read_rows(const std::string& path, const std::string& header) {
  const std::string text = read_all(path);
  TS_CHECK(first_line(text) == header, "reading ", path, ": line 1 is \"", first_line(text),
           "\", expected the header \"", header, "\"");
  const size_t columns = static_cast<size_t>(std::count(header.begin(), header.end(), ',')) + 1;
  std::vector<std::vector<double>> rows;
  size_t start = text.find('\n'), line_number = 1;
  while (start != std::string::npos && start + 1 < text.size()) {
    ++start;
    ++line_number;
    const size_t end = text.find('\n', start);
    if (end == std::string::npos) break;  // torn last line
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<double> row;
    size_t field_start = 0;
    while (true) {
      const size_t comma = line.find(',', field_start);
      const std::string field = line.substr(field_start, comma - field_start);
      double value = NAN;
      if (!field.empty()) {
        char* parsed_end = nullptr;
        value = std::strtod(field.c_str(), &parsed_end);
        TS_CHECK(*parsed_end == '\0' && parsed_end != field.c_str(), "reading ", path, ": line ",
                 line_number, " field ", row.size() + 1, " is \"", field, "\", not a number");
      }
      row.push_back(value);
      if (comma == std::string::npos) break;
      field_start = comma + 1;
    }
    TS_CHECK(row.size() == columns, "reading ", path, ": line ", line_number, " has ", row.size(),
             " fields, the header ", columns);
    rows.push_back(std::move(row));
    start = end;
  }
  return rows;
}

}  // namespace

std::string csv_log_kind(const std::string& path) {
  const std::string line = first_line(read_all(path));
  if (line == CSVLogger::header()) return "epochs";
  if (line == kLRFinderHeader) return "lr_finder";
  TS_CHECK(false, "reading ", path, ": line 1 is \"", line, "\", neither a CSVLogger log (\"",
           CSVLogger::header(), "\") nor an LR finder curve (\"", kLRFinderHeader, "\")");
  return "";
}

std::vector<EpochRecord> read_epoch_log(const std::string& path) {
  std::vector<EpochRecord> records;
  size_t line_number = 1;
  for (const auto& row : read_rows(path, CSVLogger::header())) {
    ++line_number;
    // Bounded before the cast: converting 1e300 to int64 is undefined.
    TS_CHECK(row[0] >= 0 && row[0] < 1e15 && row[0] == std::floor(row[0]), "reading ", path,
             ": line ", line_number, " has no epoch number (\"", row[0], "\")");
    // epoch,step,train_loss,valid_loss,score,lr,time_s
    records.push_back({static_cast<int64_t>(row[0]), row[2], row[3], row[4], row[5]});
  }
  return records;
}

std::vector<LRFinderPoint> read_lr_finder_log(const std::string& path) {
  std::vector<LRFinderPoint> curve;
  size_t line_number = 1;
  for (const auto& row : read_rows(path, kLRFinderHeader)) {
    ++line_number;
    TS_CHECK(row[0] > 0 && std::isfinite(row[0]), "reading ", path, ": line ", line_number,
             " has lr ", row[0], " (must be a positive number)");
    curve.push_back({row[0], row[1], row[2]});
  }
  return curve;
}

}  // namespace toadstool::train::plot
