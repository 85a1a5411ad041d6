// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "dns/hostcache.h"
#include "forward/forwarder.h"
#include "proxy/clientapplication.h"
#include "proxy/connectionlimiter.h"
#include "routing/routetable.h"

#include <QObject>
#include <QSet>

#include <memory>
#include <random>

class QSslConfiguration;
class QTcpSocket;

namespace dfproxy::net {
class Stream;
}

namespace dfproxy::proxy {

struct ProxyContext;
class DownstreamConnection;
class Http2Connection;

/// One worker thread's share of the proxy: its client connections and its upstream engines (and their pools).
/// Lives on (and is only used from) its own thread.
class ProxyWorker final : public QObject
{
public:
    explicit ProxyWorker(ProxyContext *ctx);
    ~ProxyWorker() override;

    /// Takes over an accepted socket descriptor of `listener`; with `tls` (HTTPS listeners) the TLS handshake
    /// runs here, on the worker, and the connection reads the decrypted stream.
    void adopt(qintptr descriptor, std::shared_ptr<const routing::Listener> listener,
               std::shared_ptr<const QSslConfiguration> tls = nullptr);
    /// The engine for a backend.
    forward::Forwarder *forwarder(routing::Backend::Engine engine);
    /// The HTTP/2 engine (backends with AgentgatewayPolicy spec.backend.http.version HTTP2).
    forward::Forwarder *http2Forwarder();
    /// Asks every connection to close once idle.
    void drain();
    /// Closes everything now.
    void closeAll();
    int connectionCount() const { return int(m_connections.size() + m_http2.size()); }
    double random() { return m_dist(m_rng); }

    void connectionClosed(DownstreamConnection *c);
    /// A client connection that opened with the HTTP/2 preface (h2 by ALPN, h2c by prior knowledge): the HTTP/2
    /// side takes its stream, its slot, the bytes read from it so far and its application lookup.
    void startHttp2(net::Stream *stream, bool tls, std::shared_ptr<const routing::Listener> listener,
                    ConnectionSlot slot, QByteArray received, std::unique_ptr<ConnectionApplication> application);
    void http2ConnectionClosed(Http2Connection *c);
    /// Lets this worker resolve the names it misses from its own event loop (HostCache::attachThread); once per
    /// cache, on the first request that needs DNS. Detached when the worker is destroyed, on its thread.
    void attachDns(dns::HostCache *cache)
    {
        if (cache != m_dnsCache) {
            m_dnsAttachment.reset();
            m_dnsAttachment = cache->attachThread();
            m_dnsCache = cache;
        }
    }

private:
    /// A connection over a connection limit: 503 (with `reason` in x-dfproxy-error) and a lingering close, or
    /// closed at once when `reason` is empty (HTTPS listeners) or too many refusals are lingering already.
    void refuse(QTcpSocket *socket, QByteArrayView reason);

    ProxyContext *m_ctx;
    QSet<DownstreamConnection *> m_connections;
    QSet<Http2Connection *> m_http2;
    std::unique_ptr<forward::Forwarder> m_native;
    std::unique_ptr<forward::Forwarder> m_qnam;
    std::unique_ptr<forward::Forwarder> m_http2Upstream;
    std::minstd_rand m_rng{std::random_device{}()};
    dns::HostCache *m_dnsCache = nullptr;
    std::unique_ptr<dns::ThreadAttachment> m_dnsAttachment;
    std::uniform_real_distribution<double> m_dist{0.0, 1.0};
    int m_lingering = 0;
};

} // namespace dfproxy::proxy
