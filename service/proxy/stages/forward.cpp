// SPDX-License-Identifier: Apache-2.0
// The last stage: the request goes to its forwarder (the connection then feeds it the body and relays the
// response), or a connected CONNECT becomes a tunnel.
#include "proxy/proxyworker.h"
#include "proxy/stages/stages.h"


namespace dfproxy::proxy::stages {

StageResult forward(Transaction &tx)
{
    if (tx.head->isConnect()) {
        tx.host->tunnelConnected(std::exchange(tx.upstreamStream, nullptr));
        return StageResult::Continue;
    }
    // Upgrades need the socket afterwards, which only the native engine can hand over.
    const routing::Backend::Engine engine = tx.websocket ? routing::Backend::Engine::Native
                                                         : tx.match->backend->engine;
    // HTTP/2 to the origin (spec.backend.http.version HTTP2) for everything but websocket upgrades (HTTP/1.1 only).
    if (tx.websocket)
        tx.forward.upstream.http2 = false;
    forward::Forwarder *forwarder = !tx.websocket && tx.forward.upstream.http2 ? tx.worker->http2Forwarder()
                                                                                : tx.worker->forwarder(engine);
    tx.exchange = forwarder->start(std::move(tx.forward), tx.host->responseSink());
    tx.host->exchangeStarted();
    return StageResult::Continue;
}

} // namespace dfproxy::proxy::stages
