// SPDX-License-Identifier: Apache-2.0
#include "dns/udpresolver.h"

#include "base/deadlinelist.h"
#include "base/logcategories.h"

#include "dns/dnslookupresolver.h"
#include "dns/dnsmessage.h"

#include "platform/socket.h"

#include <QRandomGenerator>
#include <QSocketNotifier>

#include <QHash>

#include <algorithm>
#include <memory>
#include <vector>

namespace dfproxy::dns {

/// The sockets and queries behind UdpResolver (internal; named only so the resolver can hold the pool).
namespace udp {

/// A server's share shorter than this is one datagram; a longer one sends the query again halfway through.
constexpr int kMinShareForResend = 100;
/// Receive buffer: a reply to a query without EDNS is at most 512 bytes (RFC 1035 4.2.1); the rest is room for a
/// server that sends more anyway (read as it is; a longer datagram is cut here and then fails to parse).
constexpr int kReceiveBuffer = 4096;
/// Queries sent over one socket before the next query opens a new one (a new random source port): c-ares's
/// udp_max_queries. Opening a socket per query costs socket(), connect(), a notifier and close() on every cold name;
/// one socket per server forever (HAProxy) leaves a spoofer only the 16-bit id to guess.
constexpr int kQueriesPerSocket = 100;

class UdpQuery;

/// One connected UDP socket (platform::openConnectedUdpSocket) to one server, shared by the queries sent to that
/// server: replies are handed to the query whose id they carry (the query then checks the question). Kept alive by
/// the pool while it takes new queries and by each query registered on it, so a late reply still finds its query.
class Channel : public std::enable_shared_from_this<Channel>
{
public:
    Channel(qintptr fd, qsizetype serverIndex, std::shared_ptr<quint64> receives)
        : m_fd(fd), m_index(serverIndex), m_receives(std::move(receives)), m_notifier(fd, QSocketNotifier::Read)
    {
        QObject::connect(&m_notifier, &QSocketNotifier::activated, &m_guard, [this] { onReadable(); });
    }
    ~Channel()
    {
        m_notifier.setEnabled(false);
        platform::closeSocket(m_fd);
    }
    Channel(const Channel &) = delete;
    Channel &operator=(const Channel &) = delete;

    qintptr fd() const { return m_fd; }
    qsizetype serverIndex() const { return m_index; }
    /// Takes no more queries: it carried its share, or the server's port was unreachable.
    bool retired() const { return m_failed || m_started >= kQueriesPerSocket; }

    /// Registers `q` under a random id no other query on this socket uses; returns the id.
    quint16 enroll(UdpQuery *q)
    {
        quint16 id;
        do {
            id = quint16(QRandomGenerator::system()->generate());
        } while (m_pending.contains(id));
        m_pending.insert(id, q);
        ++m_started;
        return id;
    }
    void leave(quint16 id) { m_pending.remove(id); }

    /// The server's port is unreachable: the kernel reports the ICMP error once, to whichever recv() or send() on
    /// the socket comes next, so every query waiting here moves on, not only the one that saw it.
    void fail();

private:
    void onReadable();

    qintptr m_fd;
    qsizetype m_index;
    std::shared_ptr<quint64> m_receives; // the pool's count of recv() calls (one thread: no atomic)
    int m_started = 0;
    bool m_failed = false;
    QHash<quint16, UdpQuery *> m_pending;
    QSocketNotifier m_notifier;
    QObject m_guard; // context of the notifier's connection: destroyed first
};

/// The sockets of one resolver, one current socket per server; shared with the queries, which may outlive the
/// resolver (a configuration change replaces it while queries are in flight).
struct ChannelPool
{
    QList<QHostAddress> servers;
    quint16 port = 53;
    std::vector<std::shared_ptr<Channel>> current; // by server index; null until first used
    std::shared_ptr<quint64> receives = std::make_shared<quint64>(0); // recv() calls of its sockets
    std::unique_ptr<DeadlineList> timers;           // the queries' resends and timeouts; made on first use, on the
                                                    // thread of the queries

    DeadlineList &deadlines()
    {
        if (!timers)
            timers = std::make_unique<DeadlineList>();
        return *timers;
    }

    /// The socket the next query to server `index` uses: the current one, or a new one when it is retired. Null
    /// when no socket can be opened.
    std::shared_ptr<Channel> acquire(qsizetype index)
    {
        if (current.size() < size_t(servers.size()))
            current.resize(size_t(servers.size()));
        auto &c = current[size_t(index)];
        if (!c || c->retired()) {
            c.reset();
            const qintptr fd = platform::openConnectedUdpSocket(servers.at(index), port);
            if (fd >= 0)
                c = std::make_shared<Channel>(fd, index, receives);
        }
        return c;
    }
};

class UdpQuery final : public ResolverQuery
{
public:
    UdpQuery(const QString &name, RecordType type, std::shared_ptr<ChannelPool> pool, int shareMs,
             Resolver::Callback callback)
        : m_name(name),
          m_type(type),
          m_wireType(type == RecordType::A ? wire::TypeA : wire::TypeAaaa),
          m_pool(std::move(pool)),
          m_shareMs(shareMs),
          m_callback(std::move(callback))
    {
    }

    ~UdpQuery() override
    {
        stopTimer();
        m_fallbackQuery.reset();
        leaveAll();
    }

    void start()
    {
        m_starting = true; // an end reached from here is delivered later: never inside query()
        QString error;
        const auto ascii = wire::encodeName(m_name, &error);
        if (!ascii) {
            finish({DnsError::Other, {}, 0, error});
        } else if (m_pool->servers.isEmpty()) {
            m_ascii = *ascii;
            finish({DnsError::Other, {}, 0, QStringLiteral("no nameservers configured")});
        } else {
            m_ascii = *ascii;
            askCurrentServer();
        }
        m_starting = false;
    }

    /// A datagram carrying this query's id arrived on `channel` (Channel::onReadable).
    void onDatagram(const QByteArray &datagram, Channel *channel)
    {
        const Registration *r = registrationOn(channel);
        if (m_done || !r || !wire::isReplyTo(datagram, r->id, m_ascii, m_wireType))
            return;
        // Late replies from a server the query already left are still answers: the first usable one wins.
        onReply(datagram, channel->serverIndex(), channel == m_current);
    }

    /// The server behind `channel` is unreachable (an ICMP "port unreachable" read as ECONNREFUSED).
    void onChannelFailed(Channel *channel)
    {
        if (m_done || channel != m_current)
            return;
        serverFailed({DnsError::Other, {}, 0,
                      QStringLiteral("%1 refused the query (nothing listens on its DNS port)")
                          .arg(serverLabel(channel->serverIndex()))});
    }

private:
    struct Registration
    {
        std::shared_ptr<Channel> channel;
        quint16 id = 0;
        QByteArray message; // the query as sent on this channel (its id differs per channel)
    };

    /// The resend or the server's timeout, `ms` from now (one deadline per query, on the pool's list: no QTimer).
    void startTimer(qint64 ms)
    {
        DeadlineList &list = m_pool->deadlines();
        list.cancel(&m_deadline);
        m_deadline = list.start(ms, [this] {
            m_deadline = {};
            onTimer();
        });
    }
    void stopTimer()
    {
        if (m_deadline)
            m_pool->deadlines().cancel(&m_deadline);
    }

    QString typeName() const { return m_type == RecordType::A ? QStringLiteral("A") : QStringLiteral("AAAA"); }

    QString serverLabel(qsizetype index) const
    {
        const QHostAddress &a = m_pool->servers.at(index);
        const QString host = a.protocol() == QAbstractSocket::IPv6Protocol ? QStringLiteral("[%1]").arg(a.toString())
                                                                            : a.toString();
        return m_pool->port == 53 ? host : QStringLiteral("%1:%2").arg(host).arg(m_pool->port);
    }

    const Registration *registrationOn(const Channel *channel) const
    {
        for (const auto &r : m_registrations) {
            if (r.channel.get() == channel)
                return &r;
        }
        return nullptr;
    }

    void leaveAll()
    {
        for (auto &r : m_registrations)
            r.channel->leave(r.id);
        m_registrations.clear();
        m_current = nullptr;
    }

    void askCurrentServer()
    {
        const qsizetype index = m_index;
        // The server's shared socket (a new one, with a new random source port, every kQueriesPerSocket queries),
        // connected, so the kernel delivers only that server's datagrams to it (and its ICMP errors); a random id
        // per query, and a reply must also carry the query's question.
        std::shared_ptr<Channel> channel = m_pool->acquire(index);
        if (!channel) {
            serverFailed({DnsError::Other, {}, 0, QStringLiteral("cannot open a UDP socket to %1").arg(serverLabel(index))});
            return;
        }
        Registration r;
        r.id = channel->enroll(this);
        r.message = wire::encodeQuery(r.id, m_ascii, m_wireType);
        r.channel = std::move(channel);
        m_registrations.push_back(std::move(r));
        m_current = m_registrations.back().channel.get();
        m_resent = false;
        Channel *c = m_current;
        send();
        if (!m_done && m_current == c)
            startTimer(m_shareMs >= kMinShareForResend ? m_shareMs / 2 : m_shareMs);
    }

    void send()
    {
        const Registration *r = registrationOn(m_current);
        const qint64 n = platform::writeSocket(m_current->fd(), r->message.constData(), r->message.size());
        if (n == platform::SocketFailed)
            m_current->fail(); // ECONNREFUSED from an earlier query's ICMP error: this query moves on with the rest
        // WouldBlock: a full send buffer; the resend (or the next server) is the retry.
    }

    void onTimer()
    {
        if (m_done || !m_current)
            return;
        if (m_shareMs >= kMinShareForResend && !m_resent) {
            m_resent = true;
            send();
            if (!m_done && !m_deadline)
                startTimer(m_shareMs - m_shareMs / 2);
            return;
        }
        serverFailed({DnsError::Timeout, {}, 0,
                      QStringLiteral("no answer from %1 within %2 ms").arg(serverLabel(m_index)).arg(m_shareMs)});
    }

    void onReply(const QByteArray &datagram, qsizetype index, bool fromCurrent)
    {
        QString error;
        const auto reply = wire::parseReply(datagram, m_ascii, m_wireType, &error);
        if (!reply) {
            if (fromCurrent)
                serverFailed({DnsError::BadReply, {}, 0,
                              QStringLiteral("unusable reply from %1: %2").arg(serverLabel(index), error)});
            return;
        }
        if (reply->truncated) {
            if (fromCurrent) // a late one from a server the query already left changes nothing
                askOverTcp(index);
            return;
        }
        const DnsError e = wire::errorOfRcode(reply->rcode);
        if (e == DnsError::None) {
            if (reply->addresses.isEmpty()) {
                finish({DnsError::NoData, {}, 0,
                        QStringLiteral("%1 has no %2 record (server %3)").arg(m_name, typeName(), serverLabel(index))});
            } else {
                finish({DnsError::None, reply->addresses, reply->ttlSeconds, QString()});
            }
            return;
        }
        if (e == DnsError::NxDomain) {
            finish({e, {}, 0, QStringLiteral("%1 does not exist (NXDOMAIN from %2)").arg(m_name, serverLabel(index))});
        } else if (fromCurrent) {
            serverFailed({e, {}, 0,
                          QStringLiteral("%1 from %2 for %3").arg(wire::rcodeName(reply->rcode), serverLabel(index), m_name)});
        }
    }

    /// The answer did not fit in a datagram: glibc's resolver (under QDnsLookup) asks the same server again and
    /// moves to TCP when the answer is truncated. It can only address IPv4 servers on port 53.
    void askOverTcp(qsizetype index)
    {
        stopTimer();
        const QHostAddress server = m_pool->servers.at(index);
        if (server.protocol() != QAbstractSocket::IPv4Protocol || m_pool->port != 53) {
            serverFailed({DnsError::BadReply, {}, 0,
                          QStringLiteral("truncated reply from %1 for %2").arg(serverLabel(index), m_name)});
            return;
        }
        // Datagrams still arriving no longer count as the current server's: from here only the fallback (or a late
        // UDP answer) ends the query, and nothing reaches serverFailed() again.
        m_current = nullptr;
        qCDebug(lcDns).noquote() << "udp: truncated reply from" << serverLabel(index) << "for" << m_name
                                 << "- asking again over TCP";
        m_fallback = std::make_unique<DnsLookupResolver>(QList<QHostAddress>{server}, m_shareMs);
        m_fallbackQuery = m_fallback->query(m_name, m_type, [this](const ResolverReply &r) {
            m_starting = true; // inside the fallback query's own delivery: ours goes later, so it may be destroyed
            finish(r);
        });
    }

    void serverFailed(const ResolverReply &failure)
    {
        stopTimer();
        qCDebug(lcDns).noquote() << "udp:" << failure.detail
                                 << (m_index + 1 < m_pool->servers.size() ? "- asking the next server" : "- no server left");
        if (m_index + 1 < m_pool->servers.size()) {
            ++m_index;
            askCurrentServer();
            return;
        }
        finish(failure);
    }

    void finish(const ResolverReply &reply)
    {
        if (m_done)
            return;
        m_done = true;
        stopTimer();
        // Off the shared sockets now: their ids are free again, and a retired socket closes once no query is left.
        leaveAll();
        if (m_starting) {
            m_guard = std::make_unique<QObject>(); // only on this rare path: no QObject per query
            deliverLater(m_guard.get(), &m_callback, reply);
            return;
        }
        // From the channel's datagram handler or the deadline list, which hold nothing of this query once the call
        // returns: the answer goes to the caller now, without an event and a turn of the loop. Nothing here touches
        // the query after the callback, which may destroy it.
        Resolver::Callback cb = std::move(m_callback);
        m_callback = nullptr;
        if (cb)
            cb(reply);
    }

    QString m_name;
    RecordType m_type;
    quint16 m_wireType;
    std::shared_ptr<ChannelPool> m_pool;
    int m_shareMs;
    Resolver::Callback m_callback;

    QByteArray m_ascii;
    qsizetype m_index = 0;
    bool m_resent = false;
    bool m_done = false;
    bool m_starting = false; // inside start() or the fallback's callback: deliver later
    DeadlineList::Token m_deadline; // the resend or the timeout, on m_pool's list
    std::vector<Registration> m_registrations; // one per server asked, until the query ends
    Channel *m_current = nullptr;              // the registration of the server asked now
    std::unique_ptr<DnsLookupResolver> m_fallback;
    std::unique_ptr<ResolverQuery> m_fallbackQuery;
    std::unique_ptr<QObject> m_guard; // context of a later delivery (deliverLater): declared last, destroyed first,
                                      // so that delivery never outlives the query
};

void Channel::fail()
{
    const std::shared_ptr<Channel> self = shared_from_this();
    m_failed = true;
    m_notifier.setEnabled(false);
    // Handling one query never unregisters another from here (each leaves only its own registrations, and none is
    // destroyed synchronously), but re-check anyway.
    const QHash<quint16, UdpQuery *> pending = m_pending;
    for (auto it = pending.cbegin(); it != pending.cend(); ++it) {
        if (m_pending.value(it.key()) == it.value())
            it.value()->onChannelFailed(this);
    }
}

void Channel::onReadable()
{
    // A query may end (and leave) while its reply is handled; the pool may drop this socket meanwhile.
    const std::shared_ptr<Channel> self = shared_from_this();
    char buffer[kReceiveBuffer];
    for (;;) {
        const qint64 n = platform::receiveDatagram(m_fd, buffer, sizeof buffer);
        ++*m_receives;
        if (n == platform::WouldBlock)
            return;
        if (n == platform::SocketFailed) {
            fail();
            return;
        }
        if (n < 2)
            continue;
        const quint16 id = quint16((quint8(buffer[0]) << 8) | quint8(buffer[1]));
        if (UdpQuery *q = m_pending.value(id))
            q->onDatagram(QByteArray::fromRawData(buffer, qsizetype(n)), this);
        // No query waits here any more: stop without the recv() that would only say EAGAIN (one system call per
        // wake-up on a cold name per request). A datagram still queued keeps the socket readable, so the notifier
        // (level-triggered; on Windows FD_READ is posted again after a recv that leaves data) brings us back.
        if (m_pending.isEmpty())
            return;
    }
}

} // namespace udp

UdpResolver::UdpResolver(QList<QHostAddress> nameservers, int timeoutMs, quint16 port)
    : m_nameservers(std::move(nameservers)), m_timeoutMs(timeoutMs > 0 ? timeoutMs : 5000), m_port(port)
{
    auto pool = std::make_shared<udp::ChannelPool>();
    pool->servers = m_nameservers;
    pool->port = m_port;
    m_pool = std::move(pool);
}

UdpResolver::~UdpResolver() = default;

quint64 UdpResolver::receiveCalls() const
{
    return *m_pool->receives;
}

std::unique_ptr<ResolverQuery> UdpResolver::query(const QString &name, RecordType type, Callback callback)
{
    auto q = std::make_unique<udp::UdpQuery>(name, type, m_pool, m_timeoutMs,
                                        std::move(callback));
    q->start();
    return q;
}

} // namespace dfproxy::dns
