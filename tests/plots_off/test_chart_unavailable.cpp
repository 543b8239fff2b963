// The chart back-end of a build without cairo (TOADSTOOL_PLOTS=OFF, or AUTO
// without cairo), compiled and run in every build: this program links
// train/plot/chart_unavailable.cpp alone, not the library (whose own
// back-end, cairo's where it was found, defines the same functions).
#include <gtest/gtest.h>

#include <string>

#include "toadstool/tensor/error.h"
#include "toadstool/train/plot/chart.h"

namespace toadstool::testing {
namespace {

TEST(ChartWithoutCairo, SaysItCannotDraw) {
  EXPECT_FALSE(train::plot::plots_available());
  try {
    train::plot::write_chart(train::plot::Chart{}, "out/loss");
    FAIL() << "write_chart drew without cairo";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("write_chart(out/loss)"), std::string::npos) << what;
    EXPECT_NE(what.find("built without cairo"), std::string::npos) << what;
    EXPECT_NE(what.find("TOADSTOOL_PLOTS=AUTO or ON"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace toadstool::testing
