// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QString>

namespace dfproxy::test {

// Absolute path of a binary of this build ("dfproxy", "dfproxyctl", "dfproxy-test-origin", "dfproxy-console"),
// looked up under $DFPROXY_BUILD_DIR (set by ctest; else the build dir this test binary lives in) in the known
// subdirectories. Empty if not found.
QString buildBinary(const QString &name);

// The build directory the binaries are taken from.
QString buildDir();

// The source tree ($DFPROXY_SOURCE_DIR, set by ctest); empty if unknown.
QString sourceDir();

} // namespace dfproxy::test
