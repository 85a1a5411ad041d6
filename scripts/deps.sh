#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The one list of Debian packages dfproxy needs, shared by scripts/run and scripts/test.
# Source it, then call `ensure_packages build` or `ensure_packages test`.
# Installs only what is missing (checked with dpkg-query), running `apt-get update` at most once.

# qt6-declarative-dev: Qt Qml's QJSEngine runs corporate PAC files (upstream proxy selection); libkrb5-dev: GSSAPI for
# Negotiate (Kerberos) to an upstream proxy. libnghttp2-dev: HTTP/2 (service/http2/).
# libqt6opengl6-dev: Qt6Charts' CMake package needs Qt6OpenGL, and qt6-charts-dev does not depend on it (a machine
# without it fails at `find_package(Qt6 COMPONENTS Charts)`).
DFPROXY_BUILD_PACKAGES=(
    build-essential cmake ninja-build pkg-config ccache
    qt6-base-dev qt6-httpserver-dev qt6-websockets-dev qt6-charts-dev libqt6opengl6-dev
    libyaml-cpp-dev libssl-dev libgtest-dev libgmock-dev
    libgl-dev libnghttp2-dev
    qt6-declarative-dev libkrb5-dev
)

# What the integration and GUI tests run besides the build: dnsmasq as a DNS fixture, curl as the client,
# openssl to mint test certificates, Xvfb for GUI tests; the installer tests: dpkg-dev (dpkg-shlibdeps for
# CPack), fakeroot and lintian for the DEB, wixl and msitools to compile and read the MSI definition;
# slowhttptest for the slow-client tests; clang and its sanitizer/libFuzzer runtimes for scripts/sanitize and
# scripts/fuzz (presets fuzz and tsan); node-llhttp for llhttp's C sources, which the HttpParser differential test
# builds in strict mode (test-only; dfproxy does not link it); the mingw-w64 cross compiler for scripts/check-cross;
# iproute2 for tests/netns-run (`ip link set lo up` in the tests' own network namespace); python3 for the docs
# runner (tests/docs/run_docs.py), jq and xxd because the docs' examples use them; python3-pacparser, an
# independent PAC engine that evaluates dfproxy's PAC file; a private GNOME settings session for the system-proxy
# tests (dbus-daemon, dconf, the org.gnome.system.proxy schema, gsettings) and Debian's chromium, the real browser
# of the `browser` tests; squid (with its auth helpers) and tinyproxy as the
# upstream (corporate) proxies of the upstream-proxy tests, krb5-kdc, krb5-admin-server (kdb5_util, kadmin.local) and
# krb5-user (kinit) for the throwaway Kerberos realm of the Negotiate test, gss-ntlmssp (GSSAPI's NTLM mechanism) for
# the NTLM test against Squid; nghttp2-client (nghttp, h2load) as HTTP/2 clients besides curl; python3-h2 as the
# HTTP/2 origin (tests/fixtures/h2origin/) and RFC 8441 peers, python3-grpcio as the gRPC server and client
# (tests/fixtures/grpc/) of the upstream HTTP/2 tests.
DFPROXY_TEST_PACKAGES=(
    dnsmasq-base curl openssl ca-certificates xvfb xauth
    dpkg-dev fakeroot lintian wixl msitools
    slowhttptest clang libclang-rt-14-dev node-llhttp
    g++-mingw-w64-x86-64-posix iproute2 nghttp2-client
    python3 jq xxd python3-pacparser chromium
    dbus-daemon dbus-bin dconf-cli dconf-gsettings-backend gsettings-desktop-schemas libglib2.0-bin
    wget                                  # tests/integration/applications_test.cpp: real programs behind requests
    squid tinyproxy krb5-kdc krb5-admin-server krb5-user gss-ntlmssp
    python3-jsonschema python3-yaml  # tests/fixtures/crds/validate.py (AgentgatewayConformance)
    python3-h2 python3-grpcio        # tests/integration/rfc8441.py, http2_upstream_test.cpp, grpc_test.cpp
    strace                           # tests/integration/proxy_test.cpp: a direct tunnel duplicates no descriptor
)

# Prints the packages of the given list that are not installed, one per line.
missing_packages() {
    local pkg status
    for pkg in "$@"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        if [[ "$status" != "installed" ]]; then
            echo "$pkg"
        fi
    done
}

# ensure_packages build|test
ensure_packages() {
    local kind=${1:?usage: ensure_packages build|test}
    local wanted=("${DFPROXY_BUILD_PACKAGES[@]}")
    case "$kind" in
        build) ;;
        test) wanted+=("${DFPROXY_TEST_PACKAGES[@]}") ;;
        *) echo "ensure_packages: unknown kind '$kind' (build|test)" >&2; return 2 ;;
    esac

    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "dpkg-query not found: not a Debian system; install these yourself: ${wanted[*]}" >&2
        return 0
    fi

    local missing
    mapfile -t missing < <(missing_packages "${wanted[@]}")
    if [[ ${#missing[@]} -eq 0 ]]; then
        return 0
    fi
    if [[ $(id -u) -ne 0 ]]; then
        echo "Missing Debian packages: ${missing[*]}" >&2
        echo "Install them as root: apt-get install --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    echo "Installing missing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}
