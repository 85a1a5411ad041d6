// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "forward/forwarder.h"

#include <QHash>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QSslCertificate>

class QNetworkAccessManager;

namespace dfproxy::forward {

/// The QNetworkAccessManager engine (routing::Backend::Engine::Qnam): manual redirects, no cookies, no cache, no
/// transparent decompression (Accept-Encoding is what the client sent, else "identity"), the resolved IP in the
/// URL with Host set and the peer verify name set for TLS. Addresses are tried in order on connect errors.
/// Request bodies with a Content-Length stream (with backpressure); chunked bodies of unknown length are buffered
/// whole, since QNAM cannot send a body of unknown size. Limits, all QNAM's own (qhttpnetworkconnection.cpp,
/// prepareRequest): it adds "Accept-Language" (from the system locale) and "User-Agent: Mozilla/5.0" whenever the
/// request has none or an empty one, and "Connection: Keep-Alive"; no upgrades (websocket goes native); 6
/// connections per host. A streamed body is not retried on the next address. Lives on one thread.
/// Responses must pass the framing and header rules of http::checkResponseHeaders() (else 502
/// upstream_bad_response); a rejected response retires the whole QNetworkAccessManager, since QNAM offers no way to
/// close one pooled connection and may already have put the origin's back in its pool.
class QnamForwarder final : public QObject, public Forwarder
{
    Q_OBJECT
public:
    explicit QnamForwarder(ForwarderOptions options = {}, QObject *parent = nullptr);
    ~QnamForwarder() override;

    std::unique_ptr<Exchange> start(ForwardRequest &&request, ResponseSink *sink) override;
    QJsonObject stats() const override;

private:
    friend class QnamExchange;
    QList<QSslCertificate> caCertificates(const QString &path);
    QNetworkAccessManager *makeNam();
    /// New requests go to a fresh QNetworkAccessManager; the current one is deleted (closing its pooled
    /// connections) once its last reply is gone.
    void retireNam();
    void reapRetired();
    QHash<QString, QList<QSslCertificate>> m_caCache;
    ForwarderOptions m_options;
    QNetworkAccessManager *m_nam;
    QList<QPointer<QNetworkAccessManager>> m_retired;
    quint64 m_requests = 0;
    quint64 m_connectFailures = 0;
};

} // namespace dfproxy::forward
