// SPDX-License-Identifier: Apache-2.0
// platform::SendBatch on real loopback TCP connections: every entry gets the result a send() of its own would give.
#include "platform/sendbatch.h"

#include "platform/socket.h"

#include <gtest/gtest.h>

#include <QtGlobal>

#ifdef Q_OS_LINUX

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

using dfproxy::platform::SendBatch;

namespace {

/// A connected loopback pair: `ours` (non-blocking, as the proxy's) and `peer` (blocking reads, 5 s at most).
struct Connection
{
    int ours = -1;
    int peer = -1;
    ~Connection()
    {
        if (ours >= 0)
            ::close(ours);
        if (peer >= 0)
            ::close(peer);
    }

    std::string readExactly(size_t n) const
    {
        std::string got;
        char buf[65536];
        while (got.size() < n) {
            const ssize_t r = ::recv(peer, buf, std::min(sizeof buf, n - got.size()), 0);
            if (r <= 0)
                break;
            got.append(buf, size_t(r));
        }
        return got;
    }
};

class Listener
{
public:
    Listener()
    {
        m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(m_fd, reinterpret_cast<sockaddr *>(&a), len) != 0 || ::listen(m_fd, 512) != 0 ||
            ::getsockname(m_fd, reinterpret_cast<sockaddr *>(&m_addr), &len) != 0)
            ADD_FAILURE() << "cannot listen on loopback";
    }
    ~Listener() { ::close(m_fd); }

    void connect(Connection *c) const
    {
        c->peer = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_EQ(::connect(c->peer, reinterpret_cast<const sockaddr *>(&m_addr), sizeof m_addr), 0);
        timeval tv{5, 0};
        ::setsockopt(c->peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        c->ours = ::accept4(m_fd, nullptr, nullptr, SOCK_CLOEXEC);
        ASSERT_GE(c->ours, 0);
        ASSERT_TRUE(dfproxy::platform::prepareSocket(c->ours));
    }

private:
    int m_fd = -1;
    sockaddr_in m_addr{};
};

std::string payload(int i, size_t n)
{
    std::string s(n, '\0');
    for (size_t k = 0; k < n; ++k)
        s[k] = char('A' + (i * 7 + int(k)) % 26);
    return s;
}

/// This thread's sender and a listener to connect to; skips where the kernel refuses io_uring.
class SendBatchTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        sender = SendBatch::forThisThread();
        if (!sender)
            GTEST_SKIP() << "the kernel refuses io_uring here: the streams send one call at a time";
    }
    SendBatch *sender = nullptr;
    Listener listener;
};

} // namespace

TEST_F(SendBatchTest, EveryEntryIsSentAndReportedLikeASendOfItsOwn)
{
    std::vector<Connection> conns(5);
    std::vector<std::string> data;
    std::vector<SendBatch::Send> sends;
    for (int i = 0; i < 5; ++i) {
        listener.connect(&conns[size_t(i)]);
        data.push_back(payload(i, size_t(100 + i * 1000)));
    }
    for (int i = 0; i < 5; ++i)
        sends.push_back({conns[size_t(i)].ours, data[size_t(i)].data(), qint64(data[size_t(i)].size()), -99});
    sender->send(sends.data(), int(sends.size()));
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(sends[size_t(i)].result, qint64(data[size_t(i)].size())) << i;
        EXPECT_EQ(conns[size_t(i)].readExactly(data[size_t(i)].size()), data[size_t(i)]) << i;
    }
}

TEST_F(SendBatchTest, MoreEntriesThanTheRingHoldsAreAllSentInOrder)
{
    constexpr int kCount = 150; // the ring has 64 entries
    std::vector<Connection> conns(kCount);
    for (auto &c : conns)
        listener.connect(&c);
    // Two entries for the same connection in one call go out in the order given.
    std::vector<std::string> first, second;
    std::vector<SendBatch::Send> sends;
    for (int i = 0; i < kCount; ++i) {
        first.push_back("first-" + std::to_string(i) + ";");
        second.push_back("second-" + std::to_string(i) + ";");
    }
    for (int i = 0; i < kCount; ++i)
        sends.push_back({conns[size_t(i)].ours, first[size_t(i)].data(), qint64(first[size_t(i)].size()), 0});
    for (int i = 0; i < kCount; ++i)
        sends.push_back({conns[size_t(i)].ours, second[size_t(i)].data(), qint64(second[size_t(i)].size()), 0});
    sender->send(sends.data(), int(sends.size()));
    for (int i = 0; i < kCount; ++i) {
        EXPECT_EQ(sends[size_t(i)].result, qint64(first[size_t(i)].size()));
        EXPECT_EQ(conns[size_t(i)].readExactly(first[size_t(i)].size() + second[size_t(i)].size()),
                  first[size_t(i)] + second[size_t(i)]);
    }
}

TEST_F(SendBatchTest, AFullSocketAnswersWouldBlockWithoutHoldingUpTheOthers)
{
    Connection full, open;
    listener.connect(&full);
    listener.connect(&open);
    const std::string chunk(64 * 1024, 'x');
    qint64 queued = 0;
    for (int i = 0; i < 10000; ++i) { // the peer reads nothing: the kernel's buffers fill up
        const qint64 n = dfproxy::platform::writeSocket(full.ours, chunk.data(), qint64(chunk.size()));
        if (n == dfproxy::platform::WouldBlock)
            break;
        ASSERT_GT(n, 0);
        queued += n;
    }
    const std::string hello = "hello";
    SendBatch::Send sends[] = {{full.ours, chunk.data(), qint64(chunk.size()), 0},
                               {open.ours, hello.data(), qint64(hello.size()), 0}};
    sender->send(sends, 2);
    EXPECT_EQ(sends[0].result, dfproxy::platform::WouldBlock);
    EXPECT_EQ(sends[1].result, 5);
    EXPECT_EQ(open.readExactly(5), "hello");
    // Nothing of the refused entry went out, nor stays behind in the ring: the next call sends only its own.
    EXPECT_EQ(full.readExactly(size_t(queued)).size(), size_t(queued));
    const std::string after = "after";
    SendBatch::Send again[] = {{full.ours, after.data(), 5, 0}, {open.ours, after.data(), 5, 0}};
    sender->send(again, 2);
    EXPECT_EQ(again[0].result, 5);
    EXPECT_EQ(again[1].result, 5);
    EXPECT_EQ(full.readExactly(5), "after");
    EXPECT_EQ(open.readExactly(5), "after");
}

TEST_F(SendBatchTest, AClosedConnectionIsAFailureAndRaisesNoSignal)
{
    Connection shut, open;
    listener.connect(&shut);
    listener.connect(&open);
    ASSERT_EQ(::shutdown(shut.ours, SHUT_WR), 0); // a send now fails with EPIPE (a SIGPIPE without MSG_NOSIGNAL)
    const std::string data = "data";
    SendBatch::Send sends[] = {{shut.ours, data.data(), 4, 0}, {-1, data.data(), 4, 0}, {open.ours, data.data(), 4, 0}};
    sender->send(sends, 3);
    EXPECT_EQ(sends[0].result, dfproxy::platform::SocketFailed);
    EXPECT_EQ(sends[1].result, dfproxy::platform::SocketFailed); // not a descriptor
    EXPECT_EQ(sends[2].result, 4);                               // the failures before it did not stop it
    EXPECT_EQ(open.readExactly(4), "data");
}

TEST(SendBatch, EachThreadHasItsOwnAndCanDoWithout)
{
    SendBatch *mine = SendBatch::forThisThread();
    if (!mine)
        GTEST_SKIP() << "no io_uring here";
    EXPECT_EQ(SendBatch::forThisThread(), mine);
    SendBatch *other = nullptr;
    std::thread([&] { other = SendBatch::forThisThread(); }).join();
    EXPECT_NE(other, nullptr);
    EXPECT_NE(other, mine);
    SendBatch::setAllowedOnThisThread(false);
    EXPECT_EQ(SendBatch::forThisThread(), nullptr);
    SendBatch::setAllowedOnThisThread(true);
    EXPECT_EQ(SendBatch::forThisThread(), mine);
}

#else

TEST(SendBatch, NoneWhereThePlatformHasNone)
{
    EXPECT_EQ(dfproxy::platform::SendBatch::forThisThread(), nullptr);
}

#endif
