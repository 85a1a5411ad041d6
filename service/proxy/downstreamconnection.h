// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/lazytimer.h"
#include "base/liveness.h"
#include "forward/forwarder.h"
#include "forward/upstreamproxy.h"
#include "http/httpparser.h"
#include "http/readbuffer.h"
#include "net/stream.h"
#include "policy/policy.h"
#include "proxy/accesslog.h"
#include "proxy/canonicalrequest.h"
#include "proxy/connectionlimiter.h"
#include "routing/routetable.h"

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>

#include <memory>

class QTcpSocket;

namespace dfproxy::dns {
class PendingLookup;
struct ResolveResult;
}

namespace dfproxy::proxy {

struct ProxyContext;
class ProxyWorker;
class Tunnel;

/// One client connection on a worker thread: parses requests (keep-alive, pipelining), routes, resolves and
/// forwards them one at a time, or turns into a tunnel (CONNECT, websocket). Deletes itself when closed.
class DownstreamConnection final : public QObject,
                                   public forward::ResponseSink,
                                   public http::BodyHandler,
                                   public net::StreamListener
{
public:
    /// Takes `stream` (accepted on an HTTPS listener when `tls`).
    DownstreamConnection(ProxyWorker *worker, ProxyContext *ctx, net::Stream *stream, bool tls,
                         std::shared_ptr<const routing::Listener> listener, ConnectionSlot slot = {});
    ~DownstreamConnection() override;

    /// Graceful stop: close now when idle, after the current response otherwise.
    void drain();
    /// Closes at once.
    void abort();

    // forward::ResponseSink
    void onUpstreamConnected(const QHostAddress &address, bool reused) override;
    void onResponseHead(const http::MessageHead &head) override;
    void onResponseBody(const char *data, qsizetype size) override;
    net::Stream *bodySpliceTarget() override;
    void onResponseBodySpliced(qint64 size) override;
    void onResponseComplete() override;
    void onUpgraded(QTcpSocket *socket, const QByteArray &leftover) override;
    void onRequestBodyDrained() override;
    void onError(forward::ForwardError error, const QString &detail) override;
    void onUpstreamProxyUsed(const forward::UpstreamProxy *proxy) override; // [#22 hook: upstream proxy]

    // http::BodyHandler (request body)
    void onBody(const char *data, qsizetype size) override;

    // net::StreamListener (the client)
    void onStreamReadable() override { pump(); }
    void onStreamWritten() override { onClientBytesWritten(); }
    void onStreamClosed(QAbstractSocket::SocketError) override { onClientDisconnected(); }

protected:
    void timerEvent(QTimerEvent *ev) override;

private:
    enum class State { ReadingHead, Resolving, Forwarding, Tunnel, Closing };

    void pump();
    bool spliceRequestBody();
    void onRequestHead();
    void checkPolicy();
    void onPolicyVerdict(policy::Decision d);
    void continueAfterPolicy(const QList<QByteArray> &stripHeaders);
    void onRequestComplete();
    void onResolved(const dns::ResolveResult &result);
    void startForward();
    void startConnectTunnel();
    void finishTransaction();
    void onReadTimeout();
    void sendLocalResponse(int status, QByteArrayView reason, const QByteArray &body,
                           QByteArrayView location = {}, const policy::HeaderList *extraHeaders = nullptr);
    policy::RequestAttributes policyAttributes(const QString &host) const; ///< host: m_host as text
    void sendPolicyDenial(const policy::Decision &decision, QByteArrayView defaultReason);
    void writeClient(const char *data, qsizetype size);
    void closeAfterFlush();
    void onClientBytesWritten();
    void onClientDisconnected();
    void emitLog();
    void armIdleTimer();
    void becomeTunnel(QTcpSocket *upstream, const QByteArray &leftover, const QByteArray &clientBytes);

    ProxyWorker *m_worker;
    ProxyContext *m_ctx;
    net::Stream *m_socket; ///< the client
    std::shared_ptr<const routing::Listener> m_listener;
    http::HttpParser m_parser;
    http::ReadBuffer m_in;
    QByteArray m_out;
    State m_state = State::ReadingHead;
    bool m_inPump = false;
    Liveness m_liveness; ///< guards around calls that may delete this connection (pump, DNS lookup)
    bool m_pumpAgain = false;
    bool m_closed = false;

    // the request in flight
    std::unique_ptr<dns::PendingLookup> m_lookup;
    std::unique_ptr<forward::Exchange> m_exchange;
    std::unique_ptr<forward::Exchange> m_finishedExchange;
    forward::ForwardRequest m_forward;
    CanonicalRequest m_canon; ///< the request's target as every stage sees it (canonicalizeRequest)
    std::optional<routing::RouteMatch> m_match;
    QByteArray m_host;
    int m_port = 0;
    bool m_requestDone = false;
    bool m_splicingBody = false; ///< this request's body is being spliced (spliceRequestBody)
    bool m_responseStarted = false;
    bool m_responseDone = false;
    bool m_keepAlive = true;
    bool m_headRequest = false;
    bool m_expectContinue = false;
    bool m_websocket = false;
    bool m_chunkedOut = false;
    bool m_closeDelimited = false;
    bool m_responsePaused = false;
    int m_clientMinor = 1;
    LazyTimer m_requestTimer;
    LazyTimer m_idleTimer;
    LazyTimer m_readTimer; ///< requestHeadTimeoutMs while reading a head, requestBodyTimeoutMs while reading a body
    QElapsedTimer m_clock;
    qint64 nowUs() const { return m_clock.nsecsElapsed() / 1000; }
    qint64 m_dnsDoneUs = 0;   ///< m_clock's reading when DNS answered (us)
    qint64 m_connectedUs = 0; ///< ... when the upstream connection was there
    AccessLogRecord m_rec;
    bool m_logged = true;
    Tunnel *m_tunnel = nullptr;
    std::shared_ptr<const policy::PolicyEngine> m_policy; ///< the engine the current request was checked with
    QByteArray m_policyPath;
    bool m_explicitProxy = false;
    /// The request as the policies see it, built once for checkRequest() and reused by checkResolved().
    policy::RequestAttributes m_policyAttributes;
    /// A policy verdict still being worked out; declared after m_policy so it is destroyed (cancelled) first.
    std::unique_ptr<policy::PendingDecision> m_policyCheck;
    QString m_hostText; ///< m_host as text, made once per request for routing, the policies and the DNS cache
    qint64 m_tunnelBytesPerSecond = 0; ///< from the policy decision: applied if this request becomes a tunnel
    qint64 m_tunnelBurstBytes = 0;
    bool m_tlsClient = false; ///< accepted on an HTTPS listener
    QByteArray m_clientAddressText; ///< the client's address as X-Forwarded-For shows it, made on first use
    // [#22 hook: upstream proxy] the proxy selection of the current request once known (a PAC answer comes later)
    std::optional<forward::ProxySelection> m_proxySelection;
    quint64 m_proxySelectionSerial = 0;
    ConnectionSlot m_slot; ///< released last, when the connection (and any tunnel) is gone
    // [apps hook] the program behind the client (proxy/clientapplication.h), looked up at the first request
    std::shared_ptr<const platform::ProcessInfo> m_application;
    bool m_applicationLooked = false;
};

} // namespace dfproxy::proxy
