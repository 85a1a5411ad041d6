// SPDX-License-Identifier: Apache-2.0
#pragma once
// One request on a client connection, from its head to the start of its response: the state every stage reads
// and writes, and the runner that takes it through the stage list (proxy/stages/stages.h) in order.
//
// The contract of a stage (a function `StageResult f(Transaction &tx)`):
//   - Continue: done, the next stage runs now.
//   - Wait: the stage started something that answers later (a password hash, DNS, a dial) and keeps the handle in
//     the transaction (destroying the handle cancels the callback: Transaction::cancel). Its callback works out
//     the stage's outcome as a synchronous stage would and hands it to tx.resumeWith(): Continue goes on with the
//     next stage, Reply sends the local reply.
//   - Reply: `return tx.reply(status, reason, body)`: the request ends with that local reply; no stage after it runs.
// A stage never writes to the client and never deletes anything synchronously; it reads the request from
// Transaction (the canonical request, the route, the policy verdict) and leaves its result there for the next ones.

#include "forward/forwarder.h"
#include "http/httpparser.h"
#include "policy/policy.h"
#include "proxy/accesslog.h"
#include "proxy/canonicalrequest.h"
#include "proxy/localreply.h"
#include "routing/routetable.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QHostAddress>
#include <QList>

#include <functional>
#include <memory>
#include <optional>

class QObject;
class QTcpSocket;

namespace dfproxy::platform {
struct ProcessInfo;
}

namespace dfproxy::dns {
class PendingLookup;
}

namespace dfproxy::forward {
class Connector;
}

namespace dfproxy::proxy {

struct ProxyContext;
class ConnectionApplication;
class ProxyWorker;
class Transaction;

enum class StageResult { Continue, Wait, Reply };

/// A named step of the transaction (the names show in docs/architecture.md and in debug logs).
struct Stage
{
    const char *name;
    StageResult (*run)(Transaction &tx);
};

/// What a transaction needs from the connection it runs on (today the HTTP/1 server connection).
class TransactionHost
{
public:
    virtual ~TransactionHost() = default;
    /// Sends `reply` as the response to the current request (once; the transaction's stages are over).
    virtual void sendLocalReply(const LocalReply &reply) = 0;
    /// The route's request timeout starts now (it covers DNS, connecting and the wait for the response head).
    virtual void armRequestTimeout(qint64 ms) = 0;
    /// The sink of the exchange the forward stage starts.
    virtual forward::ResponseSink *responseSink() = 0;
    /// The forward stage started tx.exchange: the connection now feeds it the request body.
    virtual void exchangeStarted() = 0;
    /// The CONNECT tunnel's upstream is connected (`upstream` is now the host's): answer 200 and relay.
    virtual void tunnelConnected(net::Stream *upstream) = 0;
    /// Reads what the client sent meanwhile (the body, the next request) after a stage waited.
    virtual void readMore() = 0;
    /// The QObject callbacks are bound to (policy verdicts, DNS answers, dials, PAC answers).
    virtual QObject *callbackContext() = 0;
    /// The lookup of the program behind the client (proxy/clientapplication.h), started when the connection was
    /// accepted and kept with it; null when there is none (lookup off, another machine): no program.
    virtual ConnectionApplication *clientApplication() = 0;
};

class Transaction
{
public:
    Transaction(ProxyContext *ctx, ProxyWorker *worker, TransactionHost *host, const routing::Listener *listener,
                bool tlsClient);
    ~Transaction();
    Transaction(const Transaction &) = delete;
    Transaction &operator=(const Transaction &) = delete;

    /// A new request whose head `head` stays valid (in the connection's parser) until the next begin().
    void begin(const http::MessageHead *head, const QHostAddress &clientAddress, quint16 clientPort);
    /// A fresh access-log record without a request (a head that did not parse or did not come in time).
    void beginRecord(const QHostAddress &clientAddress, quint16 clientPort);
    /// Runs the stages from the first.
    void start() { m_next = 0; run(); }
    /// A waiting stage's outcome, from its callback: Continue runs the next stages, Reply sends the local reply.
    void resumeWith(StageResult result);
    /// Ends the request with a local reply; a stage returns it (`return tx.reply(...)`).
    StageResult reply(int status, QByteArrayView reason, QByteArray body, policy::HeaderList headers = {});
    StageResult reply(LocalReply reply);
    /// A policy denial (its status, reason, body and headers, or `defaultReason` and 403).
    StageResult deny(const policy::Decision &d, QByteArrayView defaultReason);
    /// Drops whatever is in flight (policy check, DNS lookup, dial, exchange): no callback of theirs follows.
    void cancel();
    /// The stage that runs next (or ran last); for tests and logs.
    const char *currentStage() const;

    /// Microseconds since the request head arrived.
    qint64 nowUs() const { return m_clock.nsecsElapsed() / 1000; }
    void restartClock() { m_clock.restart(); }

    // What every stage may read.
    ProxyContext *const ctx;
    ProxyWorker *const worker;
    TransactionHost *const host;
    const routing::Listener *const listener;
    const bool tlsClient; ///< accepted on an HTTPS listener
    const http::MessageHead *head = nullptr;

    // The request as the stages leave it, in the order they fill it.
    std::shared_ptr<const platform::ProcessInfo> application; ///< application stage: the program behind the client
    CanonicalRequest canon;  ///< canonical stage: host, port, path, query in their one spelling
    QString hostText;        ///< canon.host as text (the DNS cache, debug logs)
    std::optional<routing::RouteMatch> match; ///< route stage
    std::shared_ptr<const policy::PolicyEngine> policy; ///< policy stage: the engine the request was checked with
    policy::RequestAttributes policyAttributes; ///< policy stage: views over this request, reused by destination
    QList<QByteArray> stripHeaders;   ///< policy stage: credentials to remove before forwarding
    qint64 tunnelBytesPerSecond = 0;  ///< policy stage: applied if the request becomes a tunnel
    qint64 tunnelBurstBytes = 0;
    forward::ForwardRequest forward;  ///< upstream_request stage (upstream, target, headers), upstream_proxy
                                      ///< (the proxy and its fallbacks), resolve (addresses)
    bool dnsLeftToProxy = false;      ///< resolve: the name does not resolve here; the upstream proxy resolves it
    bool websocket = false;
    bool expectContinue = false;
    QByteArray clientAddressText;     ///< the client's address as X-Forwarded-For shows it, made on first use
    qint64 dnsDoneUs = 0;             ///< nowUs() when DNS answered
    qint64 connectedUs = 0;           ///< ... when the upstream connection was there
    telemetry::AccessLogEntry rec;    ///< the access-log record, filled as the request goes, read as it is by telemetry
    bool logged = true;               ///< rec was written (or there is no request)

    // Handles of what a waiting stage started; destroying one cancels its callback.
    std::shared_ptr<std::function<void()>> applicationWait; ///< application stage: the connection's lookup
    std::unique_ptr<policy::PendingDecision> policyCheck;
    std::unique_ptr<dns::PendingLookup> lookup;
    std::shared_ptr<bool> proxySelection; ///< upstream_proxy stage: a PAC answer is awaited while this is set
    forward::Connector *connector = nullptr; ///< a child of the host's callback context
    net::Stream *upstreamStream = nullptr;   ///< connect stage: the dialled tunnel upstream, for the forward stage
    std::unique_ptr<forward::Exchange> exchange;

    /// Writes the access-log record once and counts the status.
    void emitLog();

private:
    void run();
    // dfproxy.proxy debug lines: which stage waits, which one answered and why (cheap when the category is off).
    void logWait() const;
    void logLocalReply() const;

    int m_next = 0; ///< index of the next stage to run
    LocalReply m_reply;
    QElapsedTimer m_clock;
};

} // namespace dfproxy::proxy
