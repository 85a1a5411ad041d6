// SPDX-License-Identifier: Apache-2.0
#pragma once
// Authentication to an upstream (corporate) proxy: Basic and Digest (RFC 7616: MD5, SHA-256 and their -sess forms,
// qop=auth). One ProxyAuth per credentials file and proxy, shared by every worker thread (thread-safe): the Digest
// nonce and its counter are the proxy's session, so every connection to it reuses them.

#include <QByteArray>
#include <QList>
#include <QMutex>
#include <QString>

#include <memory>

namespace dfproxy::platform {
class ProxySecurityContext;
}

namespace dfproxy::forward {

class ProxyAuth
{
public:
    /// The credentials of a file named by dfproxy.dev/tunnel-credentials-file: one line `user:password` (the
    /// password may contain ':'; a trailing newline is ignored). Null with `error` set when the file cannot be read,
    /// is readable by others than its owner (Unix: not 0600), or asks for a scheme dfproxy cannot speak here
    /// (a `type: ntlm` / `type: negotiate` block).
    static std::shared_ptr<ProxyAuth> fromFile(const QString &path, QString *error);

    ProxyAuth(QString user, QString password);

    /// How the credentials are given: a password (Basic, Digest), or the service account's own (Negotiate, NTLM:
    /// a credentials file with the line `type: negotiate` or `type: ntlm`).
    enum class Scheme { Password, Negotiate, Ntlm };
    explicit ProxyAuth(Scheme scheme);
    Scheme scheme() const { return m_scheme; }
    /// Negotiate and NTLM: answered with a security context per connection (connectionAnswer()), never preemptive.
    bool isConnectionBased() const { return m_scheme != Scheme::Password; }
    /// "Negotiate" or "NTLM".
    QByteArray connectionScheme() const;
    /// The context of one connection to the proxy `proxyHost`; null with `error` set when it cannot be made.
    std::unique_ptr<platform::ProxySecurityContext> newContext(const QString &proxyHost, QString *error) const;
    /// The next Proxy-Authorization value of a connection-based scheme for a 407's challenges (their token, if any,
    /// goes into `context`); empty with `error` set when the proxy does not offer the scheme or the context fails.
    QByteArray connectionAnswer(platform::ProxySecurityContext &context, const QList<QByteArray> &challenges,
                                QString *error) const;

    /// A Proxy-Authorization value to send before any challenge on this request: Basic always; Digest once a
    /// challenge of this proxy was answered (the same nonce, the next nonce count); empty otherwise.
    /// `uri` is the request target as sent (absolute URI, or host:port for CONNECT).
    QByteArray preemptive(const QByteArray &method, const QByteArray &uri);

    /// Answers the Proxy-Authenticate values of a 407: Digest (SHA-256 before MD5) before Basic. Empty with `error`
    /// set when none of them is a scheme and algorithm dfproxy speaks.
    QByteArray answer(const QList<QByteArray> &challenges, const QByteArray &method, const QByteArray &uri,
                      QString *error);

    /// One challenge of a Proxy-Authenticate value: the scheme (lower-case) and its parameters (names lower-case).
    struct Challenge
    {
        QByteArray scheme;
        QList<QPair<QByteArray, QByteArray>> params;
        QByteArray param(const QByteArray &name) const;
    };
    /// Splits Proxy-Authenticate values into challenges (several per value, comma-separated, are allowed).
    static QList<Challenge> parseChallenges(const QList<QByteArray> &values);

    const QString &user() const { return m_user; }
    /// Digest's client nonce from now on, instead of a random one (for tests with the RFC's example values).
    void setClientNonceForTest(const QByteArray &cnonce) { m_fixedCnonce = cnonce; }

private:
    QByteArray basic() const;
    QByteArray digestLocked(const QByteArray &method, const QByteArray &uri);

    Scheme m_scheme = Scheme::Password;
    QString m_user;
    QString m_password;
    QMutex m_mutex;
    // the Digest session, under m_mutex
    bool m_haveDigest = false;
    QByteArray m_realm, m_nonce, m_opaque, m_algorithm, m_qop;
    quint32 m_nonceCount = 0;
    QByteArray m_fixedCnonce;
};

} // namespace dfproxy::forward
