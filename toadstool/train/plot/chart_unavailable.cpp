// The chart back-end of a build without cairo (TOADSTOOL_PLOTS=OFF, or AUTO
// where pkg-config found no cairo): cmake/toadstool_plots.cmake.
#include "toadstool/tensor/error.h"
#include "toadstool/train/plot/chart.h"

namespace toadstool::train::plot {

bool plots_available() { return false; }

void write_chart(const Chart& /*chart*/, const std::string& stem) {
  TS_CHECK(false, "write_chart(", stem,
           "): Toadstool was built without cairo, so it cannot draw charts (install "
           "libcairo2-dev and pkg-config, and configure with TOADSTOOL_PLOTS=AUTO or ON)");
}

}  // namespace toadstool::train::plot
