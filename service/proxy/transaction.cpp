// SPDX-License-Identifier: Apache-2.0
#include "proxy/transaction.h"

#include "base/logcategories.h"
#include "dns/hostcache.h"
#include "forward/connector.h"
#include "net/stream.h"
#include "proxy/proxycontext.h"
#include "proxy/stages/stages.h"

#include <QTcpSocket>

#include <iterator>

namespace dfproxy::proxy {

Transaction::Transaction(ProxyContext *ctx, ProxyWorker *worker, TransactionHost *host,
                         const routing::Listener *listener, bool tlsClient)
    : ctx(ctx), worker(worker), host(host), listener(listener), tlsClient(tlsClient)
{
    m_clock.start();
}

Transaction::~Transaction()
{
    cancel();
    emitLog();
}

void Transaction::beginRecord(const QHostAddress &clientAddress, quint16 clientPort)
{
    rec = telemetry::AccessLogEntry();
    logged = false;
    rec.time = QDateTime::currentDateTimeUtc();
    rec.clientAddress = clientAddress;
    rec.clientPort = clientPort;
}

void Transaction::begin(const http::MessageHead *h, const QHostAddress &clientAddress, quint16 clientPort)
{
    head = h;
    beginRecord(clientAddress, clientPort);
    rec.method = h->method;
    rec.path = h->target;
    // Static text, no allocation per request.
    static const QByteArray kHttp2 = QByteArrayLiteral("HTTP/2"), kHttp11 = QByteArrayLiteral("HTTP/1.1"),
                            kHttp10 = QByteArrayLiteral("HTTP/1.0");
    rec.protocol = h->versionMajor == 2 ? kHttp2 : h->versionMinor == 0 ? kHttp10 : kHttp11;
    m_clock.restart();
    dnsDoneUs = connectedUs = 0;
    dnsLeftToProxy = false;
    proxySelection.reset(); // a PAC answer for the previous request is for nobody now
    policyAttributes = {}; // it views the previous request's head and match
    match.reset();
    websocket = false;
    expectContinue = false;
    m_next = 0;
}

StageResult Transaction::reply(LocalReply r)
{
    m_reply = std::move(r);
    return StageResult::Reply;
}

StageResult Transaction::reply(int status, QByteArrayView reason, QByteArray body, policy::HeaderList headers)
{
    return reply(LocalReply{status, reason.toByteArray(), std::move(body), {}, std::move(headers)});
}

StageResult Transaction::deny(const policy::Decision &d, QByteArrayView defaultReason)
{
    const int status = d.status >= 400 && d.status <= 599 ? d.status : 403;
    const QByteArrayView reason = d.reason.isEmpty() ? defaultReason : QByteArrayView(d.reason);
    QByteArray body = d.body.isEmpty() ? reason.toByteArray() + '\n' : d.body;
    if (d.summary.isEmpty())
        rec.decision = "deny:" + reason.toByteArray();
    return reply(status, reason, std::move(body), d.responseHeaders);
}

void Transaction::resumeWith(StageResult result)
{
    switch (result) {
    case StageResult::Continue:
        run();
        break;
    case StageResult::Wait:
        logWait();
        break;
    case StageResult::Reply:
        logLocalReply();
        host->sendLocalReply(m_reply);
        break;
    }
}

void Transaction::run()
{
    constexpr int count = int(std::size(stages::kStages));
    while (m_next < count) {
        switch (stages::kStages[m_next++].run(*this)) {
        case StageResult::Continue:
            break;
        case StageResult::Wait:
            logWait();
            return; // the stage's callback calls resumeWith()
        case StageResult::Reply:
            logLocalReply();
            host->sendLocalReply(m_reply); // last: the connection may start its next request from here
            return;
        }
    }
}

void Transaction::logWait() const
{
    qCDebug(lcProxy).noquote() << "stage" << currentStage() << "waits for" << (head ? head->method : QByteArray())
                               << hostText;
}

void Transaction::logLocalReply() const
{
    qCDebug(lcProxy).noquote() << "local reply" << m_reply.status << m_reply.reason << "from stage" << currentStage()
                               << "for" << (head ? head->method : QByteArray()) << hostText;
}

const char *Transaction::currentStage() const
{
    constexpr int count = int(std::size(stages::kStages));
    const int i = m_next > 0 ? m_next - 1 : 0;
    return i < count ? stages::kStages[i].name : "";
}

void Transaction::cancel()
{
    applicationWait.reset();
    policyCheck.reset();
    lookup.reset();
    proxySelection.reset();
    if (connector) {
        delete std::exchange(connector, nullptr); // not from its own callbacks: they clear `connector` first
    }
    if (net::Stream *up = std::exchange(upstreamStream, nullptr)) {
        up->setListener(nullptr);
        up->abort();
        up->deleteLater();
    }
    exchange.reset();
}

void Transaction::emitLog()
{
    if (logged)
        return;
    logged = true;
    rec.totalUs = nowUs();
    if (rec.status)
        ctx->stats.countStatus(rec.status);
    ctx->stats.countUpstreamProxy(rec.upstreamProxy, rec.reason);
    if (AccessLogSink *sink = ctx->accessLog.load(std::memory_order_acquire)) {
        // Built only when someone reads them: the hot path does without these strings.
        // The route table builds these keys once; the fallbacks serve listeners and matches made elsewhere.
        if (rec.gateway.isEmpty())
            rec.gateway = !listener->gatewayKey.isEmpty()
                ? listener->gatewayKey
                : listener->gatewayNamespace + QLatin1Char('/') + listener->gatewayName;
        if (match && rec.route.isEmpty()) {
            rec.route = !match->routeKey.isEmpty() ? match->routeKey
                                                   : match->routeNamespace + QLatin1Char('/') + match->routeName
                                                         + QLatin1Char('#') + QString::number(match->ruleIndex);
            if (match->backend)
                rec.backend = !match->backend->key.isEmpty() ? match->backend->key
                                                             : match->backend->ns + QLatin1Char('/')
                                                                   + match->backend->name;
        }
        sink->write(std::move(rec)); // logged: nothing reads it again before the next request's beginRecord()
    }
}

} // namespace dfproxy::proxy
