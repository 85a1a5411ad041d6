// SPDX-License-Identifier: Apache-2.0
#pragma once
// The text of an upstream proxy credentials file (annotation dfproxy.dev/tunnel-credentials-file), parsed by one
// function for both places that read it: the config store when a write names the file (a scheme dfproxy cannot
// speak here is refused then, 422), and forward::ProxyAuth per request.

#include <QByteArray>
#include <QString>

#include <optional>

namespace dfproxy::config {

struct TunnelCredentials
{
    enum class Kind { Password, Negotiate, Ntlm };
    Kind kind = Kind::Password;
    QString user, password; ///< Kind::Password only
};

/// The first line of `text`: `user:password` (the password may contain ':'), or `type: negotiate` / `type: ntlm`
/// (the service account's own credentials; refused when this machine cannot use that mechanism:
/// platform::ProxySecurityContext::unavailableReason). Null with `error` set, naming `path`, otherwise.
std::optional<TunnelCredentials> parseTunnelCredentials(const QByteArray &text, const QString &path, QString *error);

} // namespace dfproxy::config
