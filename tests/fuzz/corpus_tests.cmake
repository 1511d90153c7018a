# Corpus-replay unit tests of the fuzz targets, for the ordinary (gcc) build: each links a
# target's .cc (whose LLVMFuzzerTestOneInput holds the invariants) with the code under test
# and feeds it every file of tests/fuzz/corpus/<name>/ once (the test is in fuzz_check.h,
# enabled by AE_FUZZ_CORPUS_DIR). A saved crash-* input fails `ctest -L unit` until fixed.
# Included from tests/CMakeLists.txt:  include(fuzz/corpus_tests.cmake)

# ae_fuzz_corpus_test(<name> DEPS lib...): <name>_corpus_test from fuzz/<name>_fuzz.cc.
function(ae_fuzz_corpus_test name)
  cmake_parse_arguments(A "" "" "DEPS" ${ARGN})
  set(test ${name}_corpus_test)
  add_executable(${test} ${CMAKE_CURRENT_LIST_DIR}/${name}_fuzz.cc)
  target_compile_options(${test} PRIVATE ${AE_WARNINGS})
  target_compile_definitions(${test} PRIVATE
    AE_FUZZ_CORPUS_DIR="${CMAKE_CURRENT_LIST_DIR}/corpus/${name}")
  target_link_libraries(${test} PRIVATE ${A_DEPS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${test} TEST_PREFIX "${name}." PROPERTIES LABELS unit)
endfunction()

# api/http_errors.cc (fuzz_check.h's CheckRefusal), api/request_body.cc and
# api/dep_profile.cc, without the rest of ae_api.
add_library(ae_fuzz_http_errors STATIC ${PROJECT_SOURCE_DIR}/api/http_errors.cc
                                       ${PROJECT_SOURCE_DIR}/api/request_body.cc
                                       ${PROJECT_SOURCE_DIR}/api/dep_profile.cc)
target_include_directories(ae_fuzz_http_errors PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_options(ae_fuzz_http_errors PRIVATE ${AE_WARNINGS})
target_link_libraries(ae_fuzz_http_errors PUBLIC ae_domain ae_events
                                                 nlohmann_json::nlohmann_json)

ae_fuzz_corpus_test(knox_csv DEPS ae_knox_csv ae_fuzz_http_errors)
ae_fuzz_corpus_test(dep_token DEPS ae_adapters ae_fuzz_http_errors)
ae_fuzz_corpus_test(machine_info DEPS ae_apple_mdm ae_fuzz_http_errors)
ae_fuzz_corpus_test(checkin DEPS ae_apple_mdm ae_fuzz_http_errors)
ae_fuzz_corpus_test(json_body DEPS ae_adapters ae_fuzz_http_errors)
