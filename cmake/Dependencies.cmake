# Third-party dependencies. All come from Debian packages (see packaging/setup.sh);
# LibTorch may instead come from -DCMAKE_PREFIX_PATH=<libtorch>/share/cmake.
find_package(Torch REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(SQLiteCpp REQUIRED)
find_package(ZLIB REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs videoio)
if(CS_BUILD_GUI OR CS_BUILD_TESTS)
  find_package(Qt6 REQUIRED COMPONENTS Core Gui Widgets Concurrent Test PrintSupport Svg)
  find_package(QCustomPlotQt6 QUIET)
  if(NOT QCustomPlotQt6_FOUND)
    find_library(QCUSTOMPLOT_LIB NAMES qcustomplot-qt6 QCustomPlotQt6 REQUIRED)
    add_library(QCustomPlotQt6::QCustomPlotQt6 UNKNOWN IMPORTED)
    set_target_properties(QCustomPlotQt6::QCustomPlotQt6 PROPERTIES IMPORTED_LOCATION ${QCUSTOMPLOT_LIB})
  endif()
endif()

# Common warning set for our own targets.
add_library(cs_warnings INTERFACE)
target_compile_options(cs_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter)
