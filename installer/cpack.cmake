# SPDX-License-Identifier: Apache-2.0
# CPack settings. The version comes from cmake/Version.cmake through project(); nothing here repeats it.
set(CPACK_PACKAGE_NAME dfproxy)
set(CPACK_PACKAGE_VENDOR "dfproxy")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "desktop dynamic forward proxy with a REST admin API")
# Debian wants description lines under 80 columns.
set(CPACK_PACKAGE_DESCRIPTION "dfproxy forwards each request to the host it names (Host header,
absolute URI or CONNECT authority), resolving it by DNS at request time
through its own cache. Routes are Kubernetes Gateway API resources
(Gateway, HTTPRoute) and agentgateway backends, managed through a REST
admin API, the dfproxyctl command-line tool or the dfproxy-console
desktop application.")
set(CPACK_PACKAGE_CONTACT "dfproxy maintainers <maintainers@dfproxy.dev>")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://github.com/dfproxy/dfproxy")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_RESOURCE_FILE_README ${PROJECT_SOURCE_DIR}/README.md)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_CHECKSUM SHA256)
set(CPACK_PACKAGE_INSTALL_DIRECTORY dfproxy)

if(APPLE)
    set(CPACK_GENERATOR DragNDrop)
    set(CPACK_DMG_VOLUME_NAME "dfproxy ${PROJECT_VERSION}")
    set(CPACK_DMG_FORMAT UDZO)
    set(CPACK_BUNDLE_NAME "dfproxy console")
elseif(WIN32)
    # The MSI is built from installer/wix/dfproxy.wxs by installer/wix/build-msi.cmake (the service needs
    # ServiceInstall/ServiceControl); CPack makes the portable ZIP.
    set(CPACK_GENERATOR ZIP)
else()
    set(CPACK_GENERATOR DEB)
    set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
    if(NOT DEFINED CPACK_DEBIAN_PACKAGE_RELEASE)
        set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
    endif()
    set(CPACK_DEBIAN_PACKAGE_SECTION net)
    set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
    # The Qt, OpenSSL and yaml-cpp libraries come from dpkg-shlibdeps; the maintainer scripts need
    # adduser (and init-system-helpers, which is essential).
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
    set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
    set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
    set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
        ${CMAKE_CURRENT_SOURCE_DIR}/deb/conffiles
        ${CMAKE_CURRENT_SOURCE_DIR}/deb/postinst
        ${CMAKE_CURRENT_SOURCE_DIR}/deb/prerm
        ${CMAKE_CURRENT_SOURCE_DIR}/deb/postrm)
endif()

include(CPack)
