# Holds the browser SDK to its budget: sdk/mesura.js, gzipped at level 9 as
# a server or CDN would send it, must weigh at most BUDGET bytes (10 KiB).
# Prints the figure either way. Run by ctest (sdk/size):
#   cmake -DSDK_JS=sdk/mesura.js -DOUT_DIR=build -P scripts/sdk-size.cmake
cmake_minimum_required(VERSION 3.25)
set(BUDGET 10240)
set(gz ${OUT_DIR}/mesura.js.gz)
file(ARCHIVE_CREATE OUTPUT ${gz} PATHS ${SDK_JS} FORMAT raw COMPRESSION GZip COMPRESSION_LEVEL 9)
file(SIZE ${SDK_JS} raw)
file(SIZE ${gz} packed)
if(packed GREATER BUDGET)
  message(FATAL_ERROR "sdk/mesura.js: ${packed} bytes gzipped (${raw} raw), over its budget of ${BUDGET}")
endif()
message("sdk/mesura.js: ${packed} bytes gzipped (${raw} raw), budget ${BUDGET}")
