// SPDX-License-Identifier: Apache-2.0
// The upstream_request stage: where the request goes (the backend, a URLRewrite hostname) and what is sent there
// (the rewritten target, the end-to-end headers with Host, Via, X-Forwarded-*, the route's header edits, minus the
// credentials the policies consumed).
#include "proxy/proxycontext.h"
#include "proxy/stages/stages.h"

namespace dfproxy::proxy::stages {

namespace {

const QByteArray kHostName = QByteArrayLiteral("Host");

void upstreamHeaders(Transaction &tx)
{
    const http::MessageHead &h = *tx.head;
    const std::optional<routing::UrlRewrite> &rewrite = tx.match->rewrite;
    forward::ForwardRequest &f = tx.forward;
    f.headers = h.headers;
    http::stripHopByHop(f.headers, tx.websocket);
    tx.expectContinue = http::removeHeader(f.headers, "expect") > 0
        && http::tokenListContains(*http::findHeader(h.headers, "expect"), "100-continue");
    // The Host the origin sees is the canonical authority the rules saw (absolute-form: the URI's, which wins
    // over any Host header); a hostname rewrite replaces it.
    if (rewrite && !rewrite->hostname.isEmpty()) {
        http::setHeader(f.headers, kHostName, rewrite->hostname.toLatin1());
    } else {
        const QByteArray *sent = http::findHeader(f.headers, "host");
        if (!sent || *sent != tx.canon.authority)
            http::setHeader(f.headers, kHostName, tx.canon.authority);
    }
    f.headers.append({QByteArrayLiteral("Via"), QByteArrayLiteral("1.1 dfproxy")});
    if (tx.ctx->options.addXForwardedFor) {
        const QByteArray *prior = http::findHeader(f.headers, "x-forwarded-for");
        if (tx.clientAddressText.isEmpty())
            tx.clientAddressText = tx.rec.clientAddress.toString().toLatin1();
        const QByteArray &me = tx.clientAddressText;
        http::setHeader(f.headers, "X-Forwarded-For", prior ? *prior + ", " + me : me);
    }
    if (tx.ctx->options.addXForwardedProto)
        http::setHeader(f.headers, "X-Forwarded-Proto", tx.tlsClient ? "https" : "http");
    applyHeaderModifier(f.headers, tx.match->requestHeaders);
    for (const QByteArray &name : std::as_const(tx.stripHeaders)) // const: no detach of the shared list
        http::removeHeader(f.headers, name);
}

} // namespace

void applyHeaderModifier(http::HeaderList &headers, const routing::HeaderModifier &m)
{
    if (m.isEmpty())
        return;
    for (const QByteArray &name : m.remove)
        http::removeHeader(headers, name);
    for (const auto &h : m.set)
        http::setHeader(headers, h.first, h.second);
    for (const auto &h : m.add)
        headers.append(h);
}

StageResult upstreamRequest(Transaction &tx)
{
    const std::shared_ptr<const routing::Backend> &backend = tx.match->backend;
    if (!backend)
        return tx.reply(500, "no_backend", "the route has no usable backend\n");
    // An absolute-form https:// request asks for TLS to the origin: it is never sent in plaintext.
    if (tx.canon.httpsScheme && backend->tlsDisabled)
        return tx.reply(400, "tls_disabled_by_backend",
                        "the backend " + backend->key.toUtf8() + " has TLS turned off (spec.tls: false), so it "
                        "cannot carry this https:// request; send it with CONNECT or use another backend\n");

    const http::MessageHead &h = *tx.head;
    const std::optional<routing::UrlRewrite> &rewrite = tx.match->rewrite;
    tx.forward = forward::ForwardRequest();
    forward::Upstream &up = tx.forward.upstream;
    up.tls = backend->tls || tx.canon.httpsScheme;
    up.sni = backend->tlsSni;
    up.tlsInsecureSkipVerify = backend->tlsInsecureSkipVerify;
    up.tlsCaFile = backend->tlsCaFile;
    if (backend->type == routing::Backend::Type::Static) {
        up.host = backend->staticHost;
        up.port = backend->staticPort;
    } else {
        const bool renamed = rewrite && !rewrite->hostname.isEmpty() && !h.isConnect();
        up.host = renamed ? QString::fromLatin1(rewrite->hostname.toLatin1().toLower()) : tx.hostText;
        up.port = quint16(tx.canon.port > 0 ? tx.canon.port : (up.tls ? 443 : 80));
    }
    tx.rec.port = up.port;
    if (h.isConnect())
        return StageResult::Continue; // a tunnel carries bytes as they are: no target, no headers

    // Not for tunnels: they carry the client's bytes as they are. Auto needs ALPN, so plaintext stays HTTP/1.1 (h2c
    // by prior knowledge to an origin that may not speak it would fail the request).
    up.http2 = backend->http2 || (backend->httpAuto && up.tls);
    up.http1Fallback = backend->httpAuto && up.tls;
    tx.forward.method = h.method;
    tx.forward.target = rewrite ? rewrittenPath(tx, rewrite->replaceFullPath, rewrite->replacePrefixMatch)
                                : tx.canon.path;
    if (tx.canon.hasQuery)
        tx.forward.target.append('?').append(tx.canon.query);
    tx.websocket = h.upgrade && http::headerHasToken(h.headers, "upgrade", "websocket");
    tx.forward.upgrade = tx.websocket;
    upstreamHeaders(tx);
    tx.forward.contentLength = h.chunked ? -1 : std::max<qint64>(0, h.contentLength);
    tx.forward.teTrailers = http::headerHasToken(h.headers, "te", "trailers");
    tx.forward.connectTimeoutMs = tx.ctx->options.connectTimeoutMs;
    tx.forward.responseTimeoutMs = tx.match->backendRequestTimeoutMs > 0 ? tx.match->backendRequestTimeoutMs
                                                                         : tx.ctx->options.responseTimeoutMs;
    if (tx.match->requestTimeoutMs > 0)
        tx.host->armRequestTimeout(tx.match->requestTimeoutMs);
    return StageResult::Continue;
}

} // namespace dfproxy::proxy::stages
