// SPDX-License-Identifier: Apache-2.0
// What an admin API client can hold of the proxy process, against the real dfproxy binary: requests are decided on
// their heads (token, body size) before any body byte is read, slow and silent connections are closed, the number
// of connections is bounded, and valid clients keep their keep-alive connections.
#include "support/testsupport.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>

#include <gtest/gtest.h>

#include <iostream>
#include <optional>

using namespace dfproxy::test;

namespace {

/// Peak resident set (VmHWM) of a process in KiB (Linux /proc), 0 when unknown.
qint64 peakRssKiB(qint64 pid)
{
    QFile f(QStringLiteral("/proc/%1/status").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith("VmHWM:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong();
    }
    return 0;
}

struct RawResponse
{
    int status = 0;
    QList<QPair<QByteArray, QByteArray>> headers;
    QByteArray body;

    QByteArray header(const QByteArray &name) const
    {
        for (const auto &h : headers) {
            if (h.first.compare(name, Qt::CaseInsensitive) == 0)
                return h.second;
        }
        return {};
    }
    bool isProblem(int expected) const
    {
        return status == expected && header("content-type").startsWith("application/problem+json")
               && QJsonDocument::fromJson(body).object().value("status").toInt() == expected;
    }
};

/// Takes one whole response (head and Content-Length body) off the front of `buffer`; 1xx answers are skipped
/// unless `interim`.
std::optional<RawResponse> takeResponse(QByteArray &buffer, bool interim = false)
{
    for (;;) {
        const qsizetype end = buffer.indexOf("\r\n\r\n");
        if (end < 0)
            return std::nullopt;
        const QList<QByteArray> lines = buffer.left(end).split('\n');
        RawResponse r;
        r.status = lines.value(0).split(' ').value(1).toInt();
        qsizetype length = 0;
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const qsizetype colon = lines[i].indexOf(':');
            if (colon > 0)
                r.headers.append({lines[i].left(colon).trimmed(), lines[i].mid(colon + 1).trimmed()});
        }
        length = r.header("content-length").toLongLong();
        if (!interim && r.status >= 100 && r.status < 200) {
            buffer.remove(0, end + 4);
            continue;
        }
        if (buffer.size() < end + 4 + length)
            return std::nullopt;
        r.body = buffer.mid(end + 4, length);
        buffer.remove(0, end + 4 + length);
        return r;
    }
}

/// A raw HTTP/1.1 client on one connection, for what curl will not do: half heads, huge announced bodies,
/// several requests on one connection, watching the server close.
class RawClient
{
public:
    explicit RawClient(quint16 port)
    {
        m_socket.connectToHost(QHostAddress::LocalHost, port);
        m_socket.waitForConnected(10000);
    }
    bool connected() const { return m_socket.state() == QAbstractSocket::ConnectedState; }
    void send(const QByteArray &bytes)
    {
        m_socket.write(bytes);
        m_socket.waitForBytesWritten(10000);
    }
    /// The next response, or nothing if none came within maxMs (a bound, not an expectation); `interim`: 1xx
    /// answers count too.
    std::optional<RawResponse> response(int maxMs = 15000, bool interim = false)
    {
        QElapsedTimer t;
        t.start();
        for (;;) {
            if (auto r = takeResponse(m_in, interim))
                return r;
            if (t.elapsed() > maxMs || !pull(100))
                return takeResponse(m_in, interim);
        }
    }
    /// True once the server closed the connection (within maxMs).
    bool closedWithin(int maxMs)
    {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < maxMs) {
            if (!pull(100))
                return true;
        }
        return false;
    }
    /// Streams `total` body bytes in 256 KiB pieces until done or the server closes (or maxMs passes); returns
    /// how many the server's side took (written to the kernel; what the server read is at most that).
    qint64 stream(qint64 total, int maxMs, const QByteArray &(*piece)(qint64 size) = nullptr)
    {
        static const QByteArray kPiece(256 * 1024, 'x');
        QElapsedTimer t;
        t.start();
        qint64 queued = 0;
        while (queued < total && t.elapsed() < maxMs && connected()) {
            if (m_socket.bytesToWrite() < 1024 * 1024) {
                const QByteArray &p = piece ? piece(kPiece.size()) : kPiece;
                m_socket.write(p);
                queued += p.size();
            }
            m_socket.waitForBytesWritten(50);
            m_in += m_socket.readAll();
        }
        m_in += m_socket.readAll();
        return queued - m_socket.bytesToWrite();
    }
    QAbstractSocket::SocketState state() const { return m_socket.state(); }

private:
    // Reads what is there (waiting up to ms); false when the connection is closed.
    bool pull(int ms)
    {
        if (m_socket.state() != QAbstractSocket::ConnectedState) {
            m_in += m_socket.readAll();
            return false;
        }
        m_socket.waitForReadyRead(ms);
        m_in += m_socket.readAll();
        return m_socket.state() == QAbstractSocket::ConnectedState;
    }

    QTcpSocket m_socket;
    QByteArray m_in;
};

QByteArray head(const QByteArray &method, const QByteArray &path, const QByteArray &token,
                const QByteArray &extra = {})
{
    QByteArray h = method + ' ' + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!token.isEmpty())
        h += "Authorization: Bearer " + token + "\r\n";
    return h + extra + "\r\n";
}

DfproxyProcess::Options withAdmin(const QJsonObject &admin)
{
    DfproxyProcess::Options o;
    o.adminBlock = admin;
    return o;
}

} // namespace

// (a) An unauthenticated client announcing and streaming 300 MiB: 401 from the head, the connection closed long
// before the body ends, and the proxy's peak RSS all but unchanged (QHttpServer alone read it all, twice).
TEST(AdminLimits, UnauthenticatedHugeBodyIsRefusedOnItsHeadWithoutReadingIt)
{
    DfproxyProcess proxy;
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();
    const qint64 pid = proxy.process()->pid();
    ASSERT_EQ(proxy.apiGet("/api/v1/server").status, 200);
    const qint64 before = peakRssKiB(pid);

    constexpr qint64 kBody = 300LL * 1024 * 1024;
    RawClient c(proxy.adminPort());
    ASSERT_TRUE(c.connected());
    c.send(head("PUT", "/api/v1/config", {},
                "Content-Type: application/json\r\nIf-Match: *\r\nContent-Length: " + QByteArray::number(kBody)
                    + "\r\n"));
    const qint64 taken = c.stream(kBody, 120000);
    const auto r = c.response(5000);
    ASSERT_TRUE(r) << "no answer; " << taken << " body bytes were taken";
    EXPECT_TRUE(r->isProblem(401)) << r->status << " " << r->body.toStdString();
    EXPECT_TRUE(c.closedWithin(15000));
    // The server stopped taking the body early: kernel buffers and a bounded lingering drain, not 300 MiB.
    EXPECT_LT(taken, 64LL * 1024 * 1024) << taken;

    const qint64 after = peakRssKiB(pid);
    std::cout << "[ rss      ] dfproxy VmHWM before " << before << " KiB, after " << after << " KiB, rise "
              << after - before << " KiB; body bytes taken by the server's side: " << taken << std::endl;
    if (before > 0) {
        EXPECT_LT(after - before, 16 * 1024) << "peak RSS rose by " << after - before << " KiB";
    }
    // The API is still there for valid clients.
    EXPECT_EQ(proxy.apiGet("/api/v1/server").status, 200);
}

// (b) An authenticated PUT announcing more than the body limit: 413 on the head, before a single body byte is sent.
TEST(AdminLimits, ContentLengthOverTheLimitIs413BeforeTheBody)
{
    DfproxyProcess proxy;
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();
    RawClient c(proxy.adminPort());
    c.send(head("PUT", "/api/v1/config", proxy.token(),
                "Content-Type: application/json\r\nIf-Match: *\r\nContent-Length: 2097152\r\n"));
    const auto r = c.response();
    ASSERT_TRUE(r) << "no answer without the body";
    EXPECT_TRUE(r->isProblem(413)) << r->status << " " << r->body.toStdString();
    EXPECT_EQ(r->header("x-dfproxy-error"), "body_too_large");
    EXPECT_EQ(r->header("connection").toLower(), "close");
    EXPECT_TRUE(c.closedWithin(15000));
}

// (c) A chunked body is decoded by the gate: within the limit it reaches the handler, beyond it the request is cut
// with 413 and the connection closed.
TEST(AdminLimits, ChunkedBodiesAreDecodedAndCutAtTheLimit)
{
    DfproxyProcess proxy;
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();
    {
        RawClient c(proxy.adminPort());
        const QByteArray json = R"({"level": "info"})";
        c.send(head("PUT", "/api/v1/logging", proxy.token(),
                    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n")
               + QByteArray::number(5, 16) + "\r\n" + json.left(5) + "\r\n" + QByteArray::number(json.size() - 5, 16)
               + "\r\n" + json.mid(5) + "\r\n0\r\n\r\n");
        const auto r = c.response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << r->body.toStdString();
        EXPECT_EQ(QJsonDocument::fromJson(r->body).object().value("level").toString(), "info");
    }
    RawClient c(proxy.adminPort());
    c.send(head("PUT", "/api/v1/logging", proxy.token(),
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"));
    static const QByteArray kChunk = QByteArray::number(256 * 1024 - 16, 16) + "\r\n"
                                     + QByteArray(256 * 1024 - 16, ' ') + "\r\n";
    const qint64 taken = c.stream(64LL * 1024 * 1024, 60000, [](qint64) -> const QByteArray & { return kChunk; });
    const auto r = c.response(5000);
    ASSERT_TRUE(r) << "no answer; " << taken << " bytes were taken";
    EXPECT_TRUE(r->isProblem(413)) << r->status << " " << r->body.toStdString();
    EXPECT_EQ(r->header("x-dfproxy-error"), "body_too_large");
    EXPECT_TRUE(c.closedWithin(15000));
    EXPECT_LT(taken, 32LL * 1024 * 1024) << taken;
}

// (d) Half a head, or nothing at all, is closed after the head timeout; a kept-alive connection that goes quiet
// after the idle timeout; other clients are served meanwhile.
TEST(AdminLimits, SlowAndSilentConnectionsAreClosedWhileOthersAreServed)
{
    DfproxyProcess proxy(withAdmin(QJsonObject{{"headTimeoutMs", 3000}, {"idleTimeoutMs", 5000}}));
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();
    RawClient half(proxy.adminPort());
    half.send("GET /api/v1/server HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bea");
    RawClient silent(proxy.adminPort());
    RawClient idle(proxy.adminPort());
    idle.send(head("GET", "/healthz", {}));
    const auto first = idle.response();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->status, 200);

    EXPECT_EQ(proxy.apiGet("/api/v1/server").status, 200); // served while the others hang
    EXPECT_TRUE(half.closedWithin(30000));
    EXPECT_FALSE(half.response(0)) << "the half head got an answer";
    EXPECT_TRUE(silent.closedWithin(30000));
    EXPECT_TRUE(idle.closedWithin(30000));
    EXPECT_EQ(proxy.apiGet("/api/v1/server").status, 200);
}

// (e) Beyond admin.maxConnections a connection gets 503 and is closed; a freed place is taken again.
TEST(AdminLimits, ConnectionsBeyondTheLimitAreRefused)
{
    DfproxyProcess proxy(withAdmin(QJsonObject{{"maxConnections", 3}, {"headTimeoutMs", 120000}}));
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();
    std::vector<std::unique_ptr<RawClient>> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(std::make_unique<RawClient>(proxy.adminPort()));
        held.back()->send(head("GET", "/healthz", {}));
        const auto r = held.back()->response();
        ASSERT_TRUE(r) << "connection " << i;
        EXPECT_EQ(r->status, 200);
    }
    RawClient extra(proxy.adminPort());
    extra.send(head("GET", "/healthz", {}));
    const auto refused = extra.response();
    ASSERT_TRUE(refused);
    EXPECT_TRUE(refused->isProblem(503)) << refused->status << " " << refused->body.toStdString();
    EXPECT_EQ(refused->header("x-dfproxy-error"), "too_many_connections");
    EXPECT_TRUE(extra.closedWithin(15000));

    // The held connections still work, and once one goes its place is free again.
    held[0]->send(head("GET", "/api/v1/server", proxy.token()));
    const auto still = held[0]->response();
    ASSERT_TRUE(still);
    EXPECT_EQ(still->status, 200);
    held.pop_back();
    EXPECT_TRUE(waitUntil([&] { return proxy.apiGet("/api/v1/server").status == 200; }, 30000));

    // Clients that leave in the middle of a head or a body give their places back too.
    held.clear();
    for (int i = 0; i < 10; ++i) {
        RawClient leaving(proxy.adminPort());
        leaving.send(i % 2 ? QByteArray("GET /api/v1/ser")
                           : head("PUT", "/api/v1/logging", proxy.token(), "Content-Length: 100\r\n") + "{\"lev");
    }
    EXPECT_TRUE(waitUntil([&] { return proxy.apiGet("/api/v1/server").status == 200; }, 30000));
    for (int i = 0; i < 3; ++i)
        held.push_back(std::make_unique<RawClient>(proxy.adminPort()));
    for (auto &c : held) {
        c->send(head("GET", "/healthz", {}));
        const auto r = c->response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
    }
}

// (f) Valid clients keep their connection for many requests, pipelined ones are answered in order, and a request
// without the token later on the same connection still gets 401 (every head is checked, not just the first).
TEST(AdminLimits, KeepAliveAndPipeliningWorkAndEveryRequestIsChecked)
{
    DfproxyProcess proxy;
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();
    RawClient c(proxy.adminPort());
    for (int i = 0; i < 3; ++i) {
        c.send(head("GET", "/api/v1/server", proxy.token()));
        const auto r = c.response();
        ASSERT_TRUE(r) << "request " << i;
        EXPECT_EQ(r->status, 200);
    }
    const QByteArray json = R"({"level": "warning"})";
    c.send(head("PUT", "/api/v1/logging", proxy.token(),
                "Content-Type: application/json\r\nContent-Length: " + QByteArray::number(json.size()) + "\r\n")
           + json + head("GET", "/api/v1/logging", proxy.token()) + head("GET", "/readyz", {}));
    const auto put = c.response();
    const auto get = c.response();
    const auto ready = c.response();
    ASSERT_TRUE(put && get && ready);
    EXPECT_EQ(put->status, 200) << put->body.toStdString();
    EXPECT_EQ(QJsonDocument::fromJson(get->body).object().value("level").toString(), "warning");
    EXPECT_EQ(ready->status, 200);

    // A refused request pipelined behind a good one: both answers, in request order, then the close.
    c.send(head("GET", "/api/v1/server", proxy.token())
           + head("PUT", "/api/v1/logging", {}, "Content-Length: 1000000\r\n"));
    const auto before = c.response();
    ASSERT_TRUE(before);
    EXPECT_EQ(before->status, 200);
    const auto refused = c.response();
    ASSERT_TRUE(refused);
    EXPECT_TRUE(refused->isProblem(401)) << refused->status;
    EXPECT_FALSE(refused->header("www-authenticate").isEmpty());
    EXPECT_TRUE(c.closedWithin(15000));
}

// Expect: 100-continue is answered on the head: 100 when it passes (then the body is read), the error otherwise.
TEST(AdminLimits, ExpectContinueIsAnsweredOnTheHead)
{
    DfproxyProcess proxy;
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();
    const QByteArray json = R"({"level": "error"})";
    RawClient c(proxy.adminPort());
    c.send(head("PUT", "/api/v1/logging", proxy.token(),
                "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: "
                    + QByteArray::number(json.size()) + "\r\n"));
    const auto go = c.response(15000, true);
    ASSERT_TRUE(go);
    EXPECT_EQ(go->status, 100);
    c.send(json);
    const auto r = c.response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body.toStdString();
    EXPECT_EQ(QJsonDocument::fromJson(r->body).object().value("level").toString(), "error");

    RawClient refused(proxy.adminPort());
    refused.send(head("PUT", "/api/v1/logging", "not-the-token",
                      "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 100\r\n"));
    const auto no = refused.response(15000, true);
    ASSERT_TRUE(no);
    EXPECT_TRUE(no->isProblem(401)) << no->status;
    EXPECT_TRUE(refused.closedWithin(15000));
}

// A malformed head gets a precise 400 with the parser's reason, and the connection is closed.
TEST(AdminLimits, MalformedHeadsGetPreciseErrors)
{
    DfproxyProcess proxy;
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();
    RawClient c(proxy.adminPort());
    c.send(head("PUT", "/api/v1/logging", proxy.token(), "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"));
    const auto r = c.response();
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->isProblem(400)) << r->status << " " << r->body.toStdString();
    EXPECT_EQ(r->header("x-dfproxy-error"), "content_length_with_transfer_encoding");
    EXPECT_TRUE(c.closedWithin(15000));

    RawClient big(proxy.adminPort());
    big.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + QByteArray(64 * 1024, 'a') + "\r\n\r\n");
    const auto tooBig = big.response();
    ASSERT_TRUE(tooBig);
    EXPECT_TRUE(tooBig->isProblem(431)) << tooBig->status;
}
