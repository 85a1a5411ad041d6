// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace dfproxy {
/// The product version, from cmake/Version.cmake.
const char *versionString();
} // namespace dfproxy
