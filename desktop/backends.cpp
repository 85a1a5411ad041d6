// SPDX-License-Identifier: Apache-2.0
// Which backend runs on this platform (systemproxy.h, createBackend).
#include "gnomeproxy.h"
#include "kdeproxy.h"
#include "macproxy.h"
#include "systemproxy.h"
#include "winproxy.h"

namespace dfproxy::desktop {

QStringList backendNames()
{
#if defined(Q_OS_WIN)
    return {"wininet"};
#elif defined(Q_OS_MACOS)
    return {"macos"};
#else
    return {"gnome", "kde"};
#endif
}

std::unique_ptr<SystemProxyBackend> createBackend(const QString &name)
{
    QString chosen = name;
    if (chosen.isEmpty()) {
        chosen = backendNames().value(0);
        if (qEnvironmentVariable("XDG_CURRENT_DESKTOP").contains(QLatin1String("KDE"), Qt::CaseInsensitive))
            chosen = QStringLiteral("kde");
    }
    if (!backendNames().contains(chosen))
        return nullptr;
#if defined(Q_OS_WIN)
    return std::make_unique<WinInetBackend>(createWinInetStore());
#elif defined(Q_OS_MACOS)
    return std::make_unique<MacProxyBackend>(createMacProxyStore());
#else
    if (chosen == QLatin1String("kde"))
        return std::make_unique<KdeProxyBackend>();
    return std::make_unique<GnomeProxyBackend>();
#endif
}

} // namespace dfproxy::desktop
