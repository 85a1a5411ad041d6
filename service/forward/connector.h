// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/lazytimer.h"
#include "forward/forwarder.h"
#include "forward/tlsclient.h"
#include "net/stream.h"

#include <QAbstractSocket>
#include <QList>
#include <QObject>
#include <QSslCertificate>

#include <functional>
#include <memory>

class QTcpSocket;

namespace dfproxy::platform {
class ProxySecurityContext;
}

namespace dfproxy::dns {
class PendingLookup;
struct ResolveResult;
}

namespace dfproxy::forward {

/// The one way dfproxy dials an upstream: forwarding (Http1Forwarder, websocket upgrades included) and CONNECT
/// tunnels use it, so they time out, fall back and fail alike. The addresses are tried in their order (what the SSRF
/// guard left of the resolved ones: the caller passes only those), each for at most `timeoutMs`; an address that
/// refuses, is unreachable or times out is reported to the DNS cache (it moves to the back of its host's list) and
/// the next one is tried. Over TLS the handshake is part of connecting; a TLS failure ends it at once (the other
/// addresses serve the same certificate) and is not held against the address.
///
/// Through an upstream proxy (Upstream::proxy) it dials the proxy's addresses instead (an IP literal, or its name
/// through the DNS cache; TLS to the proxy for https://), and with Upstream::viaConnect sends
/// `CONNECT host:port` there, answers a 407 with the proxy's credentials on the same connection (or a new one
/// when the proxy closes it), then originates TLS to the origin inside the tunnel when Upstream::tls (inside the TLS
/// connection to an https:// proxy: a TlsLayerSocket, forward/tlslayer.h, is what `Connected` gets). No address
/// of the proxy answering: 502 ProxyUnreachable; a final 407: ProxyAuthFailed; another answer: ProxyRefused.
/// With a ConnectedStream callback it hands over a net::Stream. A plain-TCP dial (no TLS on any hop: direct, or to
/// an http:// proxy without TLS to the origin inside) then runs on a raw non-blocking socket on the thread's poller
/// (net::Stream::connectTo): one descriptor, no QTcpSocket, no dup. Through an http:// proxy the CONNECT handshake
/// (407s included) runs on that stream, parsed by the same code as on a QTcpSocket, and what was read past the
/// proxy's answer is put back in front of the stream's input (net::Stream::unread); without viaConnect (a plain
/// request in absolute form) the stream is handed over once connected. Direct TLS to an HTTP/1.1 origin is the same
/// raw socket with OpenSSL on it (forward/tlsstream.h: TlsClientStream), handed over once the handshake is done; a
/// failed handshake is TlsError at once, as on Qt's sockets. Other TLS (an https:// proxy, TLS to the origin through
/// a proxy, ALPN "h2" for HTTP/2 backends) dials as above and adopts the QSslSocket or TlsLayerSocket
/// (net::Stream::adopt wraps it, no dup).
/// A proxy a PAC answer named (UpstreamProxy::guarded) is dialled only at the addresses the SSRF guard allows
/// (allowedProxyAddresses with Upstream::proxySsrf); none left: the next hop, else ProxyDenied.
/// Lives on one thread.
class Connector final : public QObject, private net::StreamListener
{
public:
    struct Options
    {
        qint64 timeoutMs = 5000;             ///< per address; 0 leaves it to the operating system
        dns::HostCache *hostCache = nullptr; ///< told about every address that failed; may be null
        /// The CA certificates of `Upstream::tlsCaFile` (the forwarder reads each file once); null: read the file.
        std::function<QList<QSslCertificate>(const QString &path)> caCertificates;
        /// Stream mode over TLS (a socket adopted by a Qt-backed net::Stream): the socket's read buffer bound, as a
        /// raw stream bounds its read-ahead; 0 leaves it unbounded.
        qint64 readBufferSize = 0;
    };
    /// The connected (over TLS: encrypted) socket, parentless, now the callee's; `address` is the one it reached.
    using Connected = std::function<void(QTcpSocket *socket, const QHostAddress &address)>;
    /// The connected stream, parentless, now the callee's (no listener set); `address` is the one it reached.
    using ConnectedStream = std::function<void(net::Stream *stream, const QHostAddress &address)>;
    /// Connecting failed: 504 ConnectTimeout when every address timed out, 502 ConnectRefused when every address
    /// refused or was unreachable, the last address's when they differed; TlsError at once. `detail` names the host.
    using Failed = std::function<void(ForwardError error, const QString &detail)>;

    Connector(Upstream upstream, Options options, Connected connected, Failed failed, QObject *parent = nullptr);
    Connector(Upstream upstream, Options options, ConnectedStream connected, Failed failed,
              QObject *parent = nullptr);
    /// Cancels: the socket being dialled is closed; no callback follows.
    ~Connector() override;

    /// Dials the addresses in order. Neither callback runs from inside start(); either may delete the Connector.
    void start();
    /// Addresses that failed so far.
    int failures() const { return m_failures; }
    /// The upstream proxy being dialled (once connected: the one that carries the connection); null = direct.
    const std::shared_ptr<const UpstreamProxy> &proxy() const { return m_upstream.proxy; }

protected:
    void timerEvent(QTimerEvent *ev) override;

private:
    enum class Phase { Dialling, ProxyHandshake, OriginTls };

    void dial();
    /// dial() of a plain-TCP connection in stream mode (direct, or to an http:// proxy): a raw socket
    /// (net::Stream::connectTo).
    void dialStream();
    // net::StreamListener, for the stream being dialled (and its CONNECT handshake)
    void onStreamReadable() override;
    void onStreamWritten() override {}
    void onStreamClosed(QAbstractSocket::SocketError error) override;
    void onStreamConnected() override;
    /// The raw stream is connected (through a proxy: its CONNECT answered 2xx): it goes to the callback, with what
    /// was read past the proxy's answer put back in front of its input.
    void handOverStream();
    void onTransportReady();
    void onSocketConnected();
    void onSocketError(QAbstractSocket::SocketError error);
    void addressFailed(ForwardError error, const QString &detail);
    void dropSocket();
    // through an upstream proxy
    void begin();
    /// Moves on to the next of Upstream::proxyFallbacks; false when there is none left.
    bool tryNextHop();
    void startViaProxy();
    void onProxyResolved(const dns::ResolveResult &result);
    /// Dials those of the proxy's `addresses` allowedProxyAddresses() leaves; none: the next hop, or ProxyDenied.
    void dialProxy(const QList<QHostAddress> &addresses);
    void sendConnect();
    void onProxyReadable();
    void onProxyResponse();
    // The proxy's answer, from the QTcpSocket or the raw stream (through m_proxyIn): what onProxyReadable reads.
    bool readProxyChunk();
    bool proxyCanReadLine();
    qint64 proxyBytesAvailable() const;
    QByteArray proxyReadLine();
    QByteArray proxyRead(qint64 max);
    /// The proxy closed the connection before answering CONNECT: ProxyRefused.
    void proxyClosed(const QString &detail);
    /// https:// proxy: TLS to the origin as a TlsLayerSocket over the proxy's TLS connection (m_socket).
    void startInnerTls();
    /// What TLS to the origin verifies and offers (a TlsClientStream's or a TlsLayerSocket's): the backend's settings.
    TlsClientOptions originTlsOptions() const;
    /// Ends at once with `error` (no other address is tried).
    void failNow(ForwardError error, const QString &detail);
    QString hopHost() const;
    quint16 hopPort() const;
    QByteArray authority() const;

    Upstream m_upstream;
    QList<QHostAddress> m_addresses; ///< what is dialled: the upstream's, or the proxy's
    Phase m_phase = Phase::Dialling;
    std::unique_ptr<dns::PendingLookup> m_lookup; ///< the proxy's name, while it resolves
    // the proxy's answer to CONNECT
    int m_proxyStatus = 0;
    QByteArray m_proxyReason;
    QList<QPair<QByteArray, QByteArray>> m_proxyHeaders;
    qint64 m_proxyHeadBytes = 0;
    qint64 m_skipBody = -1;         ///< a 407's body still to read before asking again
    QByteArray m_proxyIn;           ///< raw stream: read from the proxy and not yet parsed
    QByteArray m_authorization;     ///< the answer to the proxy's challenge
    bool m_authAnswered = false;
    std::unique_ptr<platform::ProxySecurityContext> m_security; ///< Negotiate/NTLM: this connection's context
    int m_securityLegs = 0;
    Options m_options;
    Connected m_connected;
    ConnectedStream m_connectedStream; ///< set: stream mode
    Failed m_failed;
    QTcpSocket *m_socket = nullptr; ///< parentless, so deleting this inside one of its signals never deletes it
    net::Stream *m_stream = nullptr; ///< dialStream(): parentless, deleted later for the same reason
    LazyTimer m_timer;
    qsizetype m_index = 0;
    int m_failures = 0;
    int m_timeouts = 0;
    ForwardError m_lastError = ForwardError::ConnectRefused;
    QString m_lastDetail;
    bool m_dialling = false; ///< inside connectToHost(): Qt may report from there, which start() must not
};

} // namespace dfproxy::forward
