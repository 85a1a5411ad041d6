// SPDX-License-Identifier: Apache-2.0
#include "proxy/downstreamconnection.h"

#include "base/bytes.h"
#include "dns/hostcache.h"
#include "forward/connector.h"
#include "forward/upstreamproxy.h"
#include "proxy/pacresponder.h"
#include "proxy/proxycontext.h"
#include "proxy/proxyworker.h"
#include "proxy/tunnel.h"

#include <charconv>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimerEvent>

namespace dfproxy::proxy {

using http::HttpParser;

namespace {

/// A number's decimal digits on the stack (QByteArray::number allocates; this runs once per response).
struct Decimal
{
    explicit Decimal(qint64 v) : size(std::to_chars(digits, digits + sizeof digits, v).ptr - digits) {}
    QByteArrayView view() const { return {digits, size}; }
    char digits[24];
    qsizetype size;
};

QByteArray dnsReason(dns::DnsError e)
{
    return dns::reasonString(e).toLatin1();
}

void applyModifier(http::HeaderList &headers, const routing::HeaderModifier &m)
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

const QByteArray kHostName = QByteArrayLiteral("Host");


} // namespace

DownstreamConnection::DownstreamConnection(ProxyWorker *worker, ProxyContext *ctx, net::Stream *stream, bool tls,
                                           std::shared_ptr<const routing::Listener> listener, ConnectionSlot slot)
    : QObject(worker)
    , m_worker(worker)
    , m_ctx(ctx)
    , m_socket(stream)
    , m_listener(std::move(listener))
    , m_parser(HttpParser::Kind::Request, ctx->options.limits)
    , m_slot(std::move(slot))
{
    m_socket->setParent(this);
    m_socket->setListener(this);
    m_tlsClient = tls;
    m_parser.setBodyHandler(this);
    m_ctx->stats.activeConnections.fetch_add(1, std::memory_order_relaxed);
    m_ctx->stats.connectionsAccepted.fetch_add(1, std::memory_order_relaxed);
    m_clock.start();
    armIdleTimer();
    if (m_socket->hasPendingInput())
        QMetaObject::invokeMethod(this, [this] { pump(); }, Qt::QueuedConnection);
}

DownstreamConnection::~DownstreamConnection()
{
    m_lookup.reset();
    m_policyCheck.reset();
    m_exchange.reset();
    m_finishedExchange.reset();
    if (!m_logged)
        emitLog();
    m_ctx->stats.activeConnections.fetch_sub(1, std::memory_order_relaxed);
}

void DownstreamConnection::drain()
{
    if (m_state == State::ReadingHead && !m_parser.inMessage()) {
        closeAfterFlush();
        return;
    }
    m_keepAlive = false;
}

void DownstreamConnection::abort()
{
    if (m_tunnel) {
        m_tunnel->abort(); // the tunnel owns (and may already have released) the client socket
        return;
    }
    m_socket->abort();
    onClientDisconnected();
}

void DownstreamConnection::armIdleTimer()
{
    m_idleTimer.start(this, m_ctx->options.clientIdleTimeoutMs);
}

void DownstreamConnection::timerEvent(QTimerEvent *ev)
{
    if (m_idleTimer.fired(this, ev)) {
        if (m_state == State::ReadingHead && !m_parser.inMessage())
            closeAfterFlush();
        else
            armIdleTimer();
    } else if (m_readTimer.fired(this, ev)) {
        onReadTimeout();
    } else if (m_requestTimer.fired(this, ev)) {
        if (!m_responseStarted) {
            m_lookup.reset();
            m_policyCheck.reset();
            m_exchange.reset();
            m_keepAlive = false;
            sendLocalResponse(504, "upstream_response_timeout", "request timed out\n");
            closeAfterFlush();
        } else {
            abort();
        }
    }
}

void DownstreamConnection::onReadTimeout()
{
    // The client is too slow sending its request (slowloris): answer 408 if we may still answer, and close.
    if (m_closed || m_state == State::Closing || m_state == State::Tunnel)
        return; // already answering and closing; the flush has its own bounds
    const bool inHead = m_state == State::ReadingHead;
    if (inHead && m_logged) {
        m_rec = AccessLogRecord();
        m_rec.time = QDateTime::currentDateTimeUtc();
        m_rec.clientAddress = m_socket->peerAddress();
        m_rec.clientPort = m_socket->peerPort();
        m_logged = false;
    }
    m_keepAlive = false;
    if (m_responseStarted && !inHead) {
        abort();
        return;
    }
    m_lookup.reset();
    m_policyCheck.reset();
    m_exchange.reset();
    sendLocalResponse(408, inHead ? "request_header_timeout" : "request_body_timeout",
                      inHead ? "request head not received in time\n" : "request body not received in time\n");
    closeAfterFlush();
}

void DownstreamConnection::pump()
{
    if (m_inPump) {
        m_pumpAgain = true;
        return;
    }
    m_inPump = true;
    Liveness::Guard guard(m_liveness);
    for (;;) {
        m_pumpAgain = false;
        if (m_closed || m_state == State::Closing || m_state == State::Tunnel)
            break;
        // Forwarding without an exchange: a local response was sent and the rest of the request is dropped.
        const bool wantParse = m_state == State::ReadingHead
            || (m_state == State::Forwarding && !m_requestDone
                && (!m_exchange || m_exchange->bufferedBodyBytes() <= m_ctx->options.bufferLimit));
        if (!wantParse)
            break;
        if (m_in.isEmpty()) {
            if (m_state == State::Forwarding && spliceRequestBody()) {
                if (!guard)
                    return;
                if (m_requestDone || m_pumpAgain)
                    continue; // the body is through (or something changed): look again
                break;        // the sockets announce the rest
            }
            if (m_in.fill(m_socket) <= 0)
                break;
        }
        HttpParser::Stop stop;
        const qsizetype used = m_parser.feed(m_in.data(), m_in.size(), &stop);
        m_in.consume(used);
        if (!guard)
            return;
        if (m_state == State::ReadingHead && stop == HttpParser::Stop::NeedMore && m_parser.inMessage() && !m_readTimer.isActive()
            && m_ctx->options.requestHeadTimeoutMs > 0)
            m_readTimer.start(this, m_ctx->options.requestHeadTimeoutMs);
        switch (stop) {
        case HttpParser::Stop::NeedMore:
            break;
        case HttpParser::Stop::Head:
            onRequestHead();
            break;
        case HttpParser::Stop::Complete:
            onRequestComplete();
            break;
        case HttpParser::Stop::Error: {
            const auto &err = m_parser.error();
            if (m_logged) {
                m_rec = AccessLogRecord();
                m_rec.time = QDateTime::currentDateTimeUtc();
                m_rec.clientAddress = m_socket->peerAddress();
                m_rec.clientPort = m_socket->peerPort();
                m_logged = false;
            }
            m_keepAlive = false;
            m_lookup.reset();
            m_policyCheck.reset();
            m_exchange.reset();
            if (!m_responseStarted)
                sendLocalResponse(err.status, err.reason, "bad request: " + err.reason + "\n");
            closeAfterFlush();
            break;
        }
        }
        if (!guard)
            return;
    }
    if (guard) {
        m_inPump = false;
        m_in.recycle();
    }
}

/// Moves the rest of a Content-Length request body from the client's socket straight to the upstream's (splice() on
/// Linux, plain TCP both ways) instead of reading it and writing it out again. True when it did what it could now
/// (the sockets announce the rest; the exchange's onRequestBodyDrained when the upstream was full), false to read.
bool DownstreamConnection::spliceRequestBody()
{
    if (m_requestDone || !m_exchange)
        return false;
    const qint64 left = m_parser.bodyBytesLeft();
    if (left <= 0 || (!m_splicingBody && left < net::kSpliceMinBytes))
        return false;
    net::Stream *to = m_exchange->bodySpliceTarget();
    if (!to)
        return false;
    const qint64 moved = m_socket->spliceTo(to, left);
    if (moved < 0)
        return false;
    m_splicingBody = true;
    m_rec.bytesIn += moved;
    m_exchange->onBodySpliced(moved);
    if (moved > 0 && m_parser.skipBody(moved) == HttpParser::Stop::Complete)
        onRequestComplete();
    return true;
}

void DownstreamConnection::onRequestHead()
{
    m_idleTimer.stop();
    m_readTimer.stop();
    if (m_parser.head().hasRequestBody() && !m_parser.head().isConnect() && m_ctx->options.requestBodyTimeoutMs > 0)
        m_readTimer.start(this, m_ctx->options.requestBodyTimeoutMs);
    m_finishedExchange.reset();
    const http::MessageHead &h = m_parser.head();
    m_rec = AccessLogRecord();
    m_logged = false;
    m_rec.time = QDateTime::currentDateTimeUtc();
    m_rec.clientAddress = m_socket->peerAddress();
    m_rec.clientPort = m_socket->peerPort();
    m_rec.method = h.method;
    m_rec.path = h.target;
    m_clock.restart();
    // [apps hook] once per connection: the program behind the client, for the policies and the log
    if (!std::exchange(m_applicationLooked, true))
        m_application = m_ctx->applications.lookup(*m_socket);
    m_rec.application = m_application;
    m_dnsDoneUs = m_connectedUs = 0;
    m_requestDone = false;
    m_splicingBody = false;
    m_responseStarted = false;
    m_responseDone = false;
    m_chunkedOut = false;
    m_closeDelimited = false;
    m_responsePaused = false;
    m_match.reset();
    m_keepAlive = h.keepAlive && !m_ctx->draining.load(std::memory_order_relaxed);
    m_clientMinor = h.versionMinor;
    m_headRequest = h.isHead();
    m_websocket = false;
    m_expectContinue = false;
    m_state = State::Resolving;

    // The target, in its one canonical spelling: every stage below reads m_canon, never the raw head.
    if (const auto refused = canonicalizeRequest(h, m_tlsClient, m_ctx->options.paths, &m_canon)) {
        sendLocalResponse(refused->status, refused->reason, refused->body);
        return;
    }
    m_host = m_canon.host;
    m_port = m_canon.port;
    m_rec.host = m_host;
    m_rec.path = m_canon.logTarget();
    // The port the request named, also when it is answered before routing (404 route_not_found): without it the
    // log could not say where an origin-form request with "Host: h:8080" went.
    if (m_port > 0)
        m_rec.port = quint16(m_port);

    // The listener's own PAC file (proxy/pacresponder.h): answered here, it is no proxied request.
    if (const auto pac = answerPacRequest(h, m_canon, *m_listener, m_ctx->router.load().get())) {
        sendLocalResponse(pac->status, pac->reason, pac->body, {}, &pac->headers);
        return;
    }

    if (h.isConnect()) {
        const QList<quint16> allowed = m_listener->connectPorts.isEmpty() ? QList<quint16>{443}
                                                                          : m_listener->connectPorts;
        if (!allowed.contains(quint16(m_port))) {
            m_rec.port = quint16(m_port);
            sendLocalResponse(403, "connect_port_not_allowed",
                              "CONNECT to port " + QByteArray::number(m_port) + " is not allowed\n");
            return;
        }
    }

    // Routing.
    routing::RequestInfo info;
    info.gatewayNamespace = m_listener->gatewayNamespace;
    info.gatewayName = m_listener->gatewayName;
    info.listenerName = m_listener->name;
    info.method = h.method;
    info.path = m_canon.path;
    info.query = m_canon.query;
    m_hostText = QString::fromLatin1(m_host);
    info.host = m_hostText;
    info.headers = &h.headers;
    const std::shared_ptr<const Router> router = m_ctx->router.load();
    if (router)
        m_match = router->match(info, m_worker->random());
    if (!m_match) {
        sendLocalResponse(404, "route_not_found", "no route for " + m_host + "\n");
        return;
    }

    // Egress policies: after routing, before DNS. The rest of the request continues in continueAfterPolicy().
    checkPolicy();
}

/// Asks the policies about the request; the verdict may come later (a password hash runs off this thread), and
/// meanwhile nothing else of the connection is read (state Resolving). Whatever drops the request (timeout, the
/// client leaving) also drops m_policyCheck, which cancels the callback.
void DownstreamConnection::checkPolicy()
{
    const http::MessageHead &h = m_parser.head();
    m_policy = m_ctx->policy.load();
    m_tunnelBytesPerSecond = m_tunnelBurstBytes = 0;
    if (!m_policy) {
        continueAfterPolicy({});
        return;
    }
    m_policyPath = h.isConnect() ? QByteArray() : m_canon.path;
    m_explicitProxy = m_canon.form == CanonicalRequest::Form::Absolute || h.isConnect();
    m_rec.port = quint16(m_port > 0 ? m_port
                                    : (m_canon.httpsScheme || (m_match->backend && m_match->backend->tls) ? 443 : 80));
    m_policyAttributes = policyAttributes(m_hostText);
    policy::RequestCheck check = m_policy->startCheckRequest(m_policyAttributes, this, [this](policy::Decision d) {
        m_policyCheck.reset();
        onPolicyVerdict(std::move(d));
        pump(); // what the interrupted pump would have done next: the body, the next request
    });
    if (check.pending)
        m_policyCheck = std::move(check.pending);
    else
        onPolicyVerdict(std::move(check.decision));
}

void DownstreamConnection::onPolicyVerdict(policy::Decision d)
{
    m_rec.identity = d.identity;
    m_rec.decision = d.summary;
    if (!d.allowed) {
        sendPolicyDenial(d, "policy_denied");
        return;
    }
    m_tunnelBytesPerSecond = d.tunnelBytesPerSecond;
    m_tunnelBurstBytes = d.tunnelBurstBytes;
    continueAfterPolicy(d.stripRequestHeaders);
}

void DownstreamConnection::continueAfterPolicy(const QList<QByteArray> &stripHeaders)
{
    const http::MessageHead &h = m_parser.head();
    if (m_match->redirect) {
        const routing::Redirect &r = *m_match->redirect;
        QByteArray location = r.scheme.isEmpty() ? QByteArray(m_canon.secureScheme ? "https" : "http")
                                                  : r.scheme.toLatin1();
        location += "://";
        const QByteArray rhost = r.hostname.isEmpty() ? m_host : r.hostname.toLatin1();
        location += rhost.contains(':') ? '[' + rhost + ']' : rhost;
        if (r.port)
            location += ':' + QByteArray::number(*r.port);
        else if (m_port > 0 && r.scheme.isEmpty())
            location += ':' + QByteArray::number(m_port);
        QByteArray path = m_canon.path;
        if (!r.path.isEmpty())
            path = r.path.toUtf8();
        else if (r.replacePrefixMatch) {
            const QByteArray prefix = m_match->matchedPrefix.toUtf8();
            QByteArray rest = path.mid(prefix.size());
            QByteArray repl = r.replacePrefixMatch->toUtf8();
            if (repl.endsWith('/') && rest.startsWith('/'))
                repl.chop(1);
            path = repl + rest;
            if (path.isEmpty())
                path = "/";
        }
        location += path.isEmpty() ? QByteArray("/") : path;
        if (m_canon.hasQuery)
            location += '?' + m_canon.query;
        const int status = r.statusCode ? r.statusCode : 302;
        sendLocalResponse(status, {}, QByteArray(), location);
        return;
    }
    const std::shared_ptr<const routing::Backend> backend = m_match->backend;
    if (!backend) {
        sendLocalResponse(500, "no_backend", "the route has no usable backend\n");
        return;
    }

    // An absolute-form https:// request asks for TLS to the origin: it is never sent in plaintext.
    if (m_canon.httpsScheme && backend->tlsDisabled) {
        sendLocalResponse(400, "tls_disabled_by_backend",
                          "the backend " + backend->key.toUtf8() + " has TLS turned off (spec.tls: false), so it "
                          "cannot carry this https:// request; send it with CONNECT or use another backend\n");
        return;
    }

    // The request to send upstream.
    m_forward = forward::ForwardRequest();
    forward::Upstream &up = m_forward.upstream;
    up.tls = backend->tls || m_canon.httpsScheme;
    up.sni = backend->tlsSni;
    up.tlsInsecureSkipVerify = backend->tlsInsecureSkipVerify;
    up.tlsCaFile = backend->tlsCaFile;
    QByteArray targetHost = m_host;
    if (m_match->rewrite && !m_match->rewrite->hostname.isEmpty() && !h.isConnect())
        targetHost = m_match->rewrite->hostname.toLatin1().toLower();
    if (backend->type == routing::Backend::Type::Static) {
        up.host = backend->staticHost;
        up.port = backend->staticPort;
    } else {
        up.host = targetHost == m_host ? m_hostText : QString::fromLatin1(targetHost);
        up.port = quint16(m_port > 0 ? m_port : (up.tls ? 443 : 80));
    }
    m_rec.port = up.port;
    if (backend->tunnel) { // [#22 hook: upstream proxy] which proxy (or DIRECT) this request takes, and why
        if (!m_proxySelection) { // a PAC answer not yet cached comes later: then this runs again
            const quint64 serial = ++m_proxySelectionSerial;
            std::optional<forward::ProxySelection> now = forward::selectUpstreamProxy(
                *backend->tunnel, QLatin1String(h.isConnect() || up.tls ? "https" : "http"), up.host, up.port,
                backend->engine, m_ctx->hostCache.load(std::memory_order_acquire), this,
                [this, serial, stripHeaders](forward::ProxySelection later) {
                    if (serial != m_proxySelectionSerial || m_closed || m_state != State::Resolving)
                        return; // the request is gone
                    m_proxySelection = std::move(later);
                    continueAfterPolicy(stripHeaders);
                });
            if (!now)
                return;
            m_proxySelection = std::move(*now);
        }
        const forward::ProxySelection via = *std::exchange(m_proxySelection, std::nullopt);
        m_rec.upstreamProxy = via.proxy ? via.proxy->address : QStringLiteral("DIRECT");
        m_rec.upstreamProxyReason = via.why;
        if (!via.error.isEmpty()) {
            sendLocalResponse(502, "upstream_proxy_unsupported", "upstream_proxy_unsupported: " + via.error.toUtf8()
                                                                     + "\n");
            return;
        }
        up.proxy = via.proxy;
        up.proxyFallbacks = via.fallbacks;
    }

    if (!h.isConnect()) {
        m_forward.method = h.method;
        QByteArray path = m_canon.path;
        if (m_match->rewrite) {
            const routing::UrlRewrite &rw = *m_match->rewrite;
            if (rw.replaceFullPath) {
                path = rw.replaceFullPath->toUtf8();
            } else if (rw.replacePrefixMatch) {
                const QByteArray prefix = m_match->matchedPrefix.toUtf8();
                QByteArray rest = path.mid(prefix.size());
                QByteArray repl = rw.replacePrefixMatch->toUtf8();
                if (repl.endsWith('/') && rest.startsWith('/'))
                    repl.chop(1);
                path = repl + rest;
                if (path.isEmpty())
                    path = "/";
            }
        }
        m_forward.target = path;
        if (m_canon.hasQuery)
            m_forward.target.append('?').append(m_canon.query);
        m_websocket = h.upgrade && http::headerHasToken(h.headers, "upgrade", "websocket");
        m_forward.upgrade = m_websocket;
        m_forward.headers = h.headers;
        http::stripHopByHop(m_forward.headers, m_websocket);
        m_expectContinue = http::removeHeader(m_forward.headers, "expect") > 0
            && http::tokenListContains(*http::findHeader(h.headers, "expect"), "100-continue");
        // The Host the origin sees is the canonical authority the rules saw (absolute-form: the URI's, which wins
        // over any Host header); a hostname rewrite replaces it.
        if (m_match->rewrite && !m_match->rewrite->hostname.isEmpty()) {
            http::setHeader(m_forward.headers, kHostName, m_match->rewrite->hostname.toLatin1());
        } else {
            const QByteArray *sent = http::findHeader(m_forward.headers, "host");
            if (!sent || *sent != m_canon.authority)
                http::setHeader(m_forward.headers, kHostName, m_canon.authority);
        }
        m_forward.headers.append({QByteArrayLiteral("Via"), QByteArrayLiteral("1.1 dfproxy")});
        if (m_ctx->options.addXForwardedFor) {
            const QByteArray *prior = http::findHeader(m_forward.headers, "x-forwarded-for");
            if (m_clientAddressText.isEmpty())
                m_clientAddressText = m_socket->peerAddress().toString().toLatin1();
            const QByteArray &me = m_clientAddressText;
            http::setHeader(m_forward.headers, "X-Forwarded-For", prior ? *prior + ", " + me : me);
        }
        if (m_ctx->options.addXForwardedProto)
            http::setHeader(m_forward.headers, "X-Forwarded-Proto", m_tlsClient ? "https" : "http");
        applyModifier(m_forward.headers, m_match->requestHeaders);
        for (const QByteArray &name : stripHeaders)
            http::removeHeader(m_forward.headers, name);
        m_forward.contentLength = h.chunked ? -1 : std::max<qint64>(0, h.contentLength);
        m_forward.connectTimeoutMs = m_ctx->options.connectTimeoutMs;
        m_forward.responseTimeoutMs = m_match->backendRequestTimeoutMs > 0 ? m_match->backendRequestTimeoutMs
                                                                          : m_ctx->options.responseTimeoutMs;
        if (m_match->requestTimeoutMs > 0)
            m_requestTimer.start(this, m_match->requestTimeoutMs);
    }

    // DNS.
    dns::HostCache *cache = m_ctx->hostCache.load(std::memory_order_acquire);
    if (!cache) {
        sendLocalResponse(503, "dns_resolution_failed",
                          "DNS resolution failed for " + up.host.toUtf8() + ": dns_resolution_failed\n");
        return;
    }
    const dns::LookupFamily family = backend->lookupFamily.value_or(m_ctx->options.defaultLookupFamily);
    m_worker->attachDns(cache);
    Liveness::Guard guard(m_liveness);
    dns::HostCache::Outcome outcome = cache->lookup(up.host, up.port, family, this,
                                                    [this](const dns::ResolveResult &r) {
                                                        m_rec.dnsWaited = true; // not in the cache: it waited
                                                        onResolved(r);
                                                    });
    if (!guard)
        return;
    if (outcome.ready)
        onResolved(*outcome.ready);
    else
        m_lookup = std::move(outcome.pending);
}

void DownstreamConnection::onResolved(const dns::ResolveResult &result)
{
    m_dnsDoneUs = nowUs();
    m_rec.dnsUs = m_dnsDoneUs;
    m_rec.dnsCacheHit = result.cacheHit;
    if (!result.ok() && m_forward.upstream.proxy) {
        // [#22 hook: upstream proxy] the proxy resolves the target: a name unknown here still goes out through it
        // (the SSRF guard checks what does resolve here, below).
        m_rec.dnsCacheHit = false;
        if (m_parser.head().isConnect())
            startConnectTunnel();
        else
            startForward();
        return;
    }
    if (!result.ok()) {
        const QByteArray reason = dnsReason(result.error == dns::DnsError::None ? dns::DnsError::NoData
                                                                                : result.error);
        // The cache's detail says what happened ("DNS cache overflow: ...", "no answer from 127.0.0.53 ...").
        const QByteArray detail = result.detail.isEmpty() ? QByteArray() : " (" + result.detail.toUtf8() + ")";
        sendLocalResponse(503, reason,
                          "DNS resolution failed for " + m_forward.upstream.host.toUtf8() + ": " + reason + detail
                              + "\n");
        return;
    }
    m_forward.upstream.addresses = result.addresses;
    if (m_policy) {
        // The SSRF guard: connect only to what it lets through, in its order.
        policy::Decision d = m_policy->checkResolved(m_policyAttributes, result.addresses);
        if (!d.identity.isEmpty())
            m_rec.identity = d.identity;
        if (!d.summary.isEmpty())
            m_rec.decision = d.summary;
        if (!d.allowed || d.allowedAddresses.isEmpty()) {
            sendPolicyDenial(d, "destination_not_allowed");
            return;
        }
        m_forward.upstream.addresses = std::move(d.allowedAddresses);
    }
    if (m_parser.head().isConnect()) {
        startConnectTunnel();
        return;
    }
    startForward();
}

void DownstreamConnection::startForward()
{
    // Upgrades need the socket afterwards, which only the native engine can hand over.
    const routing::Backend::Engine engine = m_websocket ? routing::Backend::Engine::Native : m_match->backend->engine;
    forward::Forwarder *fwd = m_worker->forwarder(engine);
    m_state = State::Forwarding;
    m_exchange = fwd->start(std::move(m_forward), this);
    if (m_expectContinue && !m_requestDone)
        writeClient("HTTP/1.1 100 Continue\r\n\r\n", 25);
    pump();
}

void DownstreamConnection::onBody(const char *data, qsizetype size)
{
    m_rec.bytesIn += size;
    if (m_exchange)
        m_exchange->writeBody(data, size);
}

void DownstreamConnection::onRequestComplete()
{
    m_readTimer.stop();
    m_requestDone = true;
    if (m_exchange)
        m_exchange->endBody();
    if (m_responseDone)
        finishTransaction();
}

void DownstreamConnection::onUpstreamProxyUsed(const forward::UpstreamProxy *proxy)
{
    // [#22 hook: upstream proxy] a later entry of the PAC result carried the request
    m_rec.upstreamProxy = proxy ? proxy->address : QStringLiteral("DIRECT");
}

void DownstreamConnection::onUpstreamConnected(const QHostAddress &address, bool reused)
{
    m_connectedUs = nowUs();
    m_rec.connectUs = reused ? 0 : m_connectedUs - m_dnsDoneUs;
    m_rec.resolvedAddress = address;
    m_rec.upstreamReused = reused;
}

void DownstreamConnection::onResponseHead(const http::MessageHead &head)
{
    m_responseStarted = true;
    m_requestTimer.stop();
    m_rec.status = head.status;
    m_rec.upstreamUs = nowUs() - m_connectedUs;
    const bool upgrade = head.status == 101;
    m_out.resize(0);
    http::appendResponseHead(m_out, m_clientMinor, head.status, head.reasonPhrase, {});
    if (m_match && !m_match->responseHeaders.isEmpty()) {
        http::HeaderList headers = head.headers;
        http::stripHopByHop(headers, upgrade);
        applyModifier(headers, m_match->responseHeaders);
        for (const auto &h : headers)
            http::appendHeader(m_out, h.first, h.second);
    } else {
        // No edits: write the end-to-end headers straight from the parsed head, without copying the list.
        const http::HopByHopFilter hop(head.headers, upgrade);
        for (const auto &h : head.headers) {
            if (!hop.drops(h.first))
                http::appendHeader(m_out, h.first, h.second);
        }
    }
    http::appendHeader(m_out, "Via", "1.1 dfproxy");
    const bool noBody = m_headRequest || head.status == 204 || head.status == 304 || head.status < 200;
    if (noBody) {
        if ((m_headRequest || head.status == 304) && head.contentLength >= 0)
            http::appendHeader(m_out, "Content-Length", Decimal(head.contentLength).view());
    } else if (head.contentLength >= 0) {
        http::appendHeader(m_out, "Content-Length", Decimal(head.contentLength).view());
    } else if (m_clientMinor >= 1) {
        m_chunkedOut = true;
        http::appendHeader(m_out, "Transfer-Encoding", "chunked");
    } else {
        m_closeDelimited = true;
        m_keepAlive = false;
    }
    if (!m_requestDone)
        m_keepAlive = false; // an early response: the rest of the request body is not worth reading
    if (upgrade)
        http::appendHeader(m_out, "Connection", "Upgrade");
    else if (!m_keepAlive)
        http::appendHeader(m_out, "Connection", "close");
    else if (m_clientMinor == 0)
        http::appendHeader(m_out, "Connection", "keep-alive");
    appendRaw(m_out, "\r\n", 2);
    m_socket->write(m_out);
}

void DownstreamConnection::onResponseBody(const char *data, qsizetype size)
{
    m_rec.bytesOut += size;
    if (m_chunkedOut) {
        m_out.resize(0);
        http::appendChunk(m_out, data, size);
        m_socket->write(m_out);
    } else {
        m_socket->write(data, size);
    }
    if (!m_responsePaused && m_socket->bytesToWrite() > m_ctx->options.bufferLimit && m_exchange) {
        m_responsePaused = true;
        m_exchange->setResponsePaused(true);
    }
}

net::Stream *DownstreamConnection::bodySpliceTarget()
{
    return m_chunkedOut ? nullptr : m_socket;
}

void DownstreamConnection::onResponseBodySpliced(qint64 size)
{
    m_rec.bytesOut += size;
    // The pipe holds at most a pipe's worth: wait for the client whenever anything is left, not at bufferLimit.
    if (!m_responsePaused && m_socket->bytesToWrite() > 0 && m_exchange) {
        m_responsePaused = true;
        m_exchange->setResponsePaused(true);
    }
}

void DownstreamConnection::onResponseComplete()
{
    if (m_chunkedOut)
        writeClient("0\r\n\r\n", 5);
    m_socket->flush();
    m_responseDone = true;
    m_finishedExchange = std::move(m_exchange);
    if (m_requestDone || !m_keepAlive)
        finishTransaction();
}

void DownstreamConnection::onUpgraded(QTcpSocket *socket, const QByteArray &leftover)
{
    m_finishedExchange = std::move(m_exchange);
    m_socket->flush();
    // Bytes the client sent after the handshake are already in m_in.
    QByteArray clientBytes(m_in.data(), m_in.size());
    m_in.clear();
    becomeTunnel(socket, leftover, clientBytes);
}

void DownstreamConnection::onRequestBodyDrained()
{
    pump();
}

void DownstreamConnection::onError(forward::ForwardError error, const QString &detail)
{
    m_finishedExchange = std::move(m_exchange);
    if (m_responseStarted) {
        m_rec.reason = forward::reasonString(error);
        abort();
        return;
    }
    // After a response that broke the rules the client connection ends too: nothing the origin sent may be
    // taken for the answer to the client's next request.
    if (!m_requestDone || error == forward::ForwardError::BadResponse)
        m_keepAlive = false;
    const QByteArray reason = forward::reasonString(error);
    // The rule a bad response broke (the same names on both engines) goes in x-dfproxy-error-detail; the error
    // itself stays upstream_bad_response, which logs and metrics count.
    static const QString kBadResponse = QStringLiteral("bad response: ");
    policy::HeaderList rule;
    if (error == forward::ForwardError::BadResponse && detail.startsWith(kBadResponse))
        rule.append({QByteArrayLiteral("x-dfproxy-error-detail"), detail.mid(kBadResponse.size()).toLatin1()});
    sendLocalResponse(forward::statusFor(error), reason, reason + ": " + detail.toUtf8() + "\n", {},
                      rule.isEmpty() ? nullptr : &rule);
}

policy::RequestAttributes DownstreamConnection::policyAttributes(const QString &host) const
{
    const http::MessageHead &h = m_parser.head();
    policy::RequestAttributes a;
    a.clientAddress = m_rec.clientAddress;
    a.gatewayNamespace = m_listener->gatewayNamespace;
    a.gatewayName = m_listener->gatewayName;
    a.listenerName = m_listener->name;
    if (m_match) {
        a.routeNamespace = m_match->routeNamespace;
        a.routeName = m_match->routeName;
        if (m_match->backend) {
            a.backendNamespace = m_match->backend->ns;
            a.backendName = m_match->backend->name;
        }
    }
    a.method = h.method;
    a.host = host;
    a.port = m_rec.port;
    a.path = m_policyPath;
    a.headers = &h.headers;
    a.explicitProxy = m_explicitProxy;
    a.application = m_application.get(); // [apps hook]
    return a;
}

void DownstreamConnection::sendPolicyDenial(const policy::Decision &d, QByteArrayView defaultReason)
{
    const int status = d.status >= 400 && d.status <= 599 ? d.status : 403;
    const QByteArrayView reason = d.reason.isEmpty() ? defaultReason : QByteArrayView(d.reason);
    const QByteArray body = d.body.isEmpty() ? reason.toByteArray() + '\n' : d.body;
    if (d.summary.isEmpty())
        m_rec.decision = "deny:" + reason.toByteArray();
    sendLocalResponse(status, reason, body, {}, &d.responseHeaders);
}

void DownstreamConnection::sendLocalResponse(int status, QByteArrayView reason, const QByteArray &body,
                                             QByteArrayView location, const policy::HeaderList *extraHeaders)
{
    m_requestTimer.stop();
    m_responseStarted = true;
    m_responseDone = true;
    m_rec.status = status;
    m_rec.reason = reason.toByteArray();
    if (m_parser.inMessage() && !m_requestDone && m_parser.head().hasRequestBody())
        m_keepAlive = false; // the unread body would be taken for the next request
    m_out.resize(0);
    char line[16] = "HTTP/1.1 ";
    line[7] = m_clientMinor == 0 ? '0' : '1';
    m_out.append(line, 9).append(QByteArray::number(status)).append(' ').append(http::reasonPhrase(status));
    m_out.append("\r\n", 2);
    if (!location.isEmpty())
        http::appendHeader(m_out, "Location", location);
    if (!reason.isEmpty())
        http::appendHeader(m_out, "x-dfproxy-error", reason);
    bool typed = false; // extraHeaders may set the Content-Type (the PAC file does)
    if (extraHeaders) {
        for (const auto &hdr : *extraHeaders) {
            if (!http::isValidHeaderName(hdr.first) || !http::isValidHeaderValue(hdr.second))
                continue;
            http::appendHeader(m_out, hdr.first, hdr.second);
            typed = typed || hdr.first.compare("content-type", Qt::CaseInsensitive) == 0;
        }
    }
    if (!typed)
        http::appendHeader(m_out, "Content-Type", "text/plain; charset=utf-8");
    // A 304 has no content, and a Content-Length there would have to be the 200's (RFC 9110 8.6).
    if (status != 304)
        http::appendHeader(m_out, "Content-Length", QByteArray::number(body.size()));
    if (!m_keepAlive)
        http::appendHeader(m_out, "Connection", "close");
    else if (m_clientMinor == 0)
        http::appendHeader(m_out, "Connection", "keep-alive");
    m_out.append("\r\n", 2);
    if (!m_headRequest)
        m_out.append(body);
    m_socket->write(m_out);
    m_socket->flush();
    m_rec.bytesOut = m_headRequest ? 0 : body.size();
    m_state = State::Forwarding;
    if (m_requestDone || !m_keepAlive)
        finishTransaction();
    else
        pump(); // read (and drop) the rest of the request until it completes
}

void DownstreamConnection::writeClient(const char *data, qsizetype size)
{
    m_socket->write(data, size);
}

void DownstreamConnection::finishTransaction()
{
    ++m_proxySelectionSerial; // [#22 hook: upstream proxy] a PAC answer still on its way is for nobody now
    m_requestTimer.stop();
    emitLog();
    m_lookup.reset();
    m_policyCheck.reset();
    if (m_closeDelimited || !m_keepAlive || m_ctx->draining.load(std::memory_order_relaxed)) {
        closeAfterFlush();
        return;
    }
    m_state = State::ReadingHead;
    m_requestDone = m_responseDone = false;
    armIdleTimer();
    // Pipelined requests may already be buffered; not from inside the exchange's callback. With nothing
    // buffered, the next readyRead starts the next request (no queued hop per request).
    if (!m_in.isEmpty() || m_socket->hasPendingInput())
        QMetaObject::invokeMethod(this, [this] { pump(); }, Qt::QueuedConnection);
}

void DownstreamConnection::emitLog()
{
    if (m_logged)
        return;
    m_logged = true;
    m_rec.totalUs = nowUs();
    if (m_rec.status)
        m_ctx->stats.countStatus(m_rec.status);
    m_ctx->stats.countUpstreamProxy(m_rec.upstreamProxy, m_rec.reason); // [#22 hook: upstream proxy]
    if (AccessLogSink *sink = m_ctx->accessLog.load(std::memory_order_acquire)) {
        // Built only when someone reads them: the hot path does without these strings.
        // The route table builds these keys once; the fallbacks serve listeners and matches made elsewhere.
        if (m_rec.gateway.isEmpty())
            m_rec.gateway = !m_listener->gatewayKey.isEmpty()
                ? m_listener->gatewayKey
                : m_listener->gatewayNamespace + QLatin1Char('/') + m_listener->gatewayName;
        if (m_match && m_rec.route.isEmpty()) {
            m_rec.route = !m_match->routeKey.isEmpty() ? m_match->routeKey
                                                        : m_match->routeNamespace + QLatin1Char('/') + m_match->routeName
                                                              + QLatin1Char('#') + QString::number(m_match->ruleIndex);
            if (m_match->backend)
                m_rec.backend = !m_match->backend->key.isEmpty()
                    ? m_match->backend->key
                    : m_match->backend->ns + QLatin1Char('/') + m_match->backend->name;
        }
        sink->write(m_rec);
    }
}

void DownstreamConnection::closeAfterFlush()
{
    if (m_state == State::Closing || m_closed)
        return;
    m_state = State::Closing;
    m_lookup.reset();
    m_policyCheck.reset();
    m_exchange.reset();
    m_socket->closeAfterFlush();
    if (!m_socket->isOpen())
        onClientDisconnected();
}

void DownstreamConnection::onClientBytesWritten()
{
    if (m_responsePaused && m_socket->bytesToWrite() <= m_ctx->options.bufferLimit / 2) {
        m_responsePaused = false;
        if (m_exchange)
            m_exchange->setResponsePaused(false);
    }
}

void DownstreamConnection::onClientDisconnected()
{
    if (m_closed)
        return;
    if (m_state == State::Tunnel)
        return; // the tunnel owns the socket now
    m_closed = true;
    m_lookup.reset();
    m_policyCheck.reset();
    m_exchange.reset();
    if (!m_logged && m_rec.status == 0)
        m_rec.reason = "client_closed";
    emitLog();
    m_worker->connectionClosed(this);
    deleteLater();
}

void DownstreamConnection::startConnectTunnel()
{
    m_state = State::Forwarding;
    // The forwarder's dialler: the same address order, per-address connect timeout, fallback, DNS cache reports and
    // errors. A tunnel carries bytes as they are: no TLS to the upstream here, whatever the backend says.
    forward::Upstream upstream = m_forward.upstream;
    upstream.tls = false;
    upstream.viaConnect = true; // [#22 hook: upstream proxy] through one (if any), with CONNECT host:port
    forward::Connector::Options options;
    options.timeoutMs = m_ctx->options.connectTimeoutMs;
    options.hostCache = m_ctx->hostCache.load(std::memory_order_acquire);
    // A child: a client that leaves while it dials takes it along (and its socket is closed). Done, it goes later
    // (the callbacks run inside it).
    auto done = std::make_shared<forward::Connector *>(nullptr);
    auto *connector = new forward::Connector(
        std::move(upstream), std::move(options),
        [this, done](QTcpSocket *up, const QHostAddress &address) {
            (*done)->deleteLater();
            if (m_closed) { // the client left; this connection goes later
                up->abort();
                up->deleteLater();
                return;
            }
            m_rec.resolvedAddress = address;
            if (!m_rec.upstreamProxy.isEmpty()) // [#22 hook: upstream proxy] the PAC entry that carried it
                m_rec.upstreamProxy = (*done)->proxy() ? (*done)->proxy()->address : QStringLiteral("DIRECT");
            m_rec.connectUs = nowUs() - m_dnsDoneUs;
            m_rec.status = 200;
            m_responseStarted = true;
            writeClient("HTTP/1.1 200 Connection Established\r\n\r\n", 39);
            // The parser stops at the head one byte early (http_parser pauses before the final LF): let it finish
            // the CONNECT message, so only what follows it goes into the tunnel.
            while (!m_requestDone && !m_in.isEmpty()) {
                HttpParser::Stop stop;
                const qsizetype used = m_parser.feed(m_in.data(), m_in.size(), &stop);
                m_in.consume(used);
                if (stop == HttpParser::Stop::Complete)
                    m_requestDone = true;
                else if (stop == HttpParser::Stop::Error || used == 0)
                    break;
            }
            QByteArray clientBytes(m_in.data(), m_in.size());
            m_in.clear();
            becomeTunnel(up, QByteArray(), clientBytes);
        },
        [this, done](forward::ForwardError error, const QString &detail) {
            (*done)->deleteLater();
            if (!m_closed)
                onError(error, detail);
        },
        this);
    *done = connector;
    connector->start();
}

void DownstreamConnection::becomeTunnel(QTcpSocket *upstream, const QByteArray &leftover,
                                        const QByteArray &clientBytes)
{
    m_state = State::Tunnel;
    m_idleTimer.stop();
    m_readTimer.stop();
    m_requestTimer.stop();
    m_rec.tunnel = true;
    m_socket->setListener(nullptr);
    QTcpSocket *client = m_socket->release();
    m_rec.bytesIn = clientBytes.size();
    m_rec.bytesOut = leftover.size();
    m_ctx->stats.activeTunnels.fetch_add(1, std::memory_order_relaxed);
    QPointer<DownstreamConnection> self(this);
    if (!client) { // the client left while the tunnel was being set up
        upstream->abort();
        upstream->deleteLater();
        m_ctx->stats.activeTunnels.fetch_sub(1, std::memory_order_relaxed);
        m_closed = true;
        emitLog();
        m_worker->connectionClosed(this);
        deleteLater();
        return;
    }
    m_tunnel = Tunnel::create(client, upstream, leftover, clientBytes, m_ctx->options.bufferLimit,
                          [self](qint64 up, qint64 down) {
                              if (!self)
                                  return;
                              self->m_ctx->stats.activeTunnels.fetch_sub(1, std::memory_order_relaxed);
                              self->m_rec.bytesIn += up;
                              self->m_rec.bytesOut += down;
                              self->m_closed = true;
                              self->emitLog();
                              self->m_worker->connectionClosed(self);
                              self->deleteLater();
                          },
                          this);
    if (m_tunnelBytesPerSecond > 0) {
        m_tunnel->setBandwidthLimit(m_tunnelBytesPerSecond, m_tunnelBurstBytes, &m_ctx->stats.tunnelThrottlePauses);
        m_ctx->stats.tunnelsThrottled.fetch_add(1, std::memory_order_relaxed);
    }
}

} // namespace dfproxy::proxy
