// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

#include <memory>

namespace dfproxy::policy {

/// Verifies JWS compact tokens (RS256, ES256, HS256) against a JWKS, then checks exp/nbf (with clock skew), iss and
/// aud, and that the token expires at all (requireExpiration) and not too far out (maxLifetimeSecs). Immutable after
/// construction; verify() is thread-safe (OpenSSL keys are only read).
class JwtVerifier
{
public:
    struct Settings
    {
        QString issuer;          ///< empty = not checked
        QStringList audiences;   ///< empty = not checked; else aud must contain one of them
        qint64 clockSkewMs = 60000;
        /// A token without exp would be valid forever: refused unless this is false.
        bool requireExpiration = true;
        /// > 0: refuse tokens meant to live longer, exp - iat (exp - now without iat); a token without exp too.
        qint64 maxLifetimeSecs = 0;
    };
    struct Result
    {
        bool ok = false;
        QString error;           ///< why the token was refused (for logs, never sent to clients)
        QJsonObject claims;
    };

    /// Loads the keys of `jwks` ({"keys": [...]}). Unusable keys are skipped and listed in problems(); with no
    /// usable key every token is refused.
    JwtVerifier(const QJsonObject &jwks, Settings settings);
    ~JwtVerifier();

    Result verify(const QByteArray &token, qint64 nowSecsSinceEpoch) const;
    int keyCount() const;
    const QStringList &problems() const { return m_problems; }

    struct Key;

private:
    Settings m_settings;
    QList<std::shared_ptr<Key>> m_keys;
    QStringList m_problems;
};

/// base64url without padding, as JOSE uses it.
QByteArray base64UrlEncode(const QByteArray &data);

} // namespace dfproxy::policy
