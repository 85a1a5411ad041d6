// SPDX-License-Identifier: Apache-2.0
#include "platform/passwordcrypt.h"

#include <QtGlobal>

#if defined(Q_OS_WIN)
namespace dfproxy::platform {

// Windows has no crypt(3): bcrypt and SHA-crypt hashes are unsupported there (use pbkdf2-sha256 hashes).
std::optional<bool> cryptVerify(const QByteArray &, const QByteArray &)
{
    return std::nullopt;
}

bool cryptAvailable()
{
    return false;
}

} // namespace dfproxy::platform
#endif
