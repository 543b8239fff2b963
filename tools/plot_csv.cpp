// plot_csv: draws the charts of a run from the CSV files its callbacks
// wrote (train/plot/run_charts.h), for a run that had no PlotCallback or a
// log copied from another machine.
//
//   plot_csv runs/mnist/log.csv                 # loss, score, lr .png/.svg beside it
//   plot_csv runs/lr_find.csv --out charts/     # lr_finder.png/.svg in charts/
//
// The kind of file is told from its header (CSVLogger's, or
// LRFinderCallback's "lr,loss,smoothed_loss"). Exit status 1 with a message
// on a bad file or a build without cairo, 2 on bad arguments.
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>

#include "toadstool/toadstool.h"
#include "toadstool/train/plot/csv_logs.h"

namespace {

using namespace toadstool::train;

int run(const cxxopts::ParseResult& args) {
  const std::string csv = args["csv"].as<std::string>();
  std::string out = args.count("out") ? args["out"].as<std::string>()
                                      : std::filesystem::path(csv).parent_path().string();
  if (out.empty()) out = ".";
  std::filesystem::create_directories(out);
  std::vector<std::string> written;
  if (plot::csv_log_kind(csv) == "epochs") {
    written = plot::write_epoch_charts(plot::read_epoch_log(csv), out);
  } else {
    const auto curve = plot::read_lr_finder_log(csv);
    const auto suggestion = steepest_descent_index(curve, args["skip-start"].as<int64_t>(),
                                                   args["skip-end"].as<int64_t>());
    written = {out + "/lr_finder"};
    plot::write_lr_finder_chart(curve, suggestion, written.front());
    if (suggestion) std::cout << "suggested lr " << curve[*suggestion].lr << "\n";
  }
  for (const auto& stem : written) std::cout << stem << ".png " << stem << ".svg\n";
  return 0;
}

cxxopts::Options make_options() {
  cxxopts::Options options("plot_csv", "Charts (PNG and SVG) from a Toadstool CSV log");
  const LRFinderOptions finder;
  auto add = options.add_options();
  add("csv", "a CSVLogger log or an LR finder curve", cxxopts::value<std::string>());
  add("out", "folder for the charts (default: the CSV's folder)", cxxopts::value<std::string>());
  add("skip-start", "LR finder: points left out at the start when looking for the suggestion",
      cxxopts::value<int64_t>()->default_value(std::to_string(finder.skip_start)));
  add("skip-end", "LR finder: points left out at the end",
      cxxopts::value<int64_t>()->default_value(std::to_string(finder.skip_end)));
  add("h,help", "this help");
  options.parse_positional({"csv"});
  options.positional_help("LOG.csv");
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    cxxopts::Options options = make_options();
    cxxopts::ParseResult args;
    try {
      args = options.parse(argc, argv);
    } catch (const cxxopts::exceptions::exception& error) {
      std::cerr << "plot_csv: " << error.what() << "\n" << options.help() << "\n";
      return 2;
    }
    if (args.count("help") || !args.count("csv")) {
      std::cout << options.help() << "\n";
      return args.count("help") ? 0 : 2;
    }
    return run(args);
  } catch (const std::exception& error) {
    std::cerr << "plot_csv: " << error.what() << "\n";
    return 1;
  } catch (...) {
    return 1;
  }
}
