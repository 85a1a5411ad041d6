// SPDX-License-Identifier: Apache-2.0
#pragma once
// Negotiate (Kerberos, RFC 4559) and NTLM to an upstream proxy, with the credentials of the account dfproxy runs as:
// GSSAPI on Linux and macOS (MIT krb5 / Heimdal; NTLM through the gss-ntlmssp mechanism where it is installed),
// SSPI on Windows. One context per connection to the proxy: NTLM is bound to its connection.

#include <QByteArray>
#include <QString>

#include <functional>
#include <memory>

namespace dfproxy::platform {

class ProxySecurityContext
{
public:
    enum class Mechanism { Negotiate, Ntlm };

    virtual ~ProxySecurityContext() = default;

    /// Why `m` cannot be used on this machine (not built with GSSAPI, no NTLM mechanism); empty when it can.
    static QString unavailableReason(Mechanism m);
    /// Tests only: unavailableReason(m) answers `fake(m)` instead of asking the platform, so that the refusal of a
    /// missing mechanism is tested on machines that have it (and the other way round). An empty function restores
    /// the platform's answer. Not thread-safe: set it before any credentials file is read.
    static void setAvailabilityForTesting(std::function<QString(Mechanism)> fake);
    /// A context for the proxy `proxyHost` (service principal HTTP/<proxyHost>). Null with `error` set when the
    /// mechanism is unavailable.
    static std::unique_ptr<ProxySecurityContext> create(Mechanism m, const QString &proxyHost, QString *error);

    /// The next token for the proxy (raw bytes, not base64), from the proxy's last token (empty at first). Empty with
    /// `error` set when the mechanism fails (no ticket, unknown principal, ...).
    virtual QByteArray step(const QByteArray &input, QString *error) = 0;

private:
    /// What this platform says (proxysecurity_unix.cpp / proxysecurity_win.cpp).
    static QString platformUnavailableReason(Mechanism m);
};

} // namespace dfproxy::platform
