// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "forward/forwarder.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QSslCertificate>

namespace dfproxy::forward {

class Http1Forwarder;
class Http2Upstream;
class Http2Exchange;

/// Requests to origins that speak HTTP/2 (a backend with AgentgatewayPolicy spec.backend.http.version HTTP2), on
/// nghttp2's client session (http2/clientsession.h). One multiplexed connection per origin address (the first of
/// Upstream::addresses, or the upstream proxy's tunnel to the origin) and TLS settings; a second one only while the
/// first has as many streams open as the origin's SETTINGS_MAX_CONCURRENT_STREAMS, or after its GOAWAY. Connections
/// come from the Connector (address order, connect timeout, the SSRF-checked addresses, TLS verification) with ALPN
/// "h2" over TLS and the preface by prior knowledge in plaintext (h2c). A request the origin did not process (its
/// stream refused with REFUSED_STREAM, or above a GOAWAY's last stream id) is retried once on a new connection when
/// it is idempotent or has no body; others fail with 502 upstream_reset. With Upstream::http1Fallback (Auto) ALPN
/// offers "h2" and "http/1.1": an origin that picks http/1.1 (or nothing) gets the request from the HTTP/1.1 engine
/// on that same connection, and its later requests go straight there for kRememberMs. Lives on one thread.
class Http2Forwarder final : public QObject, public Forwarder
{
    Q_OBJECT
public:
    explicit Http2Forwarder(ForwarderOptions options = {}, QObject *parent = nullptr);
    ~Http2Forwarder() override;

    std::unique_ptr<Exchange> start(ForwardRequest &&request, ResponseSink *sink) override;
    QJsonObject stats() const override;

    /// Ends the idle connections (no stream open) and lets the others finish with GOAWAY.
    void closeIdle();
    /// Upstream HTTP/2 connections right now.
    int connections() const;
    /// The engine for origins that pick http/1.1 under Auto (the worker's, on this thread); without it Auto fails
    /// like HTTP2.
    void setHttp1Engine(Http1Forwarder *http1) { m_http1 = http1; }

    /// How long an origin's http/1.1 choice is remembered.
    static constexpr qint64 kRememberMs = 10 * 60 * 1000;
    static constexpr qsizetype kMaxRememberedOrigins = 4096;

private:
    friend class Http2Upstream;
    friend class Http2Exchange;
    /// A connection for `key` that takes one more stream; null when there is none.
    Http2Upstream *usable(const QByteArray &key) const;
    Http2Upstream *open(const QByteArray &key, const ForwardRequest &request);
    void forget(Http2Upstream *conn);
    void rememberHttp1(const QByteArray &key);
    bool picksHttp1(const QByteArray &key);
    QList<QSslCertificate> caCertificates(const QString &path);

    ForwarderOptions m_options;
    QHash<QByteArray, QList<Http2Upstream *>> m_conns;
    QHash<QString, QList<QSslCertificate>> m_caCache;
    Http1Forwarder *m_http1 = nullptr;
    QHash<QByteArray, qint64> m_http1Origins; ///< connection key -> when it picked http/1.1 (m_clock ms)
    QElapsedTimer m_clock;
    quint64 m_opened = 0;
    quint64 m_reused = 0;
    quint64 m_requests = 0;
    quint64 m_connectFailures = 0;
    quint64 m_retries = 0;
};

} // namespace dfproxy::forward
