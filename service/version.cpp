// SPDX-License-Identifier: Apache-2.0
#include "base/version.h"

namespace dfproxy {
const char *versionString()
{
    return DFPROXY_VERSION;
}
} // namespace dfproxy
