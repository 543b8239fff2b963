# TOADSTOOL_PLOTS=AUTO|ON|OFF: the charts of train/plot/ (PlotCallback,
# tools/plot_csv) are drawn with cairo, found through pkg-config, when it is
# there (AUTO) or required (ON). Without it the library still builds and
# drawing a chart is an Error saying the build has no cairo (docs/plots.md).
set(TOADSTOOL_PLOTS_ENABLED OFF)
if(NOT TOADSTOOL_PLOTS STREQUAL "OFF")
  find_package(PkgConfig)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(CAIRO IMPORTED_TARGET cairo)
  endif()
  if(CAIRO_FOUND)
    set(TOADSTOOL_PLOTS_ENABLED ON)
    message(STATUS "Toadstool: plots with cairo ${CAIRO_VERSION}")
  elseif(TOADSTOOL_PLOTS STREQUAL "ON")
    message(FATAL_ERROR "TOADSTOOL_PLOTS=ON but cairo was not found through pkg-config "
                        "(Debian: apt-get install libcairo2-dev pkg-config)")
  else()
    message(STATUS "Toadstool: no cairo found; built without plots")
  endif()
endif()

# Only train/plot/chart_cairo.cpp includes <cairo.h>; it is compiled into
# the library with cairo, and train/plot/chart_unavailable.cpp without.
function(toadstool_add_plots library)
  if(TOADSTOOL_PLOTS_ENABLED)
    target_sources(${library} PRIVATE ${PROJECT_SOURCE_DIR}/toadstool/train/plot/chart_cairo.cpp)
    target_link_libraries(${library} PRIVATE PkgConfig::CAIRO)
  else()
    target_sources(${library} PRIVATE
                   ${PROJECT_SOURCE_DIR}/toadstool/train/plot/chart_unavailable.cpp)
  endif()
endfunction()
