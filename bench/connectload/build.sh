#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds bench/connectload (a CONNECT + TLS load client, see connectload.cpp) into $1 (default
# build/bench/connectload) when it is missing or older than its source. Needs g++ and libssl-dev.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$(dirname "$(dirname "$here")")/build/bench/connectload}
mkdir -p "$(dirname "$out")"
if [ ! -x "$out" ] || [ "$here/connectload.cpp" -nt "$out" ]; then
    ${CXX:-g++} -std=c++20 -O2 -Wall -Wextra -Werror -pthread -o "$out" "$here/connectload.cpp" -lssl -lcrypto
fi
echo "$out"
