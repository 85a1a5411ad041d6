// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "forward/forwarder.h"

#include <QHash>
#include <QObject>
#include <QSslCertificate>

namespace dfproxy::forward {

class UpstreamConnection;
class Http1Exchange;

/// The native engine: HTTP/1.1 over net::Stream (plain TCP on the descriptor, TLS with OpenSSL on it: a
/// TlsClientStream, forward/tlsstream.h; through an upstream proxy or after an HTTP/2 fallback, QSslSocket) with a
/// keep-alive pool keyed by address:port(+tls+sni). New connections come from the Connector in stream mode
/// (forward/connector.h: the addresses in order, each for at most connectTimeoutMs; a direct plain one dialled as
/// a raw socket), as CONNECT tunnels' do; a pooled connection found dead on reuse is retried
/// once on a fresh connection for idempotent requests without a body. Lives on one thread.
class Http1Forwarder final : public QObject, public Forwarder
{
    Q_OBJECT
public:
    explicit Http1Forwarder(ForwarderOptions options = {}, QObject *parent = nullptr);
    ~Http1Forwarder() override;

    std::unique_ptr<Exchange> start(ForwardRequest &&request, ResponseSink *sink) override;
    QJsonObject stats() const override;
    /// A request Http2Forwarder took but the origin answered ALPN with http/1.1 (or nothing): on `socket`, the
    /// connection it opened (now this engine's; it joins the pool afterwards), or a connection of its own when
    /// `socket` is null. The shared request counter was bumped by Http2Forwarder already.
    std::unique_ptr<Exchange> startFallback(QTcpSocket *socket, const QHostAddress &address, ForwardRequest &&request,
                                            ResponseSink *sink);

    /// Idle pooled connections right now.
    int idleConnections() const;
    /// Connections opened since construction.
    quint64 connectionsOpened() const { return m_opened; }
    /// Closes every idle connection.
    void closeIdle();

private:
    friend class Http1Exchange;
    friend class UpstreamConnection;
    UpstreamConnection *takeIdle(const QByteArray &key);
    void putIdle(UpstreamConnection *conn);
    void dropIdle(UpstreamConnection *conn);
    /// The certificates of a CA bundle file (PEM), read once (an unreadable file gives none: verification fails).
    QList<QSslCertificate> caCertificates(const QString &path);

    ForwarderOptions m_options;
    QHash<QByteArray, QList<UpstreamConnection *>> m_idle;
    QHash<QString, QList<QSslCertificate>> m_caCache;
    quint64 m_opened = 0;
    quint64 m_reused = 0;
    quint64 m_requests = 0;
    quint64 m_connectFailures = 0;
    quint64 m_retries = 0;
};

} // namespace dfproxy::forward
