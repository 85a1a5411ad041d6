// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "forward/forwarder.h"

#include <QObject>

class QNetworkAccessManager;

namespace dfproxy::forward {

/// The QNetworkAccessManager engine (routing::Backend::Engine::Qnam): manual redirects, no cookies, no cache, no
/// transparent decompression (Accept-Encoding is what the client sent, else "identity"), the resolved IP in the
/// URL with Host set and the peer verify name set for TLS. Addresses are tried in order on connect errors.
/// Limits: request bodies are buffered whole before sending; no upgrades (websocket goes native); QNAM itself
/// adds Accept-Language / User-Agent when the client sent none. Lives on one thread.
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
    ForwarderOptions m_options;
    QNetworkAccessManager *m_nam;
    quint64 m_requests = 0;
    quint64 m_connectFailures = 0;
};

} // namespace dfproxy::forward
