// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QHash>
#include <QSet>
#include <QHostAddress>
#include <QList>
#include <QMutex>
#include <QString>

#include <memory>

class QThread;

namespace dfproxy::test {

/// A scriptable UDP DNS server for tests. It answers A and AAAA queries from a table and can be told to misbehave
/// per name. It runs on its own thread, so it answers even while the test thread blocks (e.g. waiting for a
/// process); every method is thread-safe. Names are case-insensitive, without the trailing dot.
///
///   TestDnsServer dns;
///   ASSERT_TRUE(dns.start(QHostAddress("127.0.53.1")));      // port 53: needs root
///   dns.setAddresses("httpbin.test", {QHostAddress("127.0.0.1")}, 60);
///   dns.setMode("broken.test", TestDnsServer::Mode::ServFail);
class TestDnsServer
{
public:
    enum class Mode {
        Answer,    ///< answer from the table (no records of the asked type: NOERROR with no answers)
        Silent,    ///< never answer
        ServFail,  ///< RCODE 2
        Refused,   ///< RCODE 5
        NxDomain,  ///< RCODE 3 (also the answer for names not in the table)
        Garbage,   ///< a reply with the right id and question but an unparseable answer record
        Truncated, ///< TC bit set, no answers; over TCP the connection is closed (the server does not serve it)
        TruncatedOverUdp, ///< TC bit set over UDP, the full answer over TCP
        ForgedFirst, ///< first a reply with another id (address 127.66.66.66), then the real answer
        DropFirst,   ///< the first query for the name is not answered (a lost datagram), later ones are
    };
    static constexpr quint16 TypeA = 1;
    static constexpr quint16 TypeAAAA = 28;

    TestDnsServer();
    ~TestDnsServer();
    TestDnsServer(const TestDnsServer &) = delete;
    TestDnsServer &operator=(const TestDnsServer &) = delete;

    /// Binds `address`:`port` (UDP). False with `error` set when the port cannot be bound.
    bool start(const QHostAddress &address, quint16 port = 53, QString *error = nullptr);
    void stop();
    QHostAddress address() const;
    quint16 port() const;

    /// Replaces the records of `name` (IPv4 become A, IPv6 become AAAA), all with `ttl` seconds.
    void setAddresses(const QString &name, const QList<QHostAddress> &addresses, quint32 ttl = 300);
    void setTtl(const QString &name, quint32 ttl);
    /// Answers `name` with a CNAME to `target` (TTL `ttl`) followed by the target's records of the asked type.
    void setCname(const QString &name, const QString &target, quint32 ttl = 300);
    void setMode(const QString &name, Mode mode);
    /// Delays every reply for `name` by `ms` milliseconds.
    void setDelay(const QString &name, int ms);
    void removeName(const QString &name);
    void clear();

    /// Queries received for `name` with record type `type` (TypeA, TypeAAAA, ...).
    int queryCount(const QString &name, quint16 type) const;
    /// Queries received for `name`, any type.
    int queryCount(const QString &name) const;
    int totalQueries() const;
    /// Queries received over TCP (included in the counts above).
    int tcpQueries() const;
    /// The distinct client source ports UDP queries came from (a resolver's sockets).
    QSet<quint16> udpSourcePorts() const;
    void resetCounts();

    struct Record
    {
        QList<QHostAddress> addresses;
        quint32 ttl = 300;
        Mode mode = Mode::Answer;
        int delayMs = 0;
        QString cname; ///< set: answered as an alias of this name
    };
    struct State
    {
        mutable QMutex mutex;
        QHash<QString, Record> names;
        QHash<QString, int> counts; // "name/type"
        int total = 0;
        int tcpQueries = 0;
        QSet<quint16> udpSourcePorts;
    };

private:
    class Worker;
    std::shared_ptr<State> m_state;
    QThread *m_thread = nullptr;
    Worker *m_worker = nullptr;
    QHostAddress m_address;
    quint16 m_port = 0;
};

} // namespace dfproxy::test
