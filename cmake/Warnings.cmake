# SPDX-License-Identifier: Apache-2.0
add_library(dfproxy_warnings INTERFACE)
if(MSVC)
    target_compile_options(dfproxy_warnings INTERFACE /W4 /permissive-)
else()
    target_compile_options(dfproxy_warnings INTERFACE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
endif()
if(DFPROXY_WARNINGS_AS_ERRORS)
    set(CMAKE_COMPILE_WARNING_AS_ERROR ON)
endif()

# Sanitizer builds (used by the asan preset): -DDFPROXY_SANITIZE=address;undefined
set(DFPROXY_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address;undefined or thread")
# Fuzz builds (preset `fuzz`, clang only): every library gets libFuzzer's coverage instrumentation, and the
# fuzz_<target> binaries of tests/fuzz link libFuzzer itself. ASan+UBSan always come with it.
option(DFPROXY_FUZZ "Build the libFuzzer targets of tests/fuzz (clang)" OFF)
if(DFPROXY_FUZZ)
    if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
        message(FATAL_ERROR "DFPROXY_FUZZ needs clang (libFuzzer): use the `fuzz` preset")
    endif()
    add_compile_options(-fsanitize=fuzzer-no-link)
    if(NOT DFPROXY_SANITIZE)
        set(DFPROXY_SANITIZE "address;undefined")
    endif()
endif()
if(DFPROXY_SANITIZE)
    list(JOIN DFPROXY_SANITIZE "," _san)
    # A sanitizer report fails the test that caused it: no recovering past undefined behaviour.
    add_compile_options(-fsanitize=${_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    add_link_options(-fsanitize=${_san})
endif()
