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
if(DFPROXY_SANITIZE)
    list(JOIN DFPROXY_SANITIZE "," _san)
    add_compile_options(-fsanitize=${_san} -fno-omit-frame-pointer)
    add_link_options(-fsanitize=${_san})
endif()
