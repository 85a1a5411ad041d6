// SPDX-License-Identifier: Apache-2.0
#pragma once
// The OpenSSL client side dfproxy originates TLS with where it does not use QSslSocket: directly on the upstream
// socket (TlsClientStream, forward/tlsstream.h) and inside an https:// upstream proxy's tunnel (TlsLayerSocket,
// forward/tlslayer.h). One place decides what both verify and offer, so the two never drift apart: SNI unless the
// name is an IP literal, the certificate checked against that name (or IP), the system's CAs or the backend's CA
// file alone, insecureSkipVerify, ALPN, TLS 1.2 at least (what Qt's SecureProtocols allow on the QSslSocket path),
// and resumption of an earlier session with the same origin name, CAs, verification and ALPN.

#include <QByteArray>
#include <QList>
#include <QSslCertificate>
#include <QString>

typedef struct ssl_st SSL;

namespace dfproxy::forward {

struct TlsClientOptions
{
    QString peerName;                       ///< SNI (unless an IP literal) and the name the certificate must carry
    bool systemCaCertificates = true;       ///< verify against the system's CAs (as QSslSocket does by default)
    QList<QSslCertificate> caCertificates;  ///< ... or against these alone (the backend's CA file)
    bool verifyPeer = true;                 ///< false: insecureSkipVerify, no chain or name check
    QList<QByteArray> alpn;                 ///< protocols offered by ALPN, in order; empty: no ALPN
};

namespace tlsclient {

/// A client SSL for `options`, in connect state, without BIOs (the caller sets them) and with the cached session of
/// the same origin offered. Its SSL_CTX is this thread's for the CA set, verification and ALPN (made on first use:
/// loading the system store costs milliseconds, a connection should not pay for it, and a context per worker keeps
/// the workers from contending for its locks). The caller frees it with SSL_free. Null, with `error` set, when
/// OpenSSL fails.
SSL *newClientSsl(const TlsClientOptions &options, QString *error);

/// Why the handshake of `ssl` failed, once SSL_do_handshake() reported an error: the certificate that did not
/// verify and why ("the certificate of NAME does not verify: REASON"), else OpenSSL's error queue. Clears the queue.
QString handshakeError(SSL *ssl, const TlsClientOptions &options);
/// OpenSSL's error queue as text (emptied); a generic sentence when it is empty.
QString errorQueue();

/// Notes a finished handshake: counts it, and logs version, cipher and resumption on dfproxy.forward at debug
/// ("TLS to NAME WHERE TLSv1.3 TLS_AES_128_GCM_SHA256 (resumed)", WHERE e.g. "at 127.0.0.1 port 443:").
void handshakeDone(SSL *ssl, const QString &peerName, const QString &where);
/// Whether `ssl`'s handshake resumed an earlier session.
bool isResumed(const SSL *ssl);
/// The protocol the peer chose by ALPN; empty when none.
QByteArray negotiatedProtocol(const SSL *ssl);

/// Handshakes finished since the start, by every TlsClientStream and TlsLayerSocket of the process, and how many of
/// them resumed a session (thread-safe).
quint64 handshakes();
quint64 resumedHandshakes();

} // namespace tlsclient

} // namespace dfproxy::forward
