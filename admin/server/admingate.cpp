// SPDX-License-Identifier: Apache-2.0
#include "server/admingate.h"

#include "base/logcategories.h"
#include "http/httpheaders.h"
#include "platform/socket.h"
#include "server/relaysocket.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QPointer>
#include <QTcpSocket>
#include <QTimer>

#include <algorithm>
#include <memory>
#include <utility>

Q_LOGGING_CATEGORY(lcAdminGate, "dfproxy.admin.gate", QtInfoMsg)

namespace dfproxy::admin {

namespace {

// The kernel keeps what the gate does not read yet: the socket's own buffer stays this small, so a body the gate
// refuses is never pulled into the process.
constexpr qint64 kReadChunk = 64 * 1024;
// Responses not yet taken by a client that keeps sending: reading stops above this until it drains.
constexpr qint64 kMaxPendingOutput = 1024 * 1024;
// After an error answer, the client gets this long to take it before the connection is cut.
constexpr int kCloseGraceMs = 5000;
// Lingering close: how long a client still sending after its last answer may go on before the connection is reset.
constexpr int kLingerMs = 2000;

ApiResponse parseProblem(const http::ParseError &e)
{
    QString detail;
    switch (e.status) {
    case 414: detail = QStringLiteral("the request target is too long"); break;
    case 431: detail = QStringLiteral("the request head (request line and headers) is too large"); break;
    case 505: detail = QStringLiteral("only HTTP/1.0 and HTTP/1.1 are supported"); break;
    default: detail = QStringLiteral("malformed request: %1").arg(QString::fromLatin1(e.reason)); break;
    }
    ApiResponse r = ApiResponse::problem(e.status, detail);
    r.addHeader("x-dfproxy-error", e.reason);
    return r;
}

ApiResponse bodyTooLarge(qsizetype limit)
{
    ApiResponse r = ApiResponse::problem(413, QStringLiteral("the request body is larger than %1 bytes").arg(limit));
    r.addHeader("x-dfproxy-error", "body_too_large");
    return r;
}

// The request as QHttpServer gets it: the same request line and headers, the body framed by Content-Length only
// (Transfer-Encoding and Expect are the gate's business; QHttpServer 6.4 would misread the former's list).
QByteArray reframedHead(const http::MessageHead &head, qint64 bodyBytes)
{
    QByteArray out = head.method + ' ' + head.target + " HTTP/1." + QByteArray::number(head.versionMinor) + "\r\n";
    for (const auto &h : head.headers) {
        const QByteArrayView name(h.first);
        if (name.compare("content-length", Qt::CaseInsensitive) == 0
            || name.compare("transfer-encoding", Qt::CaseInsensitive) == 0
            || name.compare("expect", Qt::CaseInsensitive) == 0)
            continue;
        out += h.first + ": " + h.second + "\r\n";
    }
    if (bodyBytes > 0)
        out += "Content-Length: " + QByteArray::number(bodyBytes) + "\r\n";
    return out + "\r\n";
}

// What a refused request turns into for QHttpServer: no body, nothing of the client's; the verdict travels beside.
const QByteArray kRefusedStandIn = QByteArrayLiteral("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");

} // namespace

/// One client connection of the admin API: reads and checks its requests, hands the good ones to QHttpServer
/// through its RelaySocket, and enforces the head and idle timeouts. Deletes itself when the client is gone.
class GatedConnection : public QObject, private http::BodyHandler
{
public:
    GatedConnection(qintptr socketDescriptor, AdminGate *gate)
        : QObject(gate), m_gate(gate), m_parser(http::HttpParser::Kind::Request, parserLimits(gate->limits()))
    {
        m_client = new QTcpSocket(this);
        m_client->setReadBufferSize(kReadChunk);
        ++m_gate->m_connections;
        if (!m_client->setSocketDescriptor(socketDescriptor)) {
            deleteLater();
            return;
        }
        m_parser.setBodyHandler(this);
        m_relay = new RelaySocket(m_client, this);

        m_headTimer.setSingleShot(true);
        m_headTimer.setInterval(gate->limits().headTimeoutMs);
        connect(&m_headTimer, &QTimer::timeout, this, [this] { cut("the request head did not arrive in time"); });
        m_idleTimer.setSingleShot(true);
        m_idleTimer.setInterval(gate->limits().idleTimeoutMs);
        connect(&m_idleTimer, &QTimer::timeout, this, [this] { cut("idle"); });
        m_closeTimer.setSingleShot(true);
        m_closeTimer.setInterval(kCloseGraceMs);
        connect(&m_closeTimer, &QTimer::timeout, this, [this] { cut("the answer was not taken in time"); });

        connect(m_client, &QTcpSocket::readyRead, this, &GatedConnection::onReadable);
        connect(m_client, &QTcpSocket::bytesWritten, this, [this](qint64 bytes) {
            m_idleTimer.start();
            if (m_relay) // what QHttpServer's writer of long bodies waits for
                Q_EMIT m_relay->bytesWritten(bytes);
            onReadable(); // reading may have stopped for the output backlog
        });
        connect(m_client, &QTcpSocket::disconnected, this, &GatedConnection::onClientGone);
        connect(m_relay, &RelaySocket::outgoing, this, [this](const QByteArray &data) {
            m_idleTimer.start();
            m_client->write(data);
        });
        // QHttpServer (or a stream handler) closed its end: after an error answer, or when it gave up.
        connect(m_relay, &RelaySocket::disconnected, this, &GatedConnection::finishAfterAnswer);

        m_headTimer.start(); // a connection that says nothing is closed after the head timeout
        m_idleTimer.start();
        m_gate->addPendingConnection(m_relay);
    }

    ~GatedConnection() override
    {
        if (m_gate) // null while the gate itself is being destroyed
            --m_gate->m_connections;
        if (m_relay) {
            m_relay->disconnect(this);
            m_relay->disconnectFromHost();
        }
    }

private:
    enum class State { Head, Body, Closing };

    static http::ParserLimits parserLimits(const GateLimits &limits)
    {
        http::ParserLimits l;
        l.maxHeaderBytes = limits.maxHeadBytes;
        l.maxUriBytes = std::min<qsizetype>(l.maxUriBytes, limits.maxHeadBytes);
        return l;
    }

    void onReadable()
    {
        // Closing: the rest (a refused body, say) is never read; the kernel holds it until the close.
        while (m_state != State::Closing && m_client->bytesAvailable() > 0
               && m_client->bytesToWrite() < kMaxPendingOutput) {
            const QByteArray data = m_client->read(kReadChunk);
            if (data.isEmpty())
                break;
            m_idleTimer.start();
            feed(data.constData(), data.size());
        }
    }

    void feed(const char *data, qsizetype size)
    {
        while (size > 0 && m_state != State::Closing) {
            if (m_state == State::Head && !m_headTimer.isActive())
                m_headTimer.start(); // the first byte of the next request on a kept-alive connection
            auto stop = http::HttpParser::Stop::NeedMore;
            const qsizetype n = m_parser.feed(data, size, &stop);
            data += n;
            size -= n;
            if (m_state == State::Body && m_parser.head().chunked) {
                m_chunkedWireBytes += n;
                // Tiny chunks with long extensions: bound the framing too, not only what it decodes to.
                if (m_chunkedWireBytes > 2 * m_gate->limits().maxBodyBytes + 64 * 1024)
                    m_tooLarge = true;
            }
            if (m_tooLarge) {
                refuse(bodyTooLarge(m_gate->limits().maxBodyBytes));
                return;
            }
            switch (stop) {
            case http::HttpParser::Stop::Head: onHead(); break;
            case http::HttpParser::Stop::Complete: onComplete(); break;
            case http::HttpParser::Stop::Error: refuse(parseProblem(m_parser.error())); return;
            case http::HttpParser::Stop::NeedMore:
                if (n == 0)
                    return;
                break;
            }
        }
    }

    void onHead()
    {
        m_headTimer.stop();
        const http::MessageHead &head = m_parser.head();
        if (head.upgrade) {
            ApiResponse r = ApiResponse::problem(400, QStringLiteral("the admin API does not tunnel or upgrade"));
            r.addHeader("x-dfproxy-error", "upgrade_not_supported");
            refuse(r);
            return;
        }
        if (auto verdict = m_gate->m_check(head)) {
            refuse(*verdict);
            return;
        }
        if (head.contentLength > m_gate->limits().maxBodyBytes) {
            refuse(bodyTooLarge(m_gate->limits().maxBodyBytes));
            return;
        }
        m_state = State::Body;
        m_chunkedBody.clear();
        m_chunkedWireBytes = 0;
        if (!head.chunked)
            m_relay->deliverHead(reframedHead(head, std::max<qint64>(0, head.contentLength)), std::nullopt);
        const QByteArray *expect = http::findHeader(head.headers, "expect");
        if (expect && expect->trimmed().compare("100-continue", Qt::CaseInsensitive) == 0 && head.hasRequestBody())
            m_client->write("HTTP/1.1 100 Continue\r\n\r\n");
    }

    void onBody(const char *data, qsizetype size) override
    {
        if (!m_parser.head().chunked) {
            m_relay->deliverBody(data, size);
            return;
        }
        if (m_tooLarge)
            return;
        if (m_chunkedBody.size() + size > m_gate->limits().maxBodyBytes) {
            m_tooLarge = true;
            m_chunkedBody.clear();
            return;
        }
        m_chunkedBody.append(data, size);
    }

    void onComplete()
    {
        if (m_state != State::Body)
            return;
        if (m_parser.head().chunked) {
            m_relay->deliverHead(reframedHead(m_parser.head(), m_chunkedBody.size()) + m_chunkedBody, std::nullopt);
            m_chunkedBody.clear();
        }
        m_state = State::Head;
    }

    /// Answers `verdict` (through QHttpServer, after any earlier responses) and stops reading this client.
    void refuse(const ApiResponse &verdict)
    {
        // The reason is the problem's detail (the client gets the same text); parsed only when the line is written.
        qCDebug(lcAdmin).noquote() << "gate refused a request from" << m_client->peerAddress().toString() << "-"
                                   << verdict.status
                                   << QJsonDocument::fromJson(verdict.body).object().value("detail").toString();
        m_state = State::Closing;
        m_headTimer.stop();
        m_chunkedBody.clear();
        m_closeTimer.start();
        m_relay->deliverHead(kRefusedStandIn, verdict);
    }

    void cut(const char *why)
    {
        if (m_client) {
            qCDebug(lcAdminGate) << "closing" << m_client->peerAddress() << why;
            m_client->disconnect(this);
            m_client->abort();
        }
        onClientGone();
    }

    void onClientGone()
    {
        m_headTimer.stop();
        m_idleTimer.stop();
        m_closeTimer.stop();
        m_state = State::Closing;
        if (m_relay) {
            m_relay->disconnect(this);
            m_relay->disconnectFromHost(); // QHttpServer deletes it
        }
        deleteLater();
    }

    // The server side is done with this connection: the client socket closes on its own (lingeringClose, which
    // counts it against the connection limit until it is gone), the gate's part ends here.
    void finishAfterAnswer()
    {
        if (m_client) {
            QTcpSocket *client = std::exchange(m_client, nullptr);
            client->disconnect(this);
            m_gate->lingeringClose(client);
        }
        onClientGone();
    }

    QPointer<AdminGate> m_gate;
    QTcpSocket *m_client = nullptr;
    QPointer<RelaySocket> m_relay;
    http::HttpParser m_parser;
    State m_state = State::Head;
    QByteArray m_chunkedBody;
    qint64 m_chunkedWireBytes = 0;
    bool m_tooLarge = false;
    QTimer m_headTimer;
    QTimer m_idleTimer;
    QTimer m_closeTimer;
};

AdminGate::AdminGate(const GateLimits &limits, HeadCheck check, QObject *parent)
    : QTcpServer(parent), m_limits(limits), m_check(std::move(check))
{
}

AdminGate::~AdminGate() = default;

void AdminGate::incomingConnection(qintptr socketDescriptor)
{
    if (m_connections >= m_limits.maxConnections) {
        refuse(socketDescriptor);
        return;
    }
    new GatedConnection(socketDescriptor, this);
}

// Over the connection limit: a short 503 and close, without reading anything.
void AdminGate::refuse(qintptr socketDescriptor)
{
    auto *socket = new QTcpSocket(this);
    if (!socket->setSocketDescriptor(socketDescriptor)) {
        delete socket;
        return;
    }
    const ApiResponse r = ApiResponse::problem(
        503, QStringLiteral("too many admin API connections are open (admin.maxConnections is %1)")
                 .arg(m_limits.maxConnections));
    qCDebug(lcAdmin).noquote() << "gate refused a connection from" << socket->peerAddress().toString()
                               << "- 503 admin.maxConnections (" << m_limits.maxConnections << ") reached";
    socket->write("HTTP/1.1 503 Service Unavailable\r\nContent-Type: " + r.contentType
                  + "\r\nContent-Length: " + QByteArray::number(r.body.size())
                  + "\r\nx-dfproxy-error: too_many_connections\r\nCache-Control: no-store\r\n"
                    "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
                    "Content-Security-Policy: default-src 'none'\r\nConnection: close\r\n\r\n"
                  + r.body);
    lingeringClose(socket, false);
}

// Ends a connection after its last answer without losing that answer. Closing a socket with unread bytes makes
// the kernel send a reset, and a client still sending its (refused) body would then lose the response it has not
// read yet. So: send FIN once the answer is out, then read and drop whatever still comes (never kept, so memory
// does not grow) until the client closes, for at most kLingerMs. `counted`: the socket holds a place of the
// connection limit meanwhile, so refused clients cannot pile up in this state.
void AdminGate::lingeringClose(QTcpSocket *socket, bool counted)
{
    socket->disconnect();
    socket->setParent(this);
    if (counted) {
        ++m_connections;
        connect(socket, &QObject::destroyed, this, [this] { --m_connections; });
    }
    const auto end = [socket] {
        socket->disconnect();
        socket->abort();
        socket->deleteLater();
    };
    connect(socket, &QTcpSocket::readyRead, socket, [socket] {
        while (socket->bytesAvailable() > 0 && socket->skip(kReadChunk) > 0) {
        }
    });
    connect(socket, &QTcpSocket::disconnected, socket, end);
    const auto halfClose = [socket] {
        if (socket->bytesToWrite() == 0 && socket->state() == QAbstractSocket::ConnectedState)
            platform::shutdownWrite(socket->socketDescriptor());
    };
    connect(socket, &QTcpSocket::bytesWritten, socket, halfClose);
    halfClose();
    QTimer::singleShot(kLingerMs, socket, end);
    if (socket->bytesAvailable() > 0)
        QMetaObject::invokeMethod(socket, &QTcpSocket::readyRead, Qt::QueuedConnection);
}

} // namespace dfproxy::admin
