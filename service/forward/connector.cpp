// SPDX-License-Identifier: Apache-2.0
#include "forward/connector.h"

#include "base/logcategories.h"

#include "dns/hostcache.h"
#include "forward/proxyauth.h"
#include "forward/tlslayer.h"
#include "forward/tlsstream.h"
#include "forward/upstreamproxy.h"
#include "platform/proxysecurity.h"

#include <QPointer>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimerEvent>

namespace dfproxy::forward {

namespace {

bool isTlsFailure(QAbstractSocket::SocketError e)
{
    return e == QAbstractSocket::SslHandshakeFailedError || e == QAbstractSocket::SslInternalError
        || e == QAbstractSocket::SslInvalidUserDataError;
}

constexpr qint64 kMaxProxyHeadBytes = 64 * 1024;

} // namespace

Connector::Connector(Upstream upstream, Options options, Connected connected, Failed failed, QObject *parent)
    : QObject(parent)
    , m_upstream(std::move(upstream))
    , m_options(std::move(options))
    , m_connected(std::move(connected))
    , m_failed(std::move(failed))
{
    // TLS to the origin through a proxy is always inside a CONNECT tunnel.
    if (m_upstream.proxy && m_upstream.tls)
        m_upstream.viaConnect = true;
}

Connector::Connector(Upstream upstream, Options options, ConnectedStream connected, Failed failed, QObject *parent)
    : Connector(std::move(upstream), std::move(options), Connected(), std::move(failed), parent)
{
    m_connectedStream = std::move(connected);
}

Connector::~Connector()
{
    m_lookup.reset();
    dropSocket();
}

QString Connector::hopHost() const
{
    return m_upstream.proxy ? m_upstream.proxy->host : m_upstream.host;
}

quint16 Connector::hopPort() const
{
    return m_upstream.proxy ? m_upstream.proxy->port : m_upstream.port;
}

QByteArray Connector::authority() const
{
    const QByteArray host = m_upstream.host.toUtf8();
    return (host.contains(':') ? '[' + host + ']' : host) + ':' + QByteArray::number(m_upstream.port);
}

void Connector::start()
{
    begin();
}

void Connector::begin()
{
    if (m_upstream.proxy) {
        startViaProxy();
        return;
    }
    m_addresses = m_upstream.addresses;
    if (m_addresses.isEmpty() && tryNextHop())
        return;
    if (m_addresses.isEmpty()) {
        QMetaObject::invokeMethod(
            this, [this] { m_failed(ForwardError::ConnectRefused, QStringLiteral("no addresses to connect to")); },
            Qt::QueuedConnection);
        return;
    }
    dial();
}

bool Connector::tryNextHop()
{
    while (!m_upstream.proxyFallbacks.isEmpty()) {
        std::shared_ptr<const UpstreamProxy> next = m_upstream.proxyFallbacks.takeFirst();
        if (!next && m_upstream.addresses.isEmpty())
            continue; // DIRECT needs the target's addresses, and its name did not resolve here
        m_upstream.proxy = std::move(next);
        if (m_upstream.proxy && m_upstream.tls)
            m_upstream.viaConnect = true;
        m_index = 0;
        m_timeouts = 0;
        m_phase = Phase::Dialling;
        m_authorization.clear();
        m_authAnswered = false;
        m_security.reset();
        m_securityLegs = 0;
        begin();
        return true;
    }
    return false;
}

void Connector::startViaProxy()
{
    const UpstreamProxy &proxy = *m_upstream.proxy;
    auto later = [this](ForwardError e, QString detail) {
        QMetaObject::invokeMethod(this, [this, e, detail] { m_failed(e, detail); }, Qt::QueuedConnection);
    };
    if (!proxy.credentialsError.isEmpty())
        return later(ForwardError::ProxyAuthFailed, proxy.credentialsError);
    if (!proxy.caError.isEmpty())
        return later(ForwardError::TlsError, proxy.caError);
    QHostAddress literal;
    if (literal.setAddress(proxy.host)) {
        dialProxy({literal});
        return;
    }
    if (!m_options.hostCache)
        return later(ForwardError::ProxyUnreachable,
                     QStringLiteral("no DNS cache to resolve the upstream proxy %1").arg(proxy.address));
    dns::HostCache::Outcome outcome = m_options.hostCache->lookup(
        proxy.host, proxy.port, dns::LookupFamily::V4Preferred, this, [this](const dns::ResolveResult &r) {
            m_lookup.reset();
            onProxyResolved(r);
        });
    if (outcome.ready) {
        const dns::ResolveResult r = *outcome.ready;
        if (!r.ok()) { // (no callback from inside start())
            QMetaObject::invokeMethod(this, [this, r] { onProxyResolved(r); }, Qt::QueuedConnection);
            return;
        }
        onProxyResolved(r);
        return;
    }
    m_lookup = std::move(outcome.pending);
}

void Connector::onProxyResolved(const dns::ResolveResult &result)
{
    if (!result.ok()) {
        markProxyUnreachable(*m_upstream.proxy);
        if (tryNextHop())
            return;
        m_failed(ForwardError::ProxyUnreachable,
                 QStringLiteral("the upstream proxy %1 does not resolve: %2")
                     .arg(m_upstream.proxy->address, result.detail.isEmpty() ? dns::reasonString(result.error)
                                                                              : result.detail));
        return;
    }
    dialProxy(result.addresses);
}

void Connector::dialProxy(const QList<QHostAddress> &addresses)
{
    // The one place a proxy's addresses are checked: a proxy named by a PAC answer passes the SSRF guard here, on
    // what is dialled (a name may resolve elsewhere than when it was selected). Refused: as if unreachable.
    QString refusal;
    m_addresses = allowedProxyAddresses(*m_upstream.proxy, addresses, m_upstream.proxySsrf, &refusal);
    if (!m_addresses.isEmpty()) {
        dial();
        return;
    }
    qCDebug(lcForward).noquote() << refusal;
    if (tryNextHop())
        return;
    // (possibly from inside start(): no callback from there)
    QMetaObject::invokeMethod(this, [this, refusal] { m_failed(ForwardError::ProxyDenied, refusal); },
                              Qt::QueuedConnection);
}

void Connector::dial()
{
    const UpstreamProxy *proxy = m_upstream.proxy.get();
    // Plain TCP on every hop (direct, or to an http:// proxy, without TLS to the origin): a raw socket. Direct TLS
    // for HTTP/1.1 too: OpenSSL on that raw socket (TlsClientStream). HTTP/2 (ALPN "h2", whose answer
    // Http2Forwarder reads off the QSslSocket) and TLS through a proxy stay on Qt's sockets.
    const bool plain = !m_upstream.tls && !(proxy && proxy->tls);
    if (m_connectedStream && (plain || (m_upstream.tls && !proxy && !m_upstream.http2))) {
        dialStream();
        return;
    }
    const QHostAddress &address = m_addresses.at(m_index);
    const bool tlsToProxy = proxy && proxy->tls;
    // Through a proxy, TLS to the origin is inside the CONNECT tunnel: on this socket after the proxy's 200 (http://
    // proxy), or a TlsLayerSocket over it (https:// proxy: this socket's TLS is the proxy's, startInnerTls()).
    const bool tlsToOrigin = m_upstream.tls;
    const bool originOnThisSocket = tlsToOrigin && !tlsToProxy;
    qCDebug(lcForward).noquote() << "dialling" << address.toString() << "port" << hopPort() << "for" << hopHost()
                                 << (proxy ? QStringLiteral("(upstream proxy %1)").arg(proxy->address) : QString())
                                 << (tlsToProxy || tlsToOrigin ? "with TLS" : "");
    m_phase = Phase::Dialling;
    m_proxyStatus = 0;
    m_proxyHeaders.clear();
    m_proxyHeadBytes = 0;
    m_skipBody = -1;
    QTcpSocket *s = nullptr;
    if (tlsToProxy || tlsToOrigin) {
        auto *ssl = new QSslSocket;
        QSslConfiguration conf = ssl->sslConfiguration();
        if (tlsToProxy && !proxy->caCertificates.isEmpty()) // dfproxy.dev/tunnel-ca-file, instead of the system's
            conf.setCaCertificates(proxy->caCertificates);
        if (originOnThisSocket) { // the backend's TLS settings are the origin's; the proxy's meet its tunnel-ca-file
            if (!m_upstream.tlsCaFile.isEmpty())
                conf.setCaCertificates(m_options.caCertificates
                                           ? m_options.caCertificates(m_upstream.tlsCaFile)
                                           : QSslCertificate::fromPath(m_upstream.tlsCaFile, QSsl::Pem));
            if (m_upstream.tlsInsecureSkipVerify) {
                conf.setPeerVerifyMode(QSslSocket::VerifyNone);
                connect(ssl, &QSslSocket::sslErrors, this, [ssl](const QList<QSslError> &errors) {
                    ssl->ignoreSslErrors(errors);
                });
            }
        }
        // HTTP/2 to the origin (spec.backend.http.version HTTP2) is offered by ALPN as "h2" only: the origin must
        // take it, and Http2Forwarder refuses a connection where it did not. Auto offers "http/1.1" as well.
        if (originOnThisSocket && m_upstream.http2)
            conf.setAllowedNextProtocols(m_upstream.http1Fallback
                                             ? QList<QByteArray>{QByteArrayLiteral("h2"), QByteArrayLiteral("http/1.1")}
                                             : QList<QByteArray>{QByteArrayLiteral("h2")});
        ssl->setSslConfiguration(conf);
        connect(ssl, &QSslSocket::encrypted, this, [this] {
            if (m_phase == Phase::OriginTls)
                onSocketConnected();
            else
                onTransportReady();
        });
        s = ssl;
    } else {
        s = new QTcpSocket;
    }
    if (!(tlsToProxy || (tlsToOrigin && !proxy)))
        connect(s, &QAbstractSocket::connected, this, [this] { onTransportReady(); });
    m_socket = s;
    s->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    connect(s, &QAbstractSocket::errorOccurred, this, [this](QAbstractSocket::SocketError e) { onSocketError(e); });
    m_dialling = true;
    if (tlsToProxy) {
        auto *ssl = static_cast<QSslSocket *>(s);
        ssl->setPeerVerifyName(proxy->host);
        ssl->connectToHostEncrypted(address.toString(), proxy->port, proxy->host);
    } else if (tlsToOrigin && !proxy) {
        const QString name = m_upstream.tlsName();
        auto *ssl = static_cast<QSslSocket *>(s);
        ssl->setPeerVerifyName(name);
        ssl->connectToHostEncrypted(address.toString(), m_upstream.port, name);
    } else {
        s->connectToHost(address, hopPort());
    }
    m_dialling = false;
    if (m_socket == s && m_options.timeoutMs > 0)
        m_timer.start(this, m_options.timeoutMs);
}

void Connector::dialStream()
{
    const QHostAddress &address = m_addresses.at(m_index);
    const UpstreamProxy *proxy = m_upstream.proxy.get();
    const bool tls = m_upstream.tls && !proxy; // (dial(): direct only)
    qCDebug(lcForward).noquote() << "dialling" << address.toString() << "port" << hopPort() << "for" << hopHost()
                                 << (proxy ? QStringLiteral("(upstream proxy %1)").arg(proxy->address) : QString())
                                 << (tls ? "(raw socket, TLS)" : "(raw socket)");
    m_phase = Phase::Dialling;
    m_proxyStatus = 0;
    m_proxyHeaders.clear();
    m_proxyHeadBytes = 0;
    m_skipBody = -1;
    m_proxyIn.clear();
    QString error;
    if (tls)
        m_stream = TlsClientStream::connectTo(address, hopPort(), originTlsOptions(), &error);
    else
        m_stream = net::Stream::connectTo(address, hopPort(), &error);
    if (!m_stream) {
        // Failed at once (no route, no socket): a failed address like any other, told from the event loop as
        // start() must not call back.
        QMetaObject::invokeMethod(
            this, [this, error] { addressFailed(ForwardError::ConnectRefused, error); }, Qt::QueuedConnection);
        return;
    }
    m_stream->setListener(this); // onStreamConnected or onStreamClosed, always from the event loop
    if (m_options.timeoutMs > 0)
        m_timer.start(this, m_options.timeoutMs);
}

void Connector::onStreamConnected()
{
    m_timer.stop();
    if (!m_upstream.proxy || !m_upstream.viaConnect) {
        handOverStream();
        return;
    }
    // CONNECT on the raw stream: its answer comes through onStreamReadable.
    m_phase = Phase::ProxyHandshake;
    if (m_options.timeoutMs > 0)
        m_timer.start(this, m_options.timeoutMs); // the proxy's answer gets as long again
    sendConnect();
}

void Connector::onStreamReadable()
{
    if (m_stream && m_phase == Phase::ProxyHandshake)
        onProxyReadable();
}

void Connector::onStreamClosed(QAbstractSocket::SocketError error)
{
    if (!m_stream)
        return;
    if (m_phase == Phase::ProxyHandshake) {
        proxyClosed(m_stream->errorString());
        return;
    }
    // A TlsClientStream's failed handshake ends the dial at once (addressFailed), as QSslSocket's does.
    addressFailed(isTlsFailure(error) ? ForwardError::TlsError : ForwardError::ConnectRefused,
                  m_stream->errorString());
}

void Connector::handOverStream()
{
    m_timer.stop();
    net::Stream *s = std::exchange(m_stream, nullptr);
    s->setListener(nullptr);
    s->unread(std::exchange(m_proxyIn, QByteArray())); // what came after the proxy's answer: the tunnel's first bytes
    const QHostAddress address = m_addresses.at(m_index); // a copy: the callback may delete this
    qCDebug(lcForward).noquote() << "connected to" << address.toString() << "port" << hopPort() << "for" << hopHost();
    m_connectedStream(s, address);
}

bool Connector::readProxyChunk()
{
    if (!m_stream)
        return false;
    char chunk[16 * 1024];
    const qint64 n = m_stream->read(chunk, sizeof chunk);
    if (n <= 0)
        return false;
    m_proxyIn.append(chunk, n);
    return true;
}

bool Connector::proxyCanReadLine()
{
    if (m_socket)
        return m_socket->canReadLine();
    // Read only while no line is complete, so nothing past the head is read before it is needed (and an end of
    // stream right after the tunnel's first bytes is the tunnel's to see).
    while (!m_proxyIn.contains('\n')) {
        if (m_proxyIn.size() > kMaxProxyHeadBytes || !readProxyChunk())
            return false;
    }
    return true;
}

qint64 Connector::proxyBytesAvailable() const
{
    return m_socket ? m_socket->bytesAvailable() : m_proxyIn.size();
}

QByteArray Connector::proxyReadLine()
{
    if (m_socket)
        return m_socket->readLine(kMaxProxyHeadBytes);
    const qsizetype end = m_proxyIn.indexOf('\n');
    const qsizetype n = end < 0 ? m_proxyIn.size() : std::min<qsizetype>(end + 1, kMaxProxyHeadBytes);
    QByteArray line = m_proxyIn.left(n);
    m_proxyIn.remove(0, n);
    return line;
}

QByteArray Connector::proxyRead(qint64 max)
{
    if (m_socket)
        return m_socket->read(max);
    if (m_proxyIn.isEmpty() && !readProxyChunk())
        return {};
    const qsizetype n = qsizetype(std::min<qint64>(max, m_proxyIn.size()));
    QByteArray bytes = m_proxyIn.left(n);
    m_proxyIn.remove(0, n);
    return bytes;
}

void Connector::proxyClosed(const QString &detail)
{
    failNow(ForwardError::ProxyRefused,
            QStringLiteral("the upstream proxy %1 closed the connection during CONNECT %2: %3")
                .arg(m_upstream.proxy->address, QString::fromUtf8(authority()), detail));
}

void Connector::onTransportReady()
{
    if (m_dialling) {
        // Qt connected inside connectToHost(): go on from the event loop.
        QMetaObject::invokeMethod(this, [this, s = QPointer<QTcpSocket>(m_socket)] {
            if (s && s == m_socket)
                onTransportReady();
        }, Qt::QueuedConnection);
        return;
    }
    if (!m_upstream.proxy || !m_upstream.viaConnect) {
        onSocketConnected();
        return;
    }
    m_phase = Phase::ProxyHandshake;
    connect(m_socket, &QIODevice::readyRead, this, [this] { onProxyReadable(); });
    if (m_options.timeoutMs > 0)
        m_timer.start(this, m_options.timeoutMs); // the proxy's answer (and TLS to the origin) get as long again
    sendConnect();
}

void Connector::sendConnect()
{
    const QByteArray target = authority();
    QByteArray head = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
    QByteArray authorization = m_authorization;
    if (authorization.isEmpty() && m_upstream.proxy->auth)
        authorization = m_upstream.proxy->auth->preemptive("CONNECT", target);
    if (!authorization.isEmpty())
        head += "Proxy-Authorization: " + authorization + "\r\n";
    head += "\r\n";
    m_proxyStatus = 0;
    m_proxyHeaders.clear();
    m_proxyHeadBytes = 0;
    if (m_stream)
        m_stream->write(head);
    else
        m_socket->write(head);
}

void Connector::onProxyReadable()
{
    if ((!m_socket && !m_stream) || m_phase != Phase::ProxyHandshake)
        return;
    // Line by line, so that whatever the origin sends after the proxy's head stays for the tunnel: in the socket,
    // or (a raw stream) in m_proxyIn, which goes back into the stream. The same parser for both.
    for (;;) {
        if (m_skipBody >= 0) {
            while (m_skipBody > 0) { // (a raw stream is read until it has nothing more, or it announces nothing)
                const QByteArray dropped = proxyRead(m_skipBody);
                if (dropped.isEmpty())
                    return;
                m_skipBody -= dropped.size();
            }
            m_skipBody = -1;
            sendConnect(); // the challenge's answer, on the same connection
            continue;
        }
        if (!proxyCanReadLine()) {
            if (proxyBytesAvailable() + m_proxyHeadBytes > kMaxProxyHeadBytes)
                failNow(ForwardError::ProxyRefused,
                        QStringLiteral("the upstream proxy %1 sent an oversized answer to CONNECT")
                            .arg(m_upstream.proxy->address));
            return;
        }
        QByteArray line = proxyReadLine();
        m_proxyHeadBytes += line.size();
        if (m_proxyHeadBytes > kMaxProxyHeadBytes) {
            failNow(ForwardError::ProxyRefused, QStringLiteral("the upstream proxy %1 sent an oversized answer to "
                                                               "CONNECT")
                                                    .arg(m_upstream.proxy->address));
            return;
        }
        while (line.endsWith('\n') || line.endsWith('\r'))
            line.chop(1);
        if (m_proxyStatus == 0) {
            // "HTTP/1.x SSS reason"
            const QList<QByteArray> parts = line.split(' ');
            bool ok = false;
            const int status = parts.size() >= 2 && line.startsWith("HTTP/1.") ? parts.at(1).toInt(&ok) : 0;
            if (!ok || status < 100 || status > 599) {
                failNow(ForwardError::ProxyRefused,
                        QStringLiteral("the upstream proxy %1 answered CONNECT with something that is not HTTP")
                            .arg(m_upstream.proxy->address));
                return;
            }
            m_proxyStatus = status;
            m_proxyReason = line.mid(line.indexOf(' ', 9) + 1);
            continue;
        }
        if (line.isEmpty()) {
            if (m_proxyStatus >= 100 && m_proxyStatus < 200) { // an interim answer: the real one follows
                m_proxyStatus = 0;
                m_proxyHeaders.clear();
                continue;
            }
            onProxyResponse();
            return;
        }
        const qsizetype colon = line.indexOf(':');
        if (colon > 0)
            m_proxyHeaders.append({line.left(colon).trimmed().toLower(), line.mid(colon + 1).trimmed()});
    }
}

void Connector::onProxyResponse()
{
    const UpstreamProxy &proxy = *m_upstream.proxy;
    auto header = [this](const QByteArray &name) {
        QList<QByteArray> values;
        for (const auto &h : m_proxyHeaders) {
            if (h.first == name)
                values.append(h.second);
        }
        return values;
    };
    if (m_proxyStatus >= 200 && m_proxyStatus < 300) {
        if (m_stream) { // plain TCP to an http:// proxy, nothing to originate inside (dial())
            handOverStream();
            return;
        }
        QObject::disconnect(m_socket, &QIODevice::readyRead, this, nullptr);
        if (!m_upstream.tls) {
            onSocketConnected();
            return;
        }
        m_phase = Phase::OriginTls;
        if (proxy.tls) {
            startInnerTls();
            return;
        }
        auto *ssl = static_cast<QSslSocket *>(m_socket);
        ssl->setPeerVerifyName(m_upstream.tlsName());
        ssl->startClientEncryption();
        return;
    }
    const QString what = QStringLiteral("CONNECT %1 through the upstream proxy %2")
                             .arg(QString::fromUtf8(authority()), proxy.address);
    if (m_proxyStatus != 407) {
        failNow(ForwardError::ProxyRefused, QStringLiteral("%1: it answered %2 %3")
                                                .arg(what)
                                                .arg(m_proxyStatus)
                                                .arg(QString::fromLatin1(m_proxyReason)));
        return;
    }
    if (!proxy.auth) {
        failNow(ForwardError::ProxyAuthFailed,
                QStringLiteral("%1: it asks for credentials (407), and the tunnel names no "
                               "dfproxy.dev/tunnel-credentials-file")
                    .arg(what));
        return;
    }
    QString error;
    if (proxy.auth->isConnectionBased()) {
        // Negotiate / NTLM: up to three legs on this connection (NTLM's negotiate, challenge, authenticate).
        if (m_securityLegs >= 3) {
            failNow(ForwardError::ProxyAuthFailed,
                    QStringLiteral("%1: it refused %2 (407)").arg(what, QString::fromLatin1(proxy.auth->connectionScheme())));
            return;
        }
        if (!m_security)
            m_security = proxy.auth->newContext(proxy.host, &error);
        if (m_security)
            m_authorization = proxy.auth->connectionAnswer(*m_security, header("proxy-authenticate"), &error);
        if (!m_security || m_authorization.isEmpty()) {
            failNow(ForwardError::ProxyAuthFailed, what + QStringLiteral(": ") + error);
            return;
        }
        ++m_securityLegs;
    } else if (m_authAnswered) {
        failNow(ForwardError::ProxyAuthFailed,
                QStringLiteral("%1: it refused the credentials of %2 (407)").arg(what, proxy.auth->user()));
        return;
    } else {
        m_authorization = proxy.auth->answer(header("proxy-authenticate"), "CONNECT", authority(), &error);
    }
    if (m_authorization.isEmpty()) {
        failNow(ForwardError::ProxyAuthFailed, what + QStringLiteral(": ") + error);
        return;
    }
    m_authAnswered = true;
    // Same connection when the proxy keeps it and says how long the body is; else a new one to the same address.
    const QList<QByteArray> lengths = header("content-length");
    bool lengthOk = lengths.size() == 1;
    const qint64 length = lengthOk ? lengths.first().toLongLong(&lengthOk) : -1;
    bool closes = !header("transfer-encoding").isEmpty();
    for (const QByteArray &name : {QByteArrayLiteral("connection"), QByteArrayLiteral("proxy-connection")}) {
        for (const QByteArray &v : header(name))
            closes |= v.toLower().contains("close");
    }
    if (lengthOk && length >= 0 && !closes) {
        m_skipBody = length;
        onProxyReadable();
        return;
    }
    m_timer.stop();
    dropSocket();
    if (m_security) { // a connection-based context does not move to another connection: start again there
        m_security.reset();
        m_authorization.clear();
    }
    dial();
}

TlsClientOptions Connector::originTlsOptions() const
{
    // The same verification as on the QSslSocket path: the backend's CA file alone, or the system's CAs; its
    // insecureSkipVerify; its sni as the name; ALPN as there: h2 for HTTP/2 backends (Http2Forwarder checks the
    // origin took it), h2 and http/1.1 under Auto, none for HTTP/1.1.
    TlsClientOptions o;
    o.peerName = m_upstream.tlsName();
    if (!m_upstream.tlsCaFile.isEmpty()) {
        o.systemCaCertificates = false;
        o.caCertificates = m_options.caCertificates ? m_options.caCertificates(m_upstream.tlsCaFile)
                                                    : QSslCertificate::fromPath(m_upstream.tlsCaFile, QSsl::Pem);
    }
    o.verifyPeer = !m_upstream.tlsInsecureSkipVerify;
    if (m_upstream.http2)
        o.alpn = m_upstream.http1Fallback ? QList<QByteArray>{QByteArrayLiteral("h2"), QByteArrayLiteral("http/1.1")}
                                          : QList<QByteArray>{QByteArrayLiteral("h2")};
    return o;
}

void Connector::startInnerTls()
{
    QTcpSocket *outer = std::exchange(m_socket, nullptr);
    QObject::disconnect(outer, nullptr, this, nullptr);
    auto *inner = new TlsLayerSocket(outer, originTlsOptions());
    m_socket = inner;
    connect(inner, &TlsLayerSocket::encrypted, this, [this] { onSocketConnected(); });
    connect(inner, &QAbstractSocket::errorOccurred, this, [this](QAbstractSocket::SocketError e) { onSocketError(e); });
    inner->startClientEncryption();
}

void Connector::failNow(ForwardError error, const QString &detail)
{
    m_timer.stop();
    dropSocket();
    ++m_failures;
    m_failed(error, detail);
}

void Connector::onSocketConnected()
{
    if (m_dialling) {
        // Qt connected inside connectToHost(): report from the event loop.
        QMetaObject::invokeMethod(this, [this, s = QPointer<QTcpSocket>(m_socket)] {
            if (s && s == m_socket)
                onSocketConnected();
        }, Qt::QueuedConnection);
        return;
    }
    m_timer.stop();
    QTcpSocket *s = std::exchange(m_socket, nullptr);
    QObject::disconnect(s, nullptr, this, nullptr);
    const QHostAddress address = m_addresses.at(m_index); // a copy: the callback may delete this
    qCDebug(lcForward).noquote() << "connected to" << address.toString() << "port" << hopPort() << "for" << hopHost();
    if (!m_connectedStream) {
        m_connected(s, address);
        return;
    }
    // Stream mode through a proxy or over TLS: the socket becomes a stream here (a raw one on a duplicate of its
    // descriptor, or QSslSocket wrapped).
    if (m_options.readBufferSize > 0)
        s->setReadBufferSize(m_options.readBufferSize);
    net::Stream *stream = net::Stream::adopt(s);
    if (!stream) {
        m_failed(ForwardError::Reset, QStringLiteral("the upstream closed the connection at once"));
        return;
    }
    m_connectedStream(stream, address);
}

void Connector::onSocketError(QAbstractSocket::SocketError error)
{
    if (!m_socket)
        return;
    if (m_dialling) {
        QMetaObject::invokeMethod(this, [this, error, s = QPointer<QTcpSocket>(m_socket)] {
            if (s && s == m_socket)
                onSocketError(error);
        }, Qt::QueuedConnection);
        return;
    }
    const QString detail = m_socket->errorString();
    if (m_phase == Phase::ProxyHandshake) {
        proxyClosed(detail);
        return;
    }
    if (m_phase == Phase::OriginTls) {
        failNow(isTlsFailure(error) ? ForwardError::TlsError : ForwardError::Reset,
                QStringLiteral("TLS to %1 port %2 through the upstream proxy %3 failed: %4")
                    .arg(m_upstream.host)
                    .arg(m_upstream.port)
                    .arg(m_upstream.proxy->address, detail));
        return;
    }
    addressFailed(isTlsFailure(error) ? ForwardError::TlsError : ForwardError::ConnectRefused, detail);
}

void Connector::timerEvent(QTimerEvent *ev)
{
    if (!m_timer.fired(this, ev) || (!m_socket && !m_stream))
        return;
    if (m_phase != Phase::Dialling) {
        m_timer.stop();
        dropSocket();
        markProxyUnreachable(*m_upstream.proxy);
        if (tryNextHop())
            return;
        failNow(ForwardError::ProxyUnreachable,
                QStringLiteral("no tunnel to %1 through the upstream proxy %2 after %3 ms")
                    .arg(QString::fromUtf8(authority()), m_upstream.proxy->address)
                    .arg(m_options.timeoutMs));
        return;
    }
    addressFailed(ForwardError::ConnectTimeout, QStringLiteral("connect timed out after %1 ms").arg(m_options.timeoutMs));
}

void Connector::addressFailed(ForwardError error, const QString &detail)
{
    qCDebug(lcForward).noquote() << "address" << m_addresses.at(m_index).toString() << "of" << hopHost() << "failed:"
                                 << detail << (m_index + 1 < m_addresses.size() ? "- trying the next" : "");
    m_timer.stop();
    dropSocket();
    ++m_failures;
    if (error == ForwardError::TlsError) {
        // The address answered; its certificate is the problem, and the other addresses serve the same one.
        m_failed(error, QStringLiteral("TLS to %1%2 port %3 failed: %4")
                            .arg(m_upstream.proxy ? QStringLiteral("the upstream proxy ") : QString(), hopHost())
                            .arg(hopPort())
                            .arg(detail));
        return;
    }
    if (m_options.hostCache)
        m_options.hostCache->reportConnectFailure(hopHost(), hopPort(), m_addresses.at(m_index));
    if (error == ForwardError::ConnectTimeout)
        ++m_timeouts;
    m_lastError = error;
    m_lastDetail = detail;
    if (++m_index < m_addresses.size()) {
        dial();
        return;
    }
    if (m_upstream.proxy)
        markProxyUnreachable(*m_upstream.proxy);
    if (tryNextHop())
        return;
    if (m_upstream.proxy) {
        m_failed(ForwardError::ProxyUnreachable, QStringLiteral("connecting to the upstream proxy %1 failed: %2")
                                                     .arg(m_upstream.proxy->address, m_lastDetail));
        return;
    }
    // Every address timed out: 504; every one refused or was unreachable: 502; a mix: the last one's.
    const ForwardError result = m_timeouts == m_failures ? ForwardError::ConnectTimeout
        : m_timeouts == 0                              ? ForwardError::ConnectRefused
                                                       : m_lastError;
    m_failed(result, QStringLiteral("connecting to %1 port %2 failed: %3")
                         .arg(m_upstream.host)
                         .arg(m_upstream.port)
                         .arg(m_lastDetail));
}

void Connector::dropSocket()
{
    if (net::Stream *s = std::exchange(m_stream, nullptr)) {
        s->setListener(nullptr);
        s->abort();
        s->deleteLater(); // possibly inside one of its own callbacks
    }
    if (!m_socket)
        return;
    QTcpSocket *s = std::exchange(m_socket, nullptr);
    QObject::disconnect(s, nullptr, this, nullptr);
    s->abort();
    s->deleteLater(); // possibly inside one of its own signals
}

} // namespace dfproxy::forward
