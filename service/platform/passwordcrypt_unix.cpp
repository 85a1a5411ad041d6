// SPDX-License-Identifier: Apache-2.0
#include "platform/passwordcrypt.h"

#include <QtGlobal>

#if !defined(Q_OS_WIN)
#include <memory>
#include <mutex>

#if defined(Q_OS_LINUX)
#include <crypt.h>
#else
#include <unistd.h>
#endif

namespace dfproxy::platform {

std::optional<bool> cryptVerify(const QByteArray &password, const QByteArray &hash)
{
    if (hash.size() < 3 || !hash.startsWith('$') || password.contains('\0'))
        return std::nullopt;
    QByteArray computed;
#if defined(Q_OS_LINUX)
    // crypt_data is large (~32 KiB with libxcrypt): heap, not stack, since this runs on worker threads.
    auto data = std::make_unique<crypt_data>();
    const char *out = crypt_r(password.constData(), hash.constData(), data.get());
    if (out)
        computed = QByteArray(out);
#else
    // Other Unixes have only the non-reentrant crypt().
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    const char *out = ::crypt(password.constData(), hash.constData());
    if (out)
        computed = QByteArray(out);
#endif
    // libxcrypt returns "*0"/"*1" (or null) for a hash it cannot parse.
    if (computed.isEmpty() || computed.startsWith('*') || computed.size() != hash.size())
        return std::nullopt;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < hash.size(); ++i)
        diff |= static_cast<unsigned char>(computed[i] ^ hash[i]);
    return diff == 0;
}

bool cryptAvailable()
{
    return true;
}

} // namespace dfproxy::platform
#endif
