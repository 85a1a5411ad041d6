// SPDX-License-Identifier: Apache-2.0
#include "config/tunnelcredentials.h"

#include "platform/proxysecurity.h"

#include <algorithm>

namespace dfproxy::config {

std::optional<TunnelCredentials> parseTunnelCredentials(const QByteArray &text, const QString &path, QString *error)
{
    QByteArray line = text.left(text.indexOf('\n') < 0 ? text.size() : text.indexOf('\n'));
    if (line.endsWith('\r'))
        line.chop(1);
    if (line.trimmed().startsWith("type:")) {
        const QByteArray type = line.trimmed().mid(5).trimmed().toLower();
        if (type == "negotiate" || type == "ntlm") {
            const auto mech = type == "ntlm" ? platform::ProxySecurityContext::Mechanism::Ntlm
                                             : platform::ProxySecurityContext::Mechanism::Negotiate;
            if (const QString why = platform::ProxySecurityContext::unavailableReason(mech); !why.isEmpty()) {
                *error = QStringLiteral("the upstream proxy credentials file %1 asks for '%2': %3")
                             .arg(path, QString::fromUtf8(type), why);
                return std::nullopt;
            }
            TunnelCredentials c;
            c.kind = type == "ntlm" ? TunnelCredentials::Kind::Ntlm : TunnelCredentials::Kind::Negotiate;
            return c;
        }
        *error = QStringLiteral("the upstream proxy credentials file %1 asks for '%2' authentication, which dfproxy "
                                "does not speak (user:password for Basic and Digest, type: negotiate, type: ntlm)")
                     .arg(path, QString::fromUtf8(type));
        return std::nullopt;
    }
    const qsizetype colon = line.indexOf(':');
    const bool control = std::any_of(line.cbegin(), line.cend(), [](char c) { return uchar(c) < 0x20 || c == 0x7f; });
    if (colon <= 0 || control) {
        *error = QStringLiteral("the upstream proxy credentials file %1 must hold one line user:password").arg(path);
        return std::nullopt;
    }
    TunnelCredentials c;
    c.user = QString::fromUtf8(line.left(colon));
    c.password = QString::fromUtf8(line.mid(colon + 1));
    return c;
}

} // namespace dfproxy::config
