// SPDX-License-Identifier: Apache-2.0
// net::Stream on real loopback connections: a QTcpSocket peer on one side, the stream under test on the other.
#include "net/stream.h"

#include "platform/sendbatch.h"
#include "platform/splice.h"

#include "support/wait.h"

#include <QTcpServer>
#include <QTcpSocket>

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

using namespace dfproxy;
using dfproxy::test::waitUntil;

namespace {

/// Records what a stream reports; reads everything it is told about unless `reading` is off.
struct Recorder final : net::StreamListener
{
    net::Stream *stream = nullptr;
    bool reading = true;
    QByteArray received;
    int readable = 0;
    int written = 0;
    int closed = 0;
    QAbstractSocket::SocketError error = QAbstractSocket::UnknownSocketError;
    std::function<void()> whenWritten;

    void onStreamReadable() override
    {
        ++readable;
        if (reading)
            drain();
    }
    void onStreamWritten() override
    {
        ++written;
        if (whenWritten)
            whenWritten();
    }
    void onStreamClosed(QAbstractSocket::SocketError e) override
    {
        ++closed;
        error = e;
    }
    void onStreamConnected() override { ++connected; }
    int connected = 0;
    void drain()
    {
        char buf[4096];
        for (qint64 n; (n = stream->read(buf, sizeof buf)) > 0;)
            received.append(buf, n);
    }
};

/// One accepted connection wrapped in a Stream (from its descriptor, as the proxy does) and its client peer.
struct Pair
{
    QTcpServer server;
    QTcpSocket peer;
    std::unique_ptr<net::Stream> stream;
    Recorder rec;

    Pair()
    {
        EXPECT_TRUE(server.listen(QHostAddress::LocalHost));
        peer.connectToHost(QHostAddress::LocalHost, server.serverPort());
        EXPECT_TRUE(waitUntil([&] { return server.hasPendingConnections(); }, 5000));
        QTcpSocket *accepted = server.nextPendingConnection();
        // Take the descriptor away from Qt the way ProxyServer hands accepted descriptors to workers.
        accepted->setParent(nullptr);
        stream.reset(net::Stream::adopt(accepted));
        rec.stream = stream.get();
        stream->setListener(&rec);
        EXPECT_TRUE(waitUntil([&] { return peer.state() == QAbstractSocket::ConnectedState; }, 5000));
    }
};

QByteArray pattern(qsizetype n)
{
    QByteArray b(n, Qt::Uninitialized);
    for (qsizetype i = 0; i < n; ++i)
        b[i] = char('a' + i % 23);
    return b;
}

/// Moves `left` bytes from one stream to another the way the proxy moves a response body: spliceTo() while it
/// can, read() and write() where it cannot (-1). Listens to the source.
struct Relay final : net::StreamListener
{
    /// Relays `bytes` from `a`'s stream to `b`'s, as `a`'s listener.
    Relay(Pair &a, Pair &b, qint64 bytes)
        : from(a.stream.get())
        , to(b.stream.get())
        , left(bytes)
    {
        from->setListener(this);
    }

    net::Stream *from;
    net::Stream *to;
    qint64 left;
    qint64 spliced = 0;
    qint64 copied = 0;
    int closed = 0;
    QAbstractSocket::SocketError error = QAbstractSocket::UnknownSocketError;

    void pump()
    {
        while (left > 0 && from->isOpen()) {
            const qint64 n = from->spliceTo(to, left);
            if (n > 0) {
                spliced += n;
                left -= n;
                continue;
            }
            if (n == 0)
                return; // the source's input or the destination's room will be announced
            char buf[4096];
            const qint64 r = from->read(buf, std::min<qint64>(left, sizeof buf));
            if (r <= 0)
                return;
            to->write(buf, r);
            copied += r;
            left -= r;
        }
    }
    void onStreamReadable() override { pump(); }
    void onStreamWritten() override {}
    void onStreamClosed(QAbstractSocket::SocketError e) override
    {
        ++closed;
        error = e;
    }
    void onStreamConnected() override { ++connected; }
    int connected = 0;
};

/// Reads `peer` until `size` bytes came (or the bound passes); returns them.
QByteArray readExactly(QTcpSocket &peer, qsizetype size)
{
    QByteArray got;
    waitUntil(
        [&] {
            got += peer.readAll();
            return got.size() >= size;
        },
        20000);
    return got;
}

/// Every test runs twice: with the thread's poller (epoll; Linux's path) and with a socket-notifier pair per
/// stream (the path of Windows and macOS, which have no poller).
class StreamPaths : public ::testing::TestWithParam<bool>
{
protected:
    void SetUp() override { net::Stream::setPollerAllowedOnThisThread(GetParam()); }
    void TearDown() override { net::Stream::setPollerAllowedOnThisThread(true); }
};

} // namespace

INSTANTIATE_TEST_SUITE_P(Stream, StreamPaths, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool> &info) {
                             return info.param ? std::string("Poller") : std::string("Notifiers");
                         });

TEST_P(StreamPaths, ReadsWhatThePeerSendsAndKnowsThePeerAddress)
{
    Pair p;
    EXPECT_EQ(p.stream->peerAddress(), QHostAddress(QHostAddress::LocalHost));
    EXPECT_EQ(p.stream->peerPort(), p.peer.localPort());
    p.peer.write("GET / HTTP/1.1\r\n\r\n");
    ASSERT_TRUE(waitUntil([&] { return p.rec.received.size() == 18; }, 5000));
    EXPECT_EQ(p.rec.received, "GET / HTTP/1.1\r\n\r\n");
    EXPECT_FALSE(p.stream->hasPendingInput());
}

TEST_P(StreamPaths, ConnectToReportsTheConnectThenCarriesWhatWasWrittenMeanwhileBothWays)
{
    QTcpServer server;
    ASSERT_TRUE(server.listen(QHostAddress::LocalHost));
    QString error;
    std::unique_ptr<net::Stream> stream(net::Stream::connectTo(QHostAddress::LocalHost, server.serverPort(), &error));
    ASSERT_TRUE(stream) << error.toStdString();
    Recorder rec;
    rec.stream = stream.get();
    stream->setListener(&rec);
    EXPECT_EQ(rec.connected, 0) << "reported from inside connectTo()";
    stream->write("written while connecting");
    char buf[16];
    EXPECT_EQ(stream->read(buf, sizeof buf), 0);
    ASSERT_TRUE(waitUntil([&] { return rec.connected == 1; }, 5000));
    EXPECT_TRUE(stream->isOpen());
    EXPECT_EQ(stream->peerAddress(), QHostAddress(QHostAddress::LocalHost));
    EXPECT_EQ(stream->peerPort(), server.serverPort());
    ASSERT_TRUE(waitUntil([&] { return server.hasPendingConnections(); }, 5000));
    std::unique_ptr<QTcpSocket> peer(server.nextPendingConnection());
    QByteArray got;
    ASSERT_TRUE(waitUntil([&] {
        got += peer->readAll();
        return got.size() >= 24;
    }, 5000));
    EXPECT_EQ(got, "written while connecting");
    peer->write("answer");
    ASSERT_TRUE(waitUntil([&] { return rec.received == "answer"; }, 5000));
    EXPECT_EQ(rec.closed, 0);
}

TEST_P(StreamPaths, ConnectToAPortNobodyListensOnIsReportedAsAClosedStreamWithTheReason)
{
    quint16 port = 0;
    {
        QTcpServer probe; // a port that was free a moment ago, and nothing listens on now
        ASSERT_TRUE(probe.listen(QHostAddress::LocalHost));
        port = probe.serverPort();
    }
    QString error;
    std::unique_ptr<net::Stream> stream(net::Stream::connectTo(QHostAddress::LocalHost, port, &error));
    ASSERT_TRUE(stream) << error.toStdString();
    Recorder rec;
    rec.stream = stream.get();
    stream->setListener(&rec);
    ASSERT_TRUE(waitUntil([&] { return rec.closed == 1; }, 5000));
    EXPECT_EQ(rec.error, QAbstractSocket::ConnectionRefusedError);
    EXPECT_EQ(stream->errorString(), QStringLiteral("Connection refused"));
    EXPECT_EQ(rec.connected, 0);
    EXPECT_FALSE(stream->isOpen());
}

TEST_P(StreamPaths, ConnectToANullAddressFailsAtOnceWithTheReason)
{
    QString error;
    EXPECT_EQ(net::Stream::connectTo(QHostAddress(), 80, &error), nullptr);
    EXPECT_FALSE(error.isEmpty());
}

TEST_P(StreamPaths, WritesQueuedInABatchArriveInOrderWhenItCloses)
{
    Pair p;
    {
        net::WriteBatch batch;
        p.stream->write("HTTP/1.1 200 OK\r\n", 17);
        p.stream->write(QByteArray("Content-Length: 2\r\n\r\nok"));
        EXPECT_EQ(p.stream->bytesToWrite(), 17 + 23); // only queued so far
    }
    EXPECT_EQ(p.stream->bytesToWrite(), 0);
    ASSERT_TRUE(waitUntil([&] { return p.peer.bytesAvailable() >= 40; }, 5000));
    EXPECT_EQ(p.peer.readAll(), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

// A producer that frames what several callbacks gave it (the HTTP/2 connection) is run once, when the outermost
// batch closes, and what it writes then leaves with the batch's other bytes, after them.
TEST_P(StreamPaths, DeferredWorkRunsWhenTheOutermostBatchClosesAndItsWritesJoinTheBatch)
{
    struct Producer : net::WriteBatch::Deferred
    {
        net::Stream *stream = nullptr;
        int runs = 0;
        qint64 queuedWhenRun = -1;
        void runDeferred() override
        {
            ++runs;
            queuedWhenRun = stream->bytesToWrite();
            stream->write("world", 5);
        }
    } producer;
    Pair p;
    producer.stream = p.stream.get();
    EXPECT_FALSE(net::WriteBatch::defer(&producer)); // no batch: the caller works now
    {
        net::WriteBatch outer;
        p.stream->write("hello ", 6);
        {
            net::WriteBatch inner;
            EXPECT_TRUE(net::WriteBatch::defer(&producer));
        }
        EXPECT_EQ(producer.runs, 0); // an inner batch closing runs nothing
    }
    EXPECT_EQ(producer.runs, 1);
    EXPECT_EQ(producer.queuedWhenRun, 6); // still inside the batch: its bytes were queued, not sent
    EXPECT_EQ(p.stream->bytesToWrite(), 0);
    ASSERT_TRUE(waitUntil([&] { return p.peer.bytesAvailable() >= 11; }, 5000));
    EXPECT_EQ(p.peer.readAll(), "hello world");

    {
        net::WriteBatch batch;
        EXPECT_TRUE(net::WriteBatch::defer(&producer));
        net::WriteBatch::cancel(&producer); // its owner is going away
    }
    EXPECT_EQ(producer.runs, 1);
}

TEST_P(StreamPaths, ABatchOfWritesToManyStreamsArrivesWithAndWithoutABatchSender)
{
    // Where the platform has a batch sender (io_uring), the streams' queues leave in one call when the batch closes;
    // the rest of a stream's closing work (a close after the flush, "written" for a writer at its limit) must still
    // happen. Without one, each stream sends on its own. The bytes are the same either way.
    for (const bool batchSender : {true, false}) {
        SCOPED_TRACE(batchSender ? "batch sender" : "one send per stream");
        platform::SendBatch::setAllowedOnThisThread(batchSender);
        std::vector<std::unique_ptr<Pair>> pairs;
        for (int i = 0; i < 4; ++i)
            pairs.push_back(std::make_unique<Pair>());
        {
            net::WriteBatch batch;
            for (int i = 0; i < 4; ++i)
                pairs[size_t(i)]->stream->write(QByteArray("response ") + QByteArray::number(i) + ";");
            pairs[1]->stream->write(QByteArray("and more;"));
            pairs[3]->stream->closeAfterFlush();
            EXPECT_GT(pairs[0]->stream->bytesToWrite(), 0); // only queued so far
        }
        for (int i = 0; i < 3; ++i)
            EXPECT_EQ(pairs[size_t(i)]->stream->bytesToWrite(), 0) << i;
        for (int i = 0; i < 4; ++i) {
            const QByteArray want =
                QByteArray("response ") + QByteArray::number(i) + ";" + (i == 1 ? "and more;" : "");
            QByteArray got;
            ASSERT_TRUE(waitUntil(
                [&] {
                    got += pairs[size_t(i)]->peer.readAll();
                    return got.size() >= want.size();
                },
                5000))
                << i;
            EXPECT_EQ(got, want) << i;
        }
        EXPECT_TRUE(waitUntil(
            [&] { return pairs[3]->peer.state() == QAbstractSocket::UnconnectedState || !pairs[3]->stream->isOpen(); },
            5000));
        EXPECT_FALSE(pairs[3]->stream->isOpen()) << "closeAfterFlush() closes once the batch sent its bytes";
        for (int i = 0; i < 3; ++i)
            EXPECT_TRUE(pairs[size_t(i)]->stream->isOpen()) << i;
    }
    platform::SendBatch::setAllowedOnThisThread(true);
}

TEST_P(StreamPaths, BigWriteIsQueuedAndWrittenIsReportedAsThePeerReads)
{
    Pair p;
    const QByteArray big = pattern(16 * 1024 * 1024); // far more than the socket buffers hold
    {
        net::WriteBatch batch;
        p.stream->write(big);
    }
    EXPECT_GT(p.stream->bytesToWrite(), 0);
    QByteArray got;
    ASSERT_TRUE(waitUntil(
        [&] {
            got += p.peer.readAll();
            return got.size() == big.size();
        },
        20000));
    EXPECT_EQ(got, big);
    EXPECT_EQ(p.stream->bytesToWrite(), 0);
    EXPECT_GT(p.rec.written, 0);
    EXPECT_EQ(p.rec.closed, 0);
}

TEST_P(StreamPaths, EndOfStreamBehindUnreadInputIsReportedOnlyAfterThatInputIsRead)
{
    Pair p;
    p.rec.reading = false; // a listener busy with something else
    const QByteArray data = pattern(1000);
    p.peer.write(data);
    p.peer.disconnectFromHost();
    ASSERT_TRUE(waitUntil([&] { return p.rec.readable > 0 && p.peer.state() == QAbstractSocket::UnconnectedState; },
                          5000));
    dfproxy::test::spinFor(100);
    EXPECT_EQ(p.rec.closed, 0) << "the close must not overtake the bytes sent before it";
    EXPECT_TRUE(p.stream->hasPendingInput());
    p.rec.drain();
    EXPECT_EQ(p.rec.received, data);
    ASSERT_TRUE(waitUntil([&] { return p.rec.closed == 1; }, 5000));
    EXPECT_EQ(p.rec.error, QAbstractSocket::RemoteHostClosedError);
    EXPECT_FALSE(p.stream->isOpen());
}

TEST_P(StreamPaths, PeerCloseIsReportedOnce)
{
    Pair p;
    p.peer.write("x");
    p.peer.disconnectFromHost();
    ASSERT_TRUE(waitUntil([&] { return p.rec.closed > 0; }, 5000));
    dfproxy::test::spinFor(50);
    EXPECT_EQ(p.rec.closed, 1);
    EXPECT_EQ(p.rec.received, "x");
    EXPECT_EQ(p.rec.error, QAbstractSocket::RemoteHostClosedError);
}

TEST_P(StreamPaths, CloseAfterFlushWithNothingQueuedClosesAtOnceWithoutACallback)
{
    Pair p;
    p.stream->closeAfterFlush();
    EXPECT_FALSE(p.stream->isOpen());
    ASSERT_TRUE(waitUntil([&] { return p.peer.state() == QAbstractSocket::UnconnectedState; }, 5000));
    dfproxy::test::spinFor(50);
    EXPECT_EQ(p.rec.closed, 0);
}

TEST_P(StreamPaths, CloseAfterFlushSendsWhatIsQueuedThenReportsTheClose)
{
    Pair p;
    const QByteArray big = pattern(8 * 1024 * 1024);
    {
        net::WriteBatch batch;
        p.stream->write(big);
        p.stream->closeAfterFlush();
    }
    EXPECT_TRUE(p.stream->isOpen());
    const QByteArray got = dfproxy::test::readUntilClosed(p.peer, 20000);
    EXPECT_EQ(got, big);
    ASSERT_TRUE(waitUntil([&] { return p.rec.closed == 1; }, 5000));
    EXPECT_FALSE(p.stream->isOpen());
}

TEST_P(StreamPaths, AbortClosesAtOnceAndReportsNothing)
{
    Pair p;
    p.stream->write("queued?", 7);
    p.stream->abort();
    EXPECT_FALSE(p.stream->isOpen());
    ASSERT_TRUE(waitUntil([&] { return p.peer.state() == QAbstractSocket::UnconnectedState; }, 5000));
    EXPECT_EQ(p.rec.closed, 0);
    EXPECT_EQ(p.stream->read(nullptr, 0), 0);
}

TEST_P(StreamPaths, WritingToAPeerThatResetIsReportedAsAClose)
{
    Pair p;
    p.peer.setSocketOption(QAbstractSocket::LowDelayOption, 1);
    p.peer.abort(); // close with nothing read: the next segments we send get a reset
    const QByteArray chunk = pattern(64 * 1024);
    ASSERT_TRUE(waitUntil(
        [&] {
            if (p.stream->isOpen())
                p.stream->write(chunk);
            return p.rec.closed > 0;
        },
        5000));
    EXPECT_FALSE(p.stream->isOpen());
}

TEST_P(StreamPaths, ReleaseHandsTheConnectionOverWithItsQueuedBytes)
{
    Pair p;
    const QByteArray big = pattern(4 * 1024 * 1024);
    {
        net::WriteBatch batch;
        p.stream->write(big);
    }
    std::unique_ptr<QTcpSocket> socket(p.stream->release());
    ASSERT_TRUE(socket);
    EXPECT_FALSE(p.stream->isOpen());
    socket->write("+tail");
    QByteArray got;
    ASSERT_TRUE(waitUntil(
        [&] {
            got += p.peer.readAll();
            return got.size() == big.size() + 5;
        },
        20000));
    EXPECT_EQ(got, big + "+tail");
    p.peer.write("back");
    ASSERT_TRUE(waitUntil([&] { return socket->bytesAvailable() >= 4; }, 5000));
    EXPECT_EQ(socket->readAll(), "back");
    EXPECT_EQ(p.rec.closed, 0);
}

TEST_P(StreamPaths, FromAnInvalidDescriptorIsNull)
{
    EXPECT_EQ(net::Stream::fromDescriptor(-1), nullptr);
}

// The streams of a thread share one poller (epoll on Linux) and are handed their events in batches: a stream that
// an earlier callback of the same batch deleted must be skipped, not called.
TEST_P(StreamPaths, AStreamDeletedByAnotherStreamsCallbackInTheSameBatchIsNotCalled)
{
    struct Killer final : net::StreamListener
    {
        std::unique_ptr<net::Stream> *victim = nullptr;
        net::Stream *self = nullptr;
        int calls = 0;
        void onStreamReadable() override
        {
            ++calls;
            char buf[64];
            while (self->read(buf, sizeof buf) > 0) {
            }
            if (victim)
                victim->reset(); // the other stream, whose own event may be next in this batch
        }
        void onStreamWritten() override {}
        void onStreamClosed(QAbstractSocket::SocketError) override {}
    };
    for (int round = 0; round < 20; ++round) {
        Pair a, b;
        Killer ka, kb;
        ka.self = a.stream.get();
        kb.self = b.stream.get();
        ka.victim = &b.stream;
        kb.victim = &a.stream;
        a.stream->setListener(&ka);
        b.stream->setListener(&kb);
        // Both peers write before the loop runs: both descriptors are ready when the poller is next read.
        a.peer.write("x");
        b.peer.write("y");
        a.peer.waitForBytesWritten(1000);
        b.peer.waitForBytesWritten(1000);
        ASSERT_TRUE(waitUntil([&] { return ka.calls + kb.calls >= 1; }, 5000));
        waitUntil([] { return false; }, 20); // let any further (stale) event come through
        EXPECT_EQ(ka.calls + kb.calls, 1) << "round " << round;
        EXPECT_TRUE(!a.stream || !b.stream);
    }
}

// A thread's poller goes with its last stream; the next stream gets a fresh one and works as before.
TEST_P(StreamPaths, StreamsKeepWorkingAfterEveryStreamOfTheThreadWasGone)
{
    for (int round = 0; round < 3; ++round) {
        Pair p;
        p.peer.write("ping");
        ASSERT_TRUE(waitUntil([&] { return p.rec.received == "ping"; }, 5000)) << "round " << round;
        p.stream->write("pong", 4);
        ASSERT_TRUE(waitUntil([&] { return p.peer.bytesAvailable() >= 4; }, 5000));
        EXPECT_EQ(p.peer.readAll(), "pong");
    }
}

// Splicing (Linux): `a` plays the upstream connection (its peer the origin), `b` the client connection.

TEST_P(StreamPaths, SpliceMovesTheAskedBytesSocketToSocketAndLeavesWhatFollows)
{
    if (!platform::SplicePipe::supported())
        GTEST_SKIP() << "no splice() on this platform";
    Pair a, b;
    ASSERT_TRUE(a.stream->canSpliceTo(b.stream.get()));
    const QByteArray body = pattern(300 * 1024);
    Relay relay(a, b, body.size());
    a.peer.write(body + "NEXT");
    EXPECT_EQ(readExactly(b.peer, body.size()), body);
    EXPECT_EQ(relay.left, 0);
    EXPECT_EQ(relay.spliced, body.size());
    EXPECT_EQ(relay.copied, 0) << "nothing went through user space";
    EXPECT_EQ(b.stream->bytesToWrite(), 0);
    // The bytes behind the body were not taken: the next reader gets them.
    a.stream->setListener(&a.rec);
    ASSERT_TRUE(waitUntil(
        [&] {
            a.rec.drain();
            return a.rec.received == "NEXT";
        },
        5000));
    EXPECT_EQ(relay.closed, 0);
    EXPECT_EQ(b.rec.closed, 0);
}

TEST_P(StreamPaths, SplicedBytesWaitingForASlowClientGoOutBeforeLaterWrites)
{
    if (!platform::SplicePipe::supported())
        GTEST_SKIP() << "no splice() on this platform";
    Pair a, b;
    b.peer.setReadBufferSize(4096); // the client reads only as asked: the kernel's buffers fill up
    const QByteArray body = pattern(8 * 1024 * 1024);
    Relay relay(a, b, body.size());
    b.rec.whenWritten = [&] { relay.pump(); };
    a.peer.write(body);
    // Stuck on the client: spliced bytes wait in the destination and count as its output.
    ASSERT_TRUE(waitUntil([&] { return relay.spliced > 0 && b.stream->bytesToWrite() > 0; }, 10000));
    const qint64 before = relay.spliced;
    b.stream->write("+tail", 5);
    EXPECT_EQ(readExactly(b.peer, body.size() + 5), body.left(before) + "+tail" + body.mid(before));
    EXPECT_EQ(relay.left, 0);
    EXPECT_EQ(relay.copied, 0);
    EXPECT_TRUE(waitUntil([&] { return b.stream->bytesToWrite() == 0; }, 5000));
    EXPECT_EQ(b.rec.closed, 0);
}

TEST_P(StreamPaths, ReleaseKeepsSplicedBytesThatWaitForTheClient)
{
    if (!platform::SplicePipe::supported())
        GTEST_SKIP() << "no splice() on this platform";
    Pair a, b;
    b.peer.setReadBufferSize(4096);
    const QByteArray body = pattern(8 * 1024 * 1024);
    Relay relay(a, b, body.size());
    a.peer.write(body);
    ASSERT_TRUE(waitUntil([&] { return relay.spliced > 0 && b.stream->bytesToWrite() > 0; }, 10000));
    relay.left = 0; // stop relaying
    const qint64 spliced = relay.spliced;
    std::unique_ptr<QTcpSocket> socket(b.stream->release());
    ASSERT_TRUE(socket);
    socket->write("+tail");
    EXPECT_EQ(readExactly(b.peer, spliced + 5), body.left(spliced) + "+tail");
}

TEST_P(StreamPaths, EndOfStreamWhileSplicingIsReportedLikeARead)
{
    if (!platform::SplicePipe::supported())
        GTEST_SKIP() << "no splice() on this platform";
    Pair a, b;
    Relay relay(a, b, 100000); // more than will come
    const QByteArray sent = pattern(1000);
    a.peer.write(sent);
    a.peer.disconnectFromHost();
    ASSERT_TRUE(waitUntil([&] { return relay.closed == 1; }, 5000));
    EXPECT_EQ(relay.error, QAbstractSocket::RemoteHostClosedError);
    EXPECT_EQ(relay.spliced, 1000);
    EXPECT_FALSE(a.stream->isOpen());
    EXPECT_EQ(readExactly(b.peer, 1000), sent);
    EXPECT_EQ(b.rec.closed, 0);
}

TEST_P(StreamPaths, SpliceDeclinesWhileBytesAlreadyReadWait)
{
    if (!platform::SplicePipe::supported())
        GTEST_SKIP() << "no splice() on this platform";
    Pair a, b;
    a.rec.reading = false; // busy: the stream reads ahead into its own buffer
    a.peer.write("abc");
    ASSERT_TRUE(waitUntil([&] { return a.rec.readable > 0; }, 5000));
    EXPECT_EQ(a.stream->spliceTo(b.stream.get(), 3), -1) << "those bytes must go first, by read()";
    EXPECT_EQ(a.stream->spliceTo(a.stream.get(), 3), -1);
    a.rec.drain();
    EXPECT_EQ(a.rec.received, "abc");
    EXPECT_EQ(b.stream->bytesToWrite(), 0);
}
