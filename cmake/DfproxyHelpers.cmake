# SPDX-License-Identifier: Apache-2.0

# dfproxy_add_area(NAME <area> [DEPS <targets>...])
# One static library per folder of service/ (dfproxy_<area>), so an area builds and tests on its own.
function(dfproxy_add_area)
    cmake_parse_arguments(A "" "NAME" "DEPS" ${ARGN})
    file(GLOB _src CONFIGURE_DEPENDS
        ${CMAKE_CURRENT_SOURCE_DIR}/${A_NAME}/*.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/${A_NAME}/*.h)
    set(_tgt dfproxy_${A_NAME})
    add_library(${_tgt} STATIC ${_src})
    target_include_directories(${_tgt} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
    target_link_libraries(${_tgt} PUBLIC ${A_DEPS} PRIVATE dfproxy_warnings)
    target_compile_definitions(${_tgt} PUBLIC QT_NO_KEYWORDS DFPROXY_VERSION="${PROJECT_VERSION}")
endfunction()

# dfproxy_add_test(NAME <name> SOURCES <files>... [LIBS <targets>...] [LABELS unit|integration|gui] [TIMEOUT s]
#                  [LAUNCHER <script>])
# Every test binary gets the same Qt-aware main (tests/testmain.cpp), the same environment, and ctest labels.
# LAUNCHER runs the binary (and the discovery of its tests) through a script, e.g. tests/netns-run.
function(dfproxy_add_test)
    cmake_parse_arguments(T "" "NAME;TIMEOUT;LAUNCHER" "SOURCES;LIBS;LABELS" ${ARGN})
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 120)
    endif()
    add_executable(${T_NAME} ${T_SOURCES} ${PROJECT_SOURCE_DIR}/tests/testmain.cpp)
    target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} dfproxy_testsupport GTest::gtest GTest::gmock dfproxy_warnings)
    if(T_LAUNCHER)
        # gtest_discover_tests runs the discovery and every test through the target's emulator.
        set_target_properties(${T_NAME} PROPERTIES CROSSCOMPILING_EMULATOR ${T_LAUNCHER})
    endif()
    # gtest_discover_tests passes each list element as its own argument, so ENVIRONMENT can carry one variable
    # only; the build and source dirs reach the tests as compile definitions of dfproxy_testsupport instead.
    gtest_discover_tests(${T_NAME}
        PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT} ENVIRONMENT "QT_QPA_PLATFORM=offscreen"
        DISCOVERY_TIMEOUT 60)
endfunction()
