// SPDX-License-Identifier: Apache-2.0
#pragma once
// Negotiate (Kerberos, RFC 4559) and NTLM to an upstream proxy, with the credentials of the account dfproxy runs as:
// GSSAPI on Linux and macOS (MIT krb5 / Heimdal; NTLM through the gss-ntlmssp mechanism where it is installed),
// SSPI on Windows. One context per connection to the proxy: NTLM is bound to its connection.

#include <QByteArray>
#include <QString>

#include <memory>

namespace dfproxy::platform {

class ProxySecurityContext
{
public:
    enum class Mechanism { Negotiate, Ntlm };

    virtual ~ProxySecurityContext() = default;

    /// Why `m` cannot be used on this machine (not built with GSSAPI, no NTLM mechanism); empty when it can.
    static QString unavailableReason(Mechanism m);
    /// A context for the proxy `proxyHost` (service principal HTTP/<proxyHost>). Null with `error` set when the
    /// mechanism is unavailable.
    static std::unique_ptr<ProxySecurityContext> create(Mechanism m, const QString &proxyHost, QString *error);

    /// The next token for the proxy (raw bytes, not base64), from the proxy's last token (empty at first). Empty with
    /// `error` set when the mechanism fails (no ticket, unknown principal, ...).
    virtual QByteArray step(const QByteArray &input, QString *error) = 0;
};

} // namespace dfproxy::platform
