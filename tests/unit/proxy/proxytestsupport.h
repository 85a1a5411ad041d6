// SPDX-License-Identifier: Apache-2.0
#pragma once
// In-test origin server, raw HTTP client, fake HostCache, fake Router and a gated ProcessLookup for the proxy tests.

#include "dns/hostcache.h"
#include "http/httpparser.h"
#include "http/readbuffer.h"
#include "platform/processlookup.h"
#include "proxy/router.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QHash>
#include <QMutex>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

namespace dfproxy::testing {

/// A ProcessLookup that answers `answer` (null: not found) once its gate is open; closed, it holds the lookup
/// thread until open() (a slow /proc scan). The test keeps the state; the lookup goes to ClientApplications.
/// Open the gate before the ClientApplications goes: its destructor waits for the lookup thread.
struct GatedLookupState
{
    std::mutex mutex;
    std::condition_variable cv;
    bool isOpen = true;
    std::shared_ptr<const platform::ProcessInfo> answer;
    std::atomic<int> calls{0};   ///< lookups started
    std::atomic<int> answered{0}; ///< lookups that returned

    void close()
    {
        std::lock_guard lock(mutex);
        isOpen = false;
    }
    void open()
    {
        {
            std::lock_guard lock(mutex);
            isOpen = true;
        }
        cv.notify_all();
    }
};

class GatedProcessLookup final : public platform::ProcessLookup
{
public:
    explicit GatedProcessLookup(std::shared_ptr<GatedLookupState> state) : m_state(std::move(state)) {}
    std::shared_ptr<const platform::ProcessInfo> lookup(const QHostAddress &, quint16, const QHostAddress &,
                                                        quint16) override
    {
        m_state->calls.fetch_add(1);
        std::unique_lock lock(m_state->mutex);
        m_state->cv.wait(lock, [this] { return m_state->isOpen; });
        auto answer = m_state->answer;
        m_state->answered.fetch_add(1);
        return answer;
    }

private:
    std::shared_ptr<GatedLookupState> m_state;
};

template<class F>
bool waitFor(F &&f, int timeoutMs = 10000)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!f()) {
        if (deadline.hasExpired())
            return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
    }
    return true;
}

struct ReceivedRequest
{
    QByteArray method, target;
    http::HeaderList headers;
    QByteArray body;
    int connectionId = 0;
    QByteArray header(QByteArrayView name) const
    {
        const QByteArray *v = http::findHeader(headers, name);
        return v ? *v : QByteArray();
    }
    bool has(QByteArrayView name) const { return http::findHeader(headers, name) != nullptr; }
};

/// A small HTTP/1.1 origin on 127.0.0.1. Paths: "/" -> 200 "hello"; "/echo" -> the request body;
/// "/big?n=N" -> N bytes, chunked; "/close" -> body delimited by close; "/status/N" -> status N;
/// "/slow" -> never answers; "/ws" -> 101 then echoes bytes.
class TestOrigin : public QObject
{
public:
    TestOrigin()
    {
        QObject::connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *s = m_server.nextPendingConnection())
                accept(s);
        });
        m_server.listen(QHostAddress::LocalHost, 0);
    }
    quint16 port() const { return m_server.serverPort(); }
    int connections() const { return m_connections; }
    QList<ReceivedRequest> requests;
    std::function<void(QTcpSocket *, const ReceivedRequest &)> handler; ///< overrides the built-in paths

private:
    struct Conn : public http::BodyHandler
    {
        http::HttpParser parser{http::HttpParser::Kind::Request};
        http::ReadBuffer in;
        ReceivedRequest current;
        bool websocket = false;
        void onBody(const char *d, qsizetype n) override { current.body.append(d, n); }
    };

    void accept(QTcpSocket *s)
    {
        const int id = ++m_connections;
        auto conn = std::make_shared<Conn>();
        conn->parser.setBodyHandler(conn.get());
        QObject::connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
        QObject::connect(s, &QTcpSocket::readyRead, s, [this, s, conn, id] {
            if (conn->websocket) {
                s->write(s->readAll());
                return;
            }
            while (conn->in.fill(s) > 0) {
            }
            while (!conn->in.isEmpty()) {
                http::HttpParser::Stop stop;
                const qsizetype n = conn->parser.feed(conn->in.data(), conn->in.size(), &stop);
                conn->in.consume(n);
                if (stop == http::HttpParser::Stop::Error) {
                    s->write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    s->disconnectFromHost();
                    return;
                }
                if (stop == http::HttpParser::Stop::Head) {
                    conn->current = ReceivedRequest();
                    conn->current.method = conn->parser.head().method;
                    conn->current.target = conn->parser.head().target;
                    conn->current.headers = conn->parser.head().headers;
                    conn->current.connectionId = id;
                }
                if (stop == http::HttpParser::Stop::Complete) {
                    requests.append(conn->current);
                    respond(s, conn->current, conn.get());
                }
            }
        });
    }

    void respond(QTcpSocket *s, const ReceivedRequest &r, Conn *conn)
    {
        if (handler) {
            handler(s, r);
            return;
        }
        const QByteArray path = r.target;
        if (path == "/echo") {
            s->write("HTTP/1.1 200 OK\r\nContent-Length: " + QByteArray::number(r.body.size()) + "\r\n\r\n" + r.body);
        } else if (path.startsWith("/big")) {
            const qint64 n = path.mid(path.indexOf("n=") + 2).toLongLong();
            s->write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Origin-Hop: a\r\n\r\n");
            QByteArray chunk(16 * 1024, 'x');
            for (qint64 sent = 0; sent < n;) {
                const qint64 k = std::min<qint64>(chunk.size(), n - sent);
                s->write(QByteArray::number(k, 16) + "\r\n" + chunk.left(k) + "\r\n");
                sent += k;
            }
            s->write("0\r\n\r\n");
        } else if (path == "/close") {
            s->write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-close");
            s->disconnectFromHost();
        } else if (path.startsWith("/status/")) {
            const int status = path.mid(8).toInt();
            s->write("HTTP/1.1 " + QByteArray::number(status) + " X\r\nContent-Length: 0\r\n\r\n");
        } else if (path == "/slow") {
            // never answers
        } else if (path == "/ws") {
            conn->websocket = true;
            s->write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        } else if (r.method == "HEAD") {
            s->write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
        } else {
            s->write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive\r\n"
                     "Content-Type: text/plain\r\n\r\nhello");
        }
    }

    QTcpServer m_server;
    int m_connections = 0;
};

struct ClientResponse
{
    int status = 0;
    http::HeaderList headers;
    QByteArray body;
    bool complete = false;
    bool closed = false;
    QByteArray header(QByteArrayView name) const
    {
        const QByteArray *v = http::findHeader(headers, name);
        return v ? *v : QByteArray();
    }
    bool has(QByteArrayView name) const { return http::findHeader(headers, name) != nullptr; }
};

/// A raw HTTP client on one connection.
class TestClient : public http::BodyHandler
{
public:
    explicit TestClient(quint16 port)
    {
        m_socket.connectToHost(QHostAddress::LocalHost, port);
        waitFor([this] { return m_socket.state() == QAbstractSocket::ConnectedState; });
        m_parser.setBodyHandler(this);
    }
    void onBody(const char *d, qsizetype n) override { m_current.body.append(d, n); }
    void sendRaw(const QByteArray &bytes)
    {
        m_socket.write(bytes);
        m_socket.flush();
    }
    /// Sends `bytes` and reads one response.
    ClientResponse request(const QByteArray &bytes, bool head = false, int timeoutMs = 10000)
    {
        sendRaw(bytes);
        return read(head, timeoutMs);
    }
    ClientResponse read(bool head = false, int timeoutMs = 10000)
    {
        m_current = ClientResponse();
        m_parser.setExpectNoBody(head);
        bool done = false;
        waitFor(
            [&] {
                for (;;) {
                    if (m_in.isEmpty() && m_in.fill(&m_socket) <= 0)
                        break;
                    http::HttpParser::Stop stop;
                    const qsizetype n = m_parser.feed(m_in.data(), m_in.size(), &stop);
                    m_in.consume(n);
                    if (stop == http::HttpParser::Stop::Head) {
                        m_current.status = m_parser.head().status;
                        m_current.headers = m_parser.head().headers;
                    } else if (stop == http::HttpParser::Stop::Complete) {
                        if (m_current.status >= 100 && m_current.status < 200 && m_current.status != 101)
                            continue;
                        done = true;
                        m_current.complete = true;
                        return true;
                    } else if (stop == http::HttpParser::Stop::Error) {
                        return true;
                    }
                }
                if (m_socket.state() == QAbstractSocket::UnconnectedState) {
                    m_current.closed = true;
                    if (m_parser.feedEof() == http::HttpParser::Stop::Complete)
                        m_current.complete = true;
                    return true;
                }
                return false;
            },
            timeoutMs);
        Q_UNUSED(done)
        return m_current;
    }
    bool waitClosed(int timeoutMs = 10000)
    {
        return waitFor(
            [this] {
                m_socket.readAll();
                return m_socket.state() == QAbstractSocket::UnconnectedState;
            },
            timeoutMs);
    }
    QTcpSocket &socket() { return m_socket; }

private:
    QTcpSocket m_socket;
    http::HttpParser m_parser{http::HttpParser::Kind::Response};
    http::ReadBuffer m_in;
    ClientResponse m_current;
};

/// Maps names to addresses; unknown names fail with NxDomain. Optionally answers later (pending).
class FakeHostCache final : public dns::HostCache
{
public:
    QHash<QString, QList<QHostAddress>> hosts;
    QHash<QString, dns::DnsError> failures;
    bool deferred = false;
    mutable QMutex mutex;
    QList<QHostAddress> failedAddresses;
    int lookups = 0;

    Outcome lookup(const QString &host, quint16, dns::LookupFamily, QObject *context, Callback callback) override
    {
        dns::ResolveResult r;
        {
            QMutexLocker lock(&mutex);
            ++lookups;
            if (failures.contains(host)) {
                r.error = failures.value(host);
            } else if (hosts.contains(host)) {
                r.addresses = hosts.value(host);
                r.cacheHit = !deferred;
            } else if (QHostAddress(host).protocol() != QAbstractSocket::UnknownNetworkLayerProtocol) {
                r.addresses = {QHostAddress(host)};
                r.cacheHit = true;
            } else {
                r.error = dns::DnsError::NxDomain;
            }
        }
        Outcome out;
        if (!deferred) {
            out.ready = r;
            return out;
        }
        auto alive = std::make_shared<bool>(true);
        QPointer<QObject> ctx(context);
        QMetaObject::invokeMethod(
            context,
            [alive, ctx, callback, r] {
                if (*alive && ctx)
                    callback(r);
            },
            Qt::QueuedConnection);
        struct Pending : dns::PendingLookup
        {
            std::shared_ptr<bool> alive;
            ~Pending() override { *alive = false; }
        };
        auto p = std::make_unique<Pending>();
        p->alive = alive;
        out.pending = std::move(p);
        return out;
    }
    void reportConnectFailure(const QString &, quint16, const QHostAddress &address) override
    {
        QMutexLocker lock(&mutex);
        failedAddresses.append(address);
    }
};

/// Routes every host in `hosts` (or every host when empty) to one backend.
class FakeRouter final : public proxy::Router
{
public:
    QList<routing::Listener> listenerList;
    QStringList hosts;
    std::shared_ptr<routing::Backend> backend = std::make_shared<routing::Backend>();
    std::function<void(routing::RouteMatch &, const routing::RequestInfo &)> tweak;

    FakeRouter()
    {
        routing::Listener l;
        l.gatewayNamespace = QStringLiteral("agentgateway-system");
        l.gatewayName = QStringLiteral("agentgateway-proxy");
        l.name = QStringLiteral("http");
        l.address = QHostAddress::LocalHost;
        l.port = 0;
        l.protocol = QStringLiteral("HTTP");
        l.connectPorts = {443};
        listenerList.append(l);
        backend->ns = QStringLiteral("httpbin");
        backend->name = QStringLiteral("dfp-backend");
    }
    QList<routing::Listener> listeners() const override { return listenerList; }
    std::optional<routing::RouteMatch> match(const routing::RequestInfo &req, double) const override
    {
        if (!hosts.isEmpty() && !hosts.contains(QString::fromLatin1(req.host)))
            return std::nullopt;
        routing::RouteMatch m;
        m.routeNamespace = QStringLiteral("httpbin");
        m.routeName = QStringLiteral("dfp-httproute");
        m.ruleIndex = 0;
        m.matchedPrefix = QStringLiteral("/");
        m.backend = backend;
        if (tweak)
            tweak(m, req);
        return m;
    }
};

} // namespace dfproxy::testing
