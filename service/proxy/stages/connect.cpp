// SPDX-License-Identifier: Apache-2.0
// The connect stage of a CONNECT request: the Connector dials the addresses the earlier stages left (the same
// order, per-address connect timeout, fallback and DNS cache reports as forwarding), in stream mode: a direct
// tunnel's upstream is a raw socket from the start (no QTcpSocket, no duplicated descriptor). Other requests connect inside
// their forwarder (pooled connections), so this stage passes them on.
#include "forward/connector.h"
#include "forward/upstreamproxy.h"
#include "net/stream.h"
#include "proxy/proxycontext.h"
#include "proxy/stages/stages.h"

namespace dfproxy::proxy::stages {

StageResult connect(Transaction &tx)
{
    if (!tx.head->isConnect())
        return StageResult::Continue;
    forward::Upstream upstream = tx.forward.upstream;
    upstream.tls = false; // a tunnel carries bytes as they are: no TLS to the upstream here, whatever the backend says
    upstream.viaConnect = true; // through an upstream proxy (if any), with CONNECT host:port
    forward::Connector::Options options;
    options.timeoutMs = tx.ctx->options.connectTimeoutMs;
    options.hostCache = tx.ctx->hostCache.load(std::memory_order_acquire);
    options.readBufferSize = tx.ctx->options.bufferLimit; // what a tunnel holds for a slow client, per direction
    // A child of the connection: Transaction::cancel deletes it (no callback follows); done, it goes later, since
    // its callbacks run inside it.
    tx.connector = new forward::Connector(
        std::move(upstream), std::move(options),
        forward::Connector::ConnectedStream([&tx](net::Stream *stream, const QHostAddress &address) {
            const forward::UpstreamProxy *via = tx.connector->proxy().get();
            if (!tx.rec.upstreamProxy.isEmpty()) // the entry of the PAC result that carried it
                tx.rec.upstreamProxy = via ? via->address : QStringLiteral("DIRECT");
            std::exchange(tx.connector, nullptr)->deleteLater();
            // The tunnel relays between streams (proxy/tunnel.h): direct, the Connector dialled a raw socket;
            // through an upstream proxy, it adopted its QTcpSocket (TLS to the proxy through QSslSocket).
            tx.upstreamStream = stream;
            tx.rec.resolvedAddress = address;
            tx.rec.connectUs = tx.nowUs() - tx.dnsDoneUs;
            tx.resumeWith(StageResult::Continue);
        }),
        [&tx](forward::ForwardError error, const QString &detail) {
            std::exchange(tx.connector, nullptr)->deleteLater();
            tx.host->responseSink()->onError(error, detail);
        },
        tx.host->callbackContext());
    tx.connector->start();
    return StageResult::Wait;
}

} // namespace dfproxy::proxy::stages
