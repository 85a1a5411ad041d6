// SPDX-License-Identifier: Apache-2.0
// Hostile origins against the real dfproxy, both engines: a scripted origin (tests/support/scriptedorigin.h)
// answers with malformed framing and header bytes followed by a smuggled second response ("EVIL"). Each must end in
// a 502 and a closed client connection before any of it reaches the client, and no later request, on the client
// connection or on a reused upstream connection, may see the leftover bytes. The valid look-alikes must still pass.
#include "proxyitutil.h"
#include "support/scriptedorigin.h"

#include <QTcpSocket>

#include <gtest/gtest.h>

using namespace dfproxy::test;
using namespace dfproxy::test::proxyit;

namespace {

/// What a client gets for one case from one engine: an empty reason means 200 with body "hello", else 502 with
/// "bad response: REASON" in the body.
struct Expect
{
    QByteArray reason;
};

struct OriginCase
{
    const char *name;
    QByteArray head; ///< status line and header lines, without the blank line
    Expect native;
    Expect qnam;
    QByteArray xa = {}; ///< a passing case: the X-A value the client must get
};

/// A second response behind the first: a proxy that reads the first one by the wrong length relays this.
const QByteArray kSmuggled = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL";

Expect reject(const char *reason)
{
    return Expect{reason};
}
const Expect kPass{};

QList<OriginCase> cases()
{
    const QByteArray ok = "HTTP/1.1 200 OK\r\n";
    return {
        // The finding: QNAM sent "Content-Length: 0" and then the rest as the next response.
        {"two Content-Length", ok + "Content-Length: 5\r\nContent-Length: 45", reject("duplicate_content_length"),
         reject("duplicate_content_length")},
        // QNAM hands repeated fields over joined with ", ": a list and two headers look the same to it.
        {"Content-Length list", ok + "Content-Length: 5, 45", reject("invalid_content_length"),
         reject("duplicate_content_length")},
        {"signed Content-Length", ok + "Content-Length: +5", reject("invalid_content_length"),
         reject("invalid_content_length")},
        {"negative Content-Length", ok + "Content-Length: -5", reject("invalid_content_length"),
         reject("invalid_content_length")},
        {"non-digit Content-Length", ok + "Content-Length: 5x", reject("invalid_content_length"),
         reject("invalid_content_length")},
        {"overflowing Content-Length", ok + "Content-Length: 99999999999999999999999",
         reject("invalid_content_length"), reject("invalid_content_length")},
        {"Content-Length and chunked", ok + "Content-Length: 5\r\nTransfer-Encoding: chunked",
         reject("content_length_with_transfer_encoding"), reject("content_length_with_transfer_encoding")},
        {"chunked and Content-Length", ok + "Transfer-Encoding: chunked\r\nContent-Length: 5",
         reject("content_length_with_transfer_encoding"), reject("content_length_with_transfer_encoding")},
        {"bare CR in a value", ok + "Content-Length: 5\r\nX-A: a\rb", reject("invalid_header_value"),
         reject("invalid_header_value")},
        {"NUL in a value", ok + QByteArray("Content-Length: 5\r\nX-A: a\0b", 27), reject("invalid_header_value"),
         reject("invalid_header_value")},
        {"control character in a value", ok + "Content-Length: 5\r\nX-A: a\x01z", reject("invalid_header_value"),
         reject("invalid_header_value")},
        {"DEL in a value", ok + "Content-Length: 5\r\nX-A: a\x7fz", reject("invalid_header_value"),
         reject("invalid_header_value")},
        {"ESC in a value", ok + "Content-Length: 5\r\nX-A: \x1b[31m", reject("invalid_header_value"),
         reject("invalid_header_value")},
        // QNAM drops the whole header block on these and reads until close: it cannot say which line was bad.
        {"space in a name", ok + "Content-Length: 5\r\nBad Name: x", reject("invalid_header_name"),
         reject("invalid_header_block")},
        {"space before the colon", ok + "Content-Length: 5\r\nX-A : x", reject("invalid_header_name"),
         reject("invalid_header_block")},
        {"separator in a name", ok + "Content-Length: 5\r\nBad(Name: x", reject("invalid_header_name"),
         reject("invalid_header_block")},
        {"control character in a name", ok + "Content-Length: 5\r\nBad\x01Name: x", reject("invalid_header_name"),
         reject("invalid_header_block")},
        {"line without a colon", ok + "Content-Length: 5\r\nNoColonHere", reject("invalid_header_name"),
         reject("invalid_header_block")},
        // QNAM replaces a fold by one space before anyone sees the field (RFC 9112 section 5.2 allows that)...
        {"obs-fold", ok + "Content-Length: 5\r\nX-A: a\r\n b", reject("obs_fold"), kPass, "a b"},
        // ... which still cannot turn a Content-Length into anything but an invalid one.
        {"obs-fold in Content-Length", ok + "Content-Length: 5\r\n 45", reject("obs_fold"),
         reject("invalid_content_length")},
        // The native parser refuses the whole status line; QNAM hands the reason phrase over and it is checked.
        {"bare CR in the reason phrase", "HTTP/1.1 200 OK\rX-Injected: 1\r\nContent-Length: 5",
         reject("invalid_status"), reject("invalid_reason_phrase")},
        {"control character in the reason phrase", "HTTP/1.1 200 O\x01K\r\nContent-Length: 5",
         reject("invalid_status"), reject("invalid_reason_phrase")},
        // QNAM does not say which HTTP version the status line named.
        {"HTTP/2.0 status line", "HTTP/2.0 200 OK\r\nContent-Length: 5", reject("unsupported_http_version"),
         kPass},
        {"HTTP/1.2 status line", "HTTP/1.2 200 OK\r\nContent-Length: 5", reject("unsupported_http_version"),
         kPass},
        {"four-digit status", "HTTP/1.1 2000 OK\r\nContent-Length: 5", reject("invalid_status"),
         reject("invalid_status")},
        // The native engine relayed this as a head without a body and then the body: the next response.
        {"status below 100", "HTTP/1.1 099 OK\r\nContent-Length: 5", reject("invalid_status"),
         reject("invalid_status")},
        // Valid look-alikes.
        {"identical Content-Length twice", ok + "Content-Length: 5\r\nContent-Length: 5",
         reject("duplicate_content_length"), kPass},
        {"spaces and tabs around values", ok + "Content-Length: \t 5 \r\nX-A: \t a \t", kPass, kPass, "a"},
        // RFC 9110's OWS around a field value includes HTAB.
        {"tab after the Content-Length", ok + "Content-Length: 5\t", kPass, kPass},
        {"bytes >= 0x80 in a value", ok + "Content-Length: 5\r\nX-A: caf\xc3\xa9 \x80\xff", kPass, kPass,
         "caf\xc3\xa9 \x80\xff"},
        // QNAM joins repeated Set-Cookie fields with a bare LF: each must reach the client as its own line.
        {"two Set-Cookie", ok + "Content-Length: 5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2", kPass, kPass},
    };
}

/// Reads one response from `s`: the head, then Content-Length bytes (or until close without one).
QByteArray readResponse(QTcpSocket &s, int timeoutMs = 20000)
{
    QByteArray got;
    waitUntil(
        [&] {
            if (s.bytesAvailable() == 0)
                s.waitForReadyRead(20);
            got += s.readAll();
            const qsizetype end = got.indexOf("\r\n\r\n");
            if (end >= 0) {
                bool hasLength = false;
                qint64 length = 0;
                for (const QByteArray &line : got.left(end).split('\n')) {
                    if (line.toLower().startsWith("content-length:")) {
                        hasLength = true;
                        length = line.mid(15).trimmed().toLongLong();
                    }
                }
                if (hasLength && got.size() >= end + 4 + length)
                    return true;
            }
            return s.state() == QAbstractSocket::UnconnectedState;
        },
        timeoutMs);
    return got;
}

class HostileOrigin : public ::testing::Test
{
protected:
    void SetUp() override
    {
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";
        dns = std::make_unique<Dnsmasq>();
        ASSERT_TRUE(dns->start()) << dns->describe().toStdString();
        for (const char *name : {"native.test", "qnam.test"})
            ASSERT_TRUE(dns->setHost(name, {QHostAddress("127.0.0.1")}));
        ASSERT_TRUE(hostile.start());
        OriginProcess::Options o;
        o.title = "good origin";
        good = std::make_unique<OriginProcess>(o);
        ASSERT_TRUE(good->start()) << good->describe().toStdString();
        DfproxyProcess::Options p;
        p.dnsServers = {dns->address().toString()};
        p.extraResources = {
            dfpBackend("dfp-backend"),
            dfpBackend("qnam-backend", {{"engine", "qnam"}}),
            route("native-httproute", {"native.test"}, "dfp-backend"),
            route("qnam-httproute", {"qnam.test"}, "qnam-backend"),
        };
        proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(proxy->start()) << proxy->describe().toStdString();
    }

    /// "GET path" for `engine`.test at `port`.
    static QByteArray request(const char *engine, quint16 port, const QByteArray &path)
    {
        return "GET " + path + " HTTP/1.1\r\nHost: " + engine + ".test:" + QByteArray::number(port) + "\r\n\r\n";
    }

    /// One client connection: the case's request, then (if the proxy kept the connection) a request to the good
    /// origin. Checks the first answer against `expect` and that nothing of the smuggled response arrives.
    void runCase(const char *engine, const OriginCase &c, const Expect &expect, const QByteArray &path,
                 const QByteArray &smuggled)
    {
        SCOPED_TRACE(std::string(engine) + ": " + c.name + (smuggled.isEmpty() ? " (exact)" : ""));
        hostile.script(path, c.head + "\r\n\r\nhello" + smuggled, !expect.reason.isEmpty());
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, proxy->proxyPort());
        ASSERT_TRUE(s.waitForConnected(5000));
        s.write(request(engine, hostile.port(), path));
        const QByteArray first = readResponse(s);
        QByteArray all = first;
        if (expect.reason.isEmpty()) {
            EXPECT_EQ(statusOf(first), 200) << first.toStdString();
            EXPECT_EQ(bodyOf(first), "hello");
            if (!c.xa.isEmpty()) {
                EXPECT_EQ(headerOf(first, "x-a"), c.xa);
            }
            const QByteArray head = first.left(first.indexOf("\r\n\r\n") + 2);
            EXPECT_EQ(head.count("\n"), head.count("\r\n")) << "a bare LF or CR in the head: " << head.toStdString();
            EXPECT_EQ(head.count("\r"), head.count("\r\n")) << "a bare LF or CR in the head: " << head.toStdString();
            EXPECT_EQ(head.count("\r\nSet-Cookie: "), c.head.count("\r\nSet-Cookie: ")) << head.toStdString();
        } else {
            EXPECT_EQ(statusOf(first), 502) << first.toStdString();
            EXPECT_EQ(headerOf(first, "x-dfproxy-error"), "upstream_bad_response");
            EXPECT_TRUE(bodyOf(first).contains("bad response: " + expect.reason + "\n")) << first.toStdString();
            EXPECT_EQ(headerOf(first, "x-dfproxy-error-detail"), expect.reason) << first.toStdString();
            EXPECT_EQ(headerOf(first, "connection"), "close");
        }
        if (s.state() == QAbstractSocket::ConnectedState) {
            // The client's next request, to another origin, on the same connection.
            s.write(request(engine, good->port(), "/headers"));
            const QByteArray second = readResponse(s);
            all += second;
            if (expect.reason.isEmpty()) {
                EXPECT_EQ(statusOf(second), 200) << second.toStdString();
                EXPECT_EQ(headerOf(second, "x-origin-title"), "good origin") << second.toStdString();
            } else {
                EXPECT_EQ(s.state(), QAbstractSocket::UnconnectedState) << "kept after a 502: " << second.toStdString();
            }
        }
        EXPECT_FALSE(all.contains("EVIL")) << all.toStdString();
    }

    /// One request on a fresh client connection to the hostile origin; the response.
    QByteArray rawRequest(const char *engine, const QByteArray &path)
    {
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, proxy->proxyPort());
        if (!s.waitForConnected(5000))
            return "connect failed";
        s.write(request(engine, hostile.port(), path));
        return readResponse(s);
    }

    std::unique_ptr<Dnsmasq> dns;
    ScriptedOrigin hostile;
    std::unique_ptr<OriginProcess> good;
    std::unique_ptr<DfproxyProcess> proxy;
};

} // namespace

TEST_F(HostileOrigin, EveryMalformedResponseIs502OnBothEnginesAndValidLookAlikesPass)
{
    const QList<OriginCase> all = cases();
    hostile.script("/plain", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain", false);
    for (const char *engine : {"native", "qnam"}) {
        for (qsizetype i = 0; i < all.size(); ++i) {
            const OriginCase &c = all.at(i);
            // With the smuggled response behind, and without: a response that ends where its framing says must
            // still cost the origin its connection.
            for (const QByteArray &smuggled : {kSmuggled, QByteArray()}) {
                runCase(engine, c, QByteArrayView(engine) == "native" ? c.native : c.qnam,
                        "/" + QByteArray(engine) + "/" + QByteArray::number(i) + (smuggled.isEmpty() ? "/exact" : ""),
                        smuggled);
                // A plain request to the same origin: a dropped upstream connection is never used again.
                const QByteArray plain = rawRequest(engine, "/plain");
                EXPECT_EQ(bodyOf(plain), "plain") << engine << " after " << c.name << ": " << plain.toStdString();
                EXPECT_EQ(hostile.requestsAfterHostile(), 0) << engine << " reused the connection after " << c.name
                                                             << (smuggled.isEmpty() ? " (exact)" : "");
                EXPECT_TRUE(waitUntil([&] { return hostile.hostileConnectionsOpen() == 0; }, 10000))
                    << engine << " kept the connection open after " << c.name << (smuggled.isEmpty() ? " (exact)" : "");
            }
        }
    }
    EXPECT_EQ(hostile.requestsAfterHostile(), 0)
        << "an upstream connection that sent a rejected response was used again";
}

TEST_F(HostileOrigin, TwoContentLengthsNeverDesyncTheClientConnection)
{
    // The finding exactly: two different Content-Lengths, then the client's next request to another origin on the
    // same connection, here even pipelined behind the first before any answer came.
    hostile.script("/two", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 45\r\n\r\nhello" + kSmuggled,
                   true);
    for (const char *engine : {"native", "qnam"}) {
        SCOPED_TRACE(engine);
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, proxy->proxyPort());
        ASSERT_TRUE(s.waitForConnected(5000));
        s.write(request(engine, hostile.port(), "/two") + request(engine, good->port(), "/headers"));
        const QByteArray got = readUntilClosed(s, 20000);
        EXPECT_EQ(statusOf(got), 502) << got.toStdString();
        EXPECT_TRUE(got.contains("bad response: duplicate_content_length")) << got.toStdString();
        EXPECT_FALSE(got.contains("EVIL")) << got.toStdString();
        EXPECT_EQ(s.state(), QAbstractSocket::UnconnectedState);
    }
}
