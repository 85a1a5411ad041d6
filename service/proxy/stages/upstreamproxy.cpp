// SPDX-License-Identifier: Apache-2.0
// The upstream_proxy stage: a backend with an AgentgatewayPolicy spec.backend.tunnel sends its requests through
// an upstream proxy (or DIRECT): the bypass list, then the PAC file's answer, then the fixed proxy
// (docs/upstream-proxy.md). Before DNS: with a proxy, a name that does not resolve here still goes out through it.
#include "forward/upstreamproxy.h"
#include "proxy/proxycontext.h"
#include "proxy/stages/stages.h"

namespace dfproxy::proxy::stages {

namespace {

StageResult selected(Transaction &tx, const forward::ProxySelection &via)
{
    tx.rec.upstreamProxy = via.proxy ? via.proxy->address : QStringLiteral("DIRECT");
    tx.rec.upstreamProxyReason = via.why;
    if (!via.error.isEmpty()) {
        const QByteArray reason = forward::reasonString(via.errorKind);
        return tx.reply(502, reason, reason + ": " + via.error.toUtf8() + "\n");
    }
    tx.forward.upstream.proxy = via.proxy;
    tx.forward.upstream.proxyFallbacks = via.fallbacks;
    return StageResult::Continue;
}

/// The request's SSRF guard (proxy.ssrf, through its policy engine) for the proxies a PAC answer names; none without
/// an engine (allowedProxyAddresses still refuses the ranges where no proxy is).
forward::SsrfFilter proxySsrf(const Transaction &tx)
{
    if (!tx.policy)
        return {};
    return [engine = tx.policy](const QList<QHostAddress> &addresses, quint16 port) {
        return engine->ssrfAllowedProxyAddresses(addresses, port);
    };
}

} // namespace

/// A PAC answer not cached yet comes later, on the host's callback context; Transaction::cancel (and the next
/// request's begin) drops tx.proxySelection, which makes a late answer a no-op.
StageResult upstreamProxy(Transaction &tx)
{
    const routing::Backend &backend = *tx.match->backend;
    if (!backend.tunnel)
        return StageResult::Continue;
    forward::Upstream &up = tx.forward.upstream;
    up.proxySsrf = proxySsrf(tx);
    tx.proxySelection = std::make_shared<bool>(true);
    std::optional<forward::ProxySelection> now = forward::selectUpstreamProxy(
        *backend.tunnel, QLatin1String(tx.head->isConnect() || up.tls ? "https" : "http"), up.host, up.port,
        backend.engine, tx.ctx->hostCache.load(std::memory_order_acquire), tx.host->callbackContext(),
        [&tx, pending = std::weak_ptr<bool>(tx.proxySelection)](forward::ProxySelection later) {
            if (!pending.lock())
                return; // the request is gone (the transaction may be too: `tx` is not touched)
            tx.proxySelection.reset();
            tx.resumeWith(selected(tx, later));
        },
        up.proxySsrf);
    if (!now)
        return StageResult::Wait;
    tx.proxySelection.reset();
    return selected(tx, *now);
}

} // namespace dfproxy::proxy::stages
