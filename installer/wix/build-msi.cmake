# SPDX-License-Identifier: Apache-2.0
# Builds the dfproxy MSI from installer/wix/dfproxy.wxs.
#
#   cmake -DSTAGE_DIR=<cmake --install prefix> -DOUTPUT=<dfproxy.msi> [-DTOOL=wix3|wixl] [-DPLACEHOLDERS=ON]
#         -P installer/wix/build-msi.cmake
#
# STAGE_DIR is what `cmake --install <build> --prefix <STAGE_DIR>` produced on Windows: bin/ with dfproxy.exe,
# dfproxyctl.exe, dfproxy-console.exe and the Qt runtime windeployqt added, plugins/, doc/.
# TOOL wix3 (default on Windows): WiX 3 heat/candle/light; the Qt runtime is harvested into a component group.
# TOOL wixl (default elsewhere): msitools' wixl, used by the Linux test to check the installer definition;
# PLACEHOLDERS=ON writes stand-in files for the binaries (wixl cannot use real Windows builds here).
cmake_minimum_required(VERSION 3.25)
get_filename_component(_src "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
include(${_src}/cmake/Version.cmake)
if(NOT STAGE_DIR OR NOT OUTPUT)
    message(FATAL_ERROR "usage: cmake -DSTAGE_DIR=<dir> -DOUTPUT=<file.msi> [-DTOOL=wix3|wixl] -P build-msi.cmake")
endif()
if(NOT TOOL)
    if(CMAKE_HOST_WIN32)
        set(TOOL wix3)
    else()
        set(TOOL wixl)
    endif()
endif()
get_filename_component(STAGE_DIR "${STAGE_DIR}" ABSOLUTE)
get_filename_component(OUTPUT "${OUTPUT}" ABSOLUTE)

set(_app dfproxy.exe dfproxyctl.exe dfproxy-console.exe)
if(PLACEHOLDERS)
    foreach(_f IN LISTS _app)
        file(WRITE ${STAGE_DIR}/bin/${_f} "placeholder for ${_f}\n")
    endforeach()
    file(MAKE_DIRECTORY ${STAGE_DIR}/doc)
endif()
# The docs: README and the license as LICENSE.txt (Windows opens .txt).
file(COPY_FILE ${_src}/README.md ${STAGE_DIR}/doc/README.md)
file(COPY_FILE ${_src}/LICENSE ${STAGE_DIR}/doc/LICENSE.txt)
foreach(_f IN LISTS _app)
    if(NOT EXISTS ${STAGE_DIR}/bin/${_f})
        message(FATAL_ERROR "${STAGE_DIR}/bin/${_f} is missing: run cmake --install first")
    endif()
endforeach()

# Sources are relative to the working directory (wixl only accepts relative paths).
set(_work ${STAGE_DIR}/msi)
file(REMOVE_RECURSE ${_work})
file(MAKE_DIRECTORY ${_work})
file(COPY_FILE ${CMAKE_CURRENT_LIST_DIR}/dfproxy.wxs ${_work}/dfproxy.wxs)
set(_defs Version=${DFPROXY_VERSION} BinDir=../bin DocDir=../doc)

function(_run)
    execute_process(COMMAND ${ARGN} WORKING_DIRECTORY ${_work} RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "failed (${_rc}): ${ARGN}")
    endif()
endfunction()

if(TOOL STREQUAL "wixl")
    find_program(WIXL wixl REQUIRED)
    set(_d "")
    foreach(_def IN LISTS _defs)
        list(APPEND _d -D ${_def})
    endforeach()
    _run(${WIXL} -a x64 ${_d} -D QtRuntime=0 -o ${OUTPUT} dfproxy.wxs)
else()
    # WiX 3: harvest everything windeployqt put in the stage except our own files (they have fixed components).
    find_program(HEAT heat REQUIRED HINTS "$ENV{WIX}/bin")
    find_program(CANDLE candle REQUIRED HINTS "$ENV{WIX}/bin")
    find_program(LIGHT light REQUIRED HINTS "$ENV{WIX}/bin")
    set(_qt ${_work}/qt)
    file(COPY ${STAGE_DIR}/ DESTINATION ${_qt} PATTERN msi EXCLUDE PATTERN doc EXCLUDE
         PATTERN dfproxy.exe EXCLUDE PATTERN dfproxyctl.exe EXCLUDE PATTERN dfproxy-console.exe EXCLUDE)
    file(REMOVE_RECURSE ${_qt}/msi ${_qt}/doc)
    _run(${HEAT} dir qt -nologo -cg QtRuntime -dr INSTALLFOLDER -srd -gg -sfrag -sreg -var var.QtDir
         -out qtruntime.wxs)
    set(_d "")
    foreach(_def IN LISTS _defs)
        list(APPEND _d -d${_def})
    endforeach()
    _run(${CANDLE} -nologo -arch x64 ${_d} -dQtRuntime=1 -dQtDir=qt dfproxy.wxs qtruntime.wxs)
    _run(${LIGHT} -nologo -out ${OUTPUT} dfproxy.wixobj qtruntime.wixobj)
endif()
message(STATUS "dfproxy MSI: ${OUTPUT}")
