// SPDX-License-Identifier: Apache-2.0
#pragma once
// CONTRACT between the proxy connection and the upstream engines. A Forwarder belongs to one worker thread;
// every call and every sink callback happens on that thread.

#include "http/httpheaders.h"
#include "http/httpparser.h"

#include <QByteArray>
#include <QHostAddress>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>

class QTcpSocket;

namespace dfproxy::net {
class Stream;
}

namespace dfproxy::dns {
class HostCache;
}

namespace dfproxy::forward {

struct UpstreamProxy;

/// The configured SSRF guard (proxy.ssrf) as the request's policy engine applies it: of `addresses` (to `port`), the
/// ones it allows, in their order. Thread-safe; an empty function stands for no configured guard.
using SsrfFilter = std::function<QList<QHostAddress>(const QList<QHostAddress> &addresses, quint16 port)>;

/// Where a request goes.
struct Upstream
{
    QString host;                  ///< name for Host/SNI and for HostCache::reportConnectFailure
    quint16 port = 80;
    QList<QHostAddress> addresses; ///< tried in order
    bool tls = false;
    QString sni;                   ///< overrides the SNI / verify name (default: host)
    /// The name TLS to the origin sends as SNI and verifies the certificate against: `sni`, else `host`.
    const QString &tlsName() const { return sni.isEmpty() ? host : sni; }
    bool tlsInsecureSkipVerify = false;
    QString tlsCaFile;             ///< PEM bundle; system CAs when empty
    /// The upstream (corporate) proxy to go through (forward/upstreamproxy.h); null: direct. Through a proxy,
    /// `addresses` are not dialled (the proxy resolves `host`): the Connector dials the proxy's addresses.
    std::shared_ptr<const UpstreamProxy> proxy;
    /// Through the proxy with `CONNECT host:port` (then TLS to the origin inside when `tls`), rather than handing
    /// over the connection to the proxy itself. Set for CONNECT tunnels; the forwarder sets it for TLS and upgrades.
    bool viaConnect = false;
    /// Tried in order when `proxy` (or DIRECT) cannot be reached: a PAC result's later entries; null = DIRECT
    /// (skipped when `addresses` is empty: the name did not resolve here).
    QList<std::shared_ptr<const UpstreamProxy>> proxyFallbacks;
    /// Checks the addresses of a proxy a PAC answer named (UpstreamProxy::guarded) before the Connector dials them.
    SsrfFilter proxySsrf;
    /// Speak HTTP/2 to the origin: ALPN "h2" over TLS (the connection fails when the origin does not pick it), the
    /// HTTP/2 preface by prior knowledge in plaintext (h2c).
    bool http2 = false;
    /// With `http2` over TLS: ALPN offers "h2" and "http/1.1", and an origin that picks http/1.1 (or nothing) gets
    /// the request over HTTP/1.1 on the same connection (Http2Forwarder hands it to the HTTP/1.1 engine).
    bool http1Fallback = false;
};

/// Why an exchange failed. Each has a status (502/504) and a stable reason for x-dfproxy-error.
enum class ForwardError {
    None,
    ConnectRefused,  ///< 502 upstream_connect_refused (every address refused or unreachable)
    ConnectTimeout,  ///< 504 upstream_connect_timeout
    ResponseTimeout, ///< 504 upstream_response_timeout
    Reset,           ///< 502 upstream_reset: the connection broke before the response ended
    BadResponse,     ///< 502 upstream_bad_response: the response did not parse
    TlsError,        ///< 502 upstream_tls_error
    ProxyUnreachable, ///< 502 upstream_proxy_unreachable: no connection to the upstream proxy (or no answer)
    ProxyAuthFailed,  ///< 502 upstream_proxy_auth_failed: the upstream proxy's final answer was 407
    ProxyRefused,     ///< 502 upstream_proxy_connect_failed: the upstream proxy refused CONNECT (its status in the detail)
    ProxyUnsupported, ///< 502 upstream_proxy_unsupported: the tunnel cannot carry this request (see the detail)
    ProxyDenied,      ///< 502 upstream_proxy_denied: the SSRF guard refused every proxy the PAC answer named
};
QByteArray reasonString(ForwardError e);
int statusFor(ForwardError e);

/// One request to send.
struct ForwardRequest
{
    Upstream upstream;
    QByteArray method;            ///< "GET"
    QByteArray target;            ///< origin-form target "/path?query"
    http::HeaderList headers;     ///< end-to-end headers to send as they are (Host included, no framing headers)
    qint64 contentLength = 0;     ///< body size; -1 = unknown (sent chunked)
    bool upgrade = false;         ///< websocket handshake: send "Connection: Upgrade" and hand over after 101
    qint64 connectTimeoutMs = 5000;  ///< per address
    qint64 responseTimeoutMs = 0;    ///< from the end of the request to the response head; 0 = none
    /// The client sent "TE: trailers" (a hop-by-hop field, so not in `headers`): an HTTP/2 origin is told too (gRPC
    /// servers want it). The HTTP/1.1 engine sends no TE.
    bool teTrailers = false;
};

/// Receives the response. Callbacks never run from inside Forwarder::start(), except onUpstreamConnected for a
/// connection taken from the pool. A callback must not destroy the Exchange, directly or through anything it calls
/// (the data path's lifetime rule: the HTTP/1 connection and the HTTP/2 stream keep a finished or cancelled
/// exchange until their next request or their own deferred deletion, and destroy a running one only from outside
/// its callbacks). The engines rely on it: they do not check whether they still exist after a callback.
class ResponseSink
{
public:
    virtual ~ResponseSink() = default;
    /// The upstream connection is ready (`reused` = taken from the keep-alive pool).
    virtual void onUpstreamConnected(const QHostAddress &address, bool reused) = 0;
    /// The response head (hop-by-hop headers still in; 1xx other than 101 are swallowed).
    virtual void onResponseHead(const http::MessageHead &head) = 0;
    /// Decoded body bytes; valid only during the call.
    virtual void onResponseBody(const char *data, qsizetype size) = 0;
    /// Where body bytes may go as they are, without passing through the engine: the client's stream when the
    /// response keeps its Content-Length framing on the way out, else null (the default). The native engine then
    /// splices them there (net::Stream::spliceTo) instead of calling onResponseBody.
    virtual net::Stream *bodySpliceTarget() { return nullptr; }
    /// `size` body bytes (0 or more) went into bodySpliceTarget() by splicing. The sink counts them and pauses the
    /// response (Exchange::setResponsePaused) while any wait for the client.
    virtual void onResponseBodySpliced(qint64 size) { Q_UNUSED(size); }
    /// Trailer fields after the response body (an HTTP/2 origin's: gRPC's grpc-status, grpc-message; an HTTP/1.1
    /// origin's chunked trailers from the native engine), just before onResponseComplete, as received: the sink
    /// drops what its client may not get. The QNAM engine never calls it.
    virtual void onResponseTrailers(const http::HeaderList &trailers) { Q_UNUSED(trailers); }
    virtual void onResponseComplete() = 0;
    /// After a 101 to an upgrade request: the sink now owns `upstream`, the connection's stream (parentless, on
    /// this thread, no listener), and must relay `leftover` (bytes already read past the head) first. The exchange
    /// is finished.
    virtual void onUpgraded(net::Stream *upstream, const QByteArray &leftover) = 0;
    /// The upstream buffer for the request body went below the limit again (see Exchange::bufferedBodyBytes).
    virtual void onRequestBodyDrained() = 0;
    /// The exchange failed; no other callback follows.
    virtual void onError(ForwardError error, const QString &detail) = 0;
    /// The connection went through another upstream proxy than the request named (`proxy`; null = DIRECT): a
    /// later entry of its PAC result, because the first could not be reached. Before onUpstreamConnected.
    virtual void onUpstreamProxyUsed(const UpstreamProxy *proxy) { Q_UNUSED(proxy); }
};

/// A request in flight. Destroying it cancels it (the upstream connection is closed unless it is idle).
class Exchange
{
public:
    virtual ~Exchange() = default;
    /// Streams request body bytes (already de-framed). Buffered until connected.
    virtual void writeBody(const char *data, qsizetype size) = 0;
    /// The request body is complete.
    virtual void endBody() = 0;
    /// Trailer fields to send after the request body (call before endBody()). Only the HTTP/2 engine sends them;
    /// the HTTP/1.1 engines drop them (the default).
    virtual void setRequestTrailers(const http::HeaderList &trailers) { Q_UNUSED(trailers); }
    /// Request bytes not yet handed to the OS; the caller stops feeding above its limit and waits for
    /// ResponseSink::onRequestBodyDrained.
    virtual qint64 bufferedBodyBytes() const = 0;
    /// Stops / resumes reading the response (downstream backpressure).
    virtual void setResponsePaused(bool paused) = 0;
    /// Where request body bytes may go as they are, without writeBody(): the upstream connection's stream once it
    /// is connected, when the body keeps its Content-Length framing and nothing is waiting to go before it; else
    /// null (the default). The caller splices into it (net::Stream::spliceTo) and reports with onBodySpliced().
    virtual net::Stream *bodySpliceTarget() { return nullptr; }
    /// `size` body bytes (0 or more) went into bodySpliceTarget() by splicing. While any of them wait for the
    /// upstream, bufferedBodyBytes() counts them and ResponseSink::onRequestBodyDrained() follows as for writeBody().
    virtual void onBodySpliced(qint64 size) { Q_UNUSED(size); }
};

/// Sends requests upstream. One instance per worker thread; not thread-safe.
class Forwarder
{
public:
    virtual ~Forwarder() = default;
    /// Starts sending `request`; the sink gets the outcome. `sink` must outlive the returned Exchange.
    virtual std::unique_ptr<Exchange> start(ForwardRequest &&request, ResponseSink *sink) = 0;
    /// Counters of this engine (connections opened, reused, requests).
    virtual QJsonObject stats() const = 0;
};

/// The gRPC status a response's header or trailer fields carry (a grpc-status of digits), else `fallback`.
int grpcStatusOf(const http::HeaderList &fields, int fallback);

/// Where the engines report connect failures (HostCache::reportConnectFailure); may be null.
struct ForwarderOptions
{
    dns::HostCache *hostCache = nullptr;
    qint64 idleTimeoutMs = 60'000;        ///< pooled connections close after this long unused
    int maxIdlePerKey = 1024;             ///< idle connections kept per address:port (the idle timeout trims them)
    qint64 bodyBufferLimit = 256 * 1024;  ///< see Exchange::bufferedBodyBytes
    std::atomic<quint64> *connectionsOpenedCounter = nullptr; ///< shared counters to bump (optional)
    std::atomic<quint64> *requestsCounter = nullptr;
    std::atomic<quint64> *requestSplicedBytesCounter = nullptr;  ///< request body bytes spliced (native engine)
    std::atomic<quint64> *responseSplicedBytesCounter = nullptr; ///< response body bytes spliced (native engine)
};

} // namespace dfproxy::forward
