// SPDX-License-Identifier: Apache-2.0
#include "dns/udpresolver.h"

#include "dns/dnslookupresolver.h"
#include "dns/dnsmessage.h"

#include "platform/socket.h"

#include <QRandomGenerator>
#include <QSocketNotifier>
#include <QTimer>

#include <algorithm>
#include <vector>

namespace dfproxy::dns {

namespace {

/// A server's share shorter than this is one datagram; a longer one sends the query again halfway through.
constexpr int kMinShareForResend = 100;
/// Receive buffer: a reply to a query without EDNS is at most 512 bytes (RFC 1035 4.2.1); the rest is room for a
/// server that sends more anyway (read as it is; a longer datagram is cut here and then fails to parse).
constexpr int kReceiveBuffer = 4096;

/// One connected UDP socket (platform::openConnectedUdpSocket) and its read notifier.
class ServerSocket
{
public:
    ServerSocket(qintptr fd, qsizetype serverIndex) : m_fd(fd), m_index(serverIndex), m_notifier(fd, QSocketNotifier::Read) {}
    ~ServerSocket()
    {
        m_notifier.setEnabled(false);
        platform::closeSocket(m_fd);
    }
    ServerSocket(const ServerSocket &) = delete;
    ServerSocket &operator=(const ServerSocket &) = delete;

    qintptr fd() const { return m_fd; }
    qsizetype serverIndex() const { return m_index; }
    QSocketNotifier &notifier() { return m_notifier; }

private:
    qintptr m_fd;
    qsizetype m_index;
    QSocketNotifier m_notifier;
};

class UdpQuery final : public ResolverQuery
{
public:
    UdpQuery(const QString &name, RecordType type, const QList<QHostAddress> &servers, int shareMs, quint16 port,
             Resolver::Callback callback)
        : m_name(name),
          m_type(type),
          m_wireType(type == RecordType::A ? wire::TypeA : wire::TypeAaaa),
          m_servers(servers),
          m_shareMs(shareMs),
          m_port(port),
          m_callback(std::move(callback))
    {
        m_timer.setSingleShot(true);
        QObject::connect(&m_timer, &QTimer::timeout, &m_guard, [this] { onTimer(); });
    }

    ~UdpQuery() override
    {
        m_timer.stop();
        m_fallbackQuery.reset();
        for (auto &s : m_sockets)
            s->notifier().disconnect(&m_guard);
    }

    void start()
    {
        QString error;
        const auto ascii = wire::encodeName(m_name, &error);
        if (!ascii) {
            finish({DnsError::Other, {}, 0, error});
            return;
        }
        m_ascii = *ascii;
        if (m_servers.isEmpty()) {
            finish({DnsError::Other, {}, 0, QStringLiteral("no nameservers configured")});
            return;
        }
        m_id = quint16(QRandomGenerator::system()->generate());
        m_message = wire::encodeQuery(m_id, m_ascii, m_wireType);
        askCurrentServer();
    }

private:
    QString typeName() const { return m_type == RecordType::A ? QStringLiteral("A") : QStringLiteral("AAAA"); }

    QString serverLabel(qsizetype index) const
    {
        const QHostAddress &a = m_servers.at(index);
        const QString host = a.protocol() == QAbstractSocket::IPv6Protocol ? QStringLiteral("[%1]").arg(a.toString())
                                                                            : a.toString();
        return m_port == 53 ? host : QStringLiteral("%1:%2").arg(host).arg(m_port);
    }

    void askCurrentServer()
    {
        const qsizetype index = m_index;
        // A new socket per server: a new random source port, and the kernel delivers only this server's datagrams
        // to it (and its ICMP errors).
        const qintptr fd = platform::openConnectedUdpSocket(m_servers.at(index), m_port);
        if (fd < 0) {
            serverFailed({DnsError::Other, {}, 0, QStringLiteral("cannot open a UDP socket to %1").arg(serverLabel(index))});
            return;
        }
        auto socket = std::make_unique<ServerSocket>(fd, index);
        ServerSocket *s = socket.get();
        m_sockets.push_back(std::move(socket));
        m_current = s;
        QObject::connect(&s->notifier(), &QSocketNotifier::activated, &m_guard, [this, s] { onReadable(s); });
        m_resent = false;
        send();
        if (!m_done && m_current == s)
            m_timer.start(m_shareMs >= kMinShareForResend ? m_shareMs / 2 : m_shareMs);
    }

    void send()
    {
        const qint64 n = platform::writeSocket(m_current->fd(), m_message.constData(), m_message.size());
        if (n == platform::SocketFailed)
            serverFailed({DnsError::Other, {}, 0, QStringLiteral("cannot send to %1").arg(serverLabel(m_index))});
        // WouldBlock: a full send buffer; the resend (or the next server) is the retry.
    }

    void onTimer()
    {
        if (m_done || !m_current)
            return;
        if (m_shareMs >= kMinShareForResend && !m_resent) {
            m_resent = true;
            send();
            if (!m_done && !m_timer.isActive())
                m_timer.start(m_shareMs - m_shareMs / 2);
            return;
        }
        serverFailed({DnsError::Timeout, {}, 0,
                      QStringLiteral("no answer from %1 within %2 ms").arg(serverLabel(m_index)).arg(m_shareMs)});
    }

    void onReadable(ServerSocket *s)
    {
        char buffer[kReceiveBuffer];
        while (!m_done) {
            const qint64 n = platform::receiveDatagram(s->fd(), buffer, sizeof buffer);
            if (n == platform::WouldBlock)
                return;
            if (n == platform::SocketFailed) {
                s->notifier().setEnabled(false);
                if (s == m_current) {
                    serverFailed({DnsError::Other, {}, 0,
                                  QStringLiteral("%1 refused the query (nothing listens on its DNS port)")
                                      .arg(serverLabel(s->serverIndex()))});
                }
                return;
            }
            // Late replies from a server the query already left are still answers: the first usable one wins.
            const QByteArray datagram = QByteArray::fromRawData(buffer, qsizetype(n));
            if (wire::isReplyTo(datagram, m_id, m_ascii, m_wireType))
                onReply(datagram, s->serverIndex(), s == m_current);
        }
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
        m_timer.stop();
        const QHostAddress server = m_servers.at(index);
        if (server.protocol() != QAbstractSocket::IPv4Protocol || m_port != 53) {
            serverFailed({DnsError::BadReply, {}, 0,
                          QStringLiteral("truncated reply from %1 for %2").arg(serverLabel(index), m_name)});
            return;
        }
        // The UDP sockets' remaining datagrams no longer count as the current server's: from here only the fallback
        // (or a late UDP answer) ends the query, and nothing reaches serverFailed() again.
        m_current = nullptr;
        m_fallback = std::make_unique<DnsLookupResolver>(QList<QHostAddress>{server}, m_shareMs);
        m_fallbackQuery = m_fallback->query(m_name, m_type, [this](const ResolverReply &r) { finish(r); });
    }

    void serverFailed(const ResolverReply &failure)
    {
        m_timer.stop();
        if (m_index + 1 < m_servers.size()) {
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
        m_timer.stop();
        deliverLater(&m_guard, &m_callback, reply);
    }

    QString m_name;
    RecordType m_type;
    quint16 m_wireType;
    QList<QHostAddress> m_servers;
    int m_shareMs;
    quint16 m_port;
    Resolver::Callback m_callback;

    QByteArray m_ascii;
    QByteArray m_message;
    quint16 m_id = 0;
    qsizetype m_index = 0;
    bool m_resent = false;
    bool m_done = false;
    QTimer m_timer;
    std::vector<std::unique_ptr<ServerSocket>> m_sockets; // one per server asked; closed with the query
    ServerSocket *m_current = nullptr;
    std::unique_ptr<DnsLookupResolver> m_fallback;
    std::unique_ptr<ResolverQuery> m_fallbackQuery;
    QObject m_guard; // context of every connection: declared last, destroyed first, so none outlives the query
};

} // namespace

UdpResolver::UdpResolver(QList<QHostAddress> nameservers, int timeoutMs, quint16 port)
    : m_nameservers(std::move(nameservers)), m_timeoutMs(timeoutMs > 0 ? timeoutMs : 5000), m_port(port)
{
}

UdpResolver::~UdpResolver() = default;

std::unique_ptr<ResolverQuery> UdpResolver::query(const QString &name, RecordType type, Callback callback)
{
    auto q = std::make_unique<UdpQuery>(name, type, m_nameservers, m_timeoutMs, m_port, std::move(callback));
    q->start();
    return q;
}

} // namespace dfproxy::dns
