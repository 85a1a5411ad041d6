// SPDX-License-Identifier: Apache-2.0
#include "dns/dnslookupresolver.h"

#include <QCoreApplication>
#include <QDnsLookup>
#include <QPointer>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>

namespace dfproxy::dns {

namespace {

/// Lookups given up on while Qt's resolver thread was still working on them (see lookupsLeftRunning()).
std::atomic<int> g_lookupsLeftRunning{0};

DnsError mapError(QDnsLookup::Error e)
{
    switch (e) {
    case QDnsLookup::NoError:
        return DnsError::None;
    case QDnsLookup::NotFoundError:
        return DnsError::NxDomain;
    case QDnsLookup::ServerFailureError:
        return DnsError::ServFail;
    case QDnsLookup::ServerRefusedError:
        return DnsError::Refused;
    case QDnsLookup::InvalidReplyError:
    case QDnsLookup::InvalidRequestError:
        return DnsError::BadReply;
    case QDnsLookup::ResolverError:
    case QDnsLookup::OperationCancelledError:
        return DnsError::Other;
    }
    return DnsError::Other;
}

/// Qt 6.4 on Unix cannot tell an empty NOERROR answer (NODATA) from a reply it failed to get: res_nquery returns
/// -1 for both and QDnsLookup reports InvalidReplyError "Invalid reply received". An unanswered server is only
/// reported after the resolver's own ~10 s retries, and our timeout ends the attempt long before, so this message
/// arriving in time means the server said "no records of this type". Garbage replies carry other messages.
bool isNoDataSignature(const QString &errorString)
{
    return errorString == QCoreApplication::translate("QDnsLookupRunnable", "Invalid reply received");
}

/// One query: tries each nameserver in turn (or the system's once), each attempt bounded by a timer. A timeout,
/// SERVFAIL or REFUSED moves on to the next server.
class DnsLookupQuery final : public ResolverQuery
{
public:
    DnsLookupQuery(const QString &name, RecordType type, const QList<QHostAddress> &servers, int timeoutMs,
                   Resolver::Callback callback)
        : m_name(name), m_type(type), m_servers(servers), m_timeoutMs(timeoutMs), m_callback(std::move(callback))
    {
        m_timer.setSingleShot(true);
        QObject::connect(&m_timer, &QTimer::timeout, &m_guard, [this] { onTimeout(); });
    }

    ~DnsLookupQuery() override { stopAttempt(); }

    void start()
    {
        if (m_name.isEmpty()) {
            ResolverReply reply;
            reply.error = DnsError::Other;
            reply.detail = QStringLiteral("empty host name");
            finish(reply);
            return;
        }
        startAttempt();
    }

private:
    QString serverLabel() const
    {
        return m_servers.isEmpty() ? QStringLiteral("system resolver") : m_servers.at(m_index).toString();
    }

    void startAttempt()
    {
        m_lookup = new QDnsLookup(m_type == RecordType::A ? QDnsLookup::A : QDnsLookup::AAAA, m_name);
        if (!m_servers.isEmpty())
            m_lookup->setNameserver(m_servers.at(m_index));
        QObject::connect(m_lookup, &QDnsLookup::finished, &m_guard, [this] { onFinished(); });
        m_timer.start(m_timeoutMs);
        m_lookup->lookup();
    }

    void stopAttempt()
    {
        m_timer.stop();
        if (m_lookup) {
            QDnsLookup *l = m_lookup;
            m_lookup = nullptr;
            l->disconnect(&m_guard);
            if (l->isFinished()) {
                l->deleteLater();
            } else {
                // Qt's pool thread stays in the C library until its own timeout, whatever abort() says.
                g_lookupsLeftRunning.fetch_add(1, std::memory_order_relaxed);
                l->abort();
                l->deleteLater();
            }
        }
    }

    bool tryNextServer()
    {
        if (m_index + 1 >= m_servers.size())
            return false;
        ++m_index;
        startAttempt();
        return true;
    }

    void onTimeout()
    {
        const QString server = serverLabel();
        stopAttempt();
        if (tryNextServer())
            return;
        ResolverReply reply;
        reply.error = DnsError::Timeout;
        reply.detail = QStringLiteral("no answer from %1 within %2 ms").arg(server).arg(m_timeoutMs);
        finish(reply);
    }

    void onFinished()
    {
        QDnsLookup *l = m_lookup;
        if (!l)
            return;
        ResolverReply reply;
        reply.error = mapError(l->error());
        if (reply.error == DnsError::None) {
            quint32 ttl = std::numeric_limits<quint32>::max();
            const auto wanted =
                m_type == RecordType::A ? QAbstractSocket::IPv4Protocol : QAbstractSocket::IPv6Protocol;
            const auto records = l->hostAddressRecords();
            for (const auto &r : records) {
                if (r.value().protocol() != wanted)
                    continue;
                if (!reply.addresses.contains(r.value()))
                    reply.addresses.append(r.value());
                ttl = std::min(ttl, r.timeToLive());
            }
            if (reply.addresses.isEmpty()) {
                reply.error = DnsError::NoData;
                reply.detail = QStringLiteral("%1 has no %2 record")
                                   .arg(m_name, m_type == RecordType::A ? QStringLiteral("A") : QStringLiteral("AAAA"));
            } else {
                reply.ttlSeconds = ttl;
            }
        } else {
            if (l->error() == QDnsLookup::InvalidReplyError && isNoDataSignature(l->errorString()))
                reply.error = DnsError::NoData;
            reply.detail = reply.error == DnsError::NoData
                               ? QStringLiteral("%1 has no %2 record (server %3)")
                                     .arg(m_name, m_type == RecordType::A ? QStringLiteral("A") : QStringLiteral("AAAA"),
                                          serverLabel())
                               : QStringLiteral("%1 (server %2)").arg(l->errorString(), serverLabel());
        }
        stopAttempt();
        if ((reply.error == DnsError::ServFail || reply.error == DnsError::Refused) && tryNextServer())
            return;
        finish(reply);
    }

    void finish(const ResolverReply &reply)
    {
        deliverLater(&m_guard, &m_callback, reply);
    }

    QString m_name;
    RecordType m_type;
    QList<QHostAddress> m_servers;
    int m_timeoutMs;
    Resolver::Callback m_callback;
    QObject m_guard; // context of every connection, so none outlives this query
    QTimer m_timer;
    QDnsLookup *m_lookup = nullptr;
    qsizetype m_index = 0;
};

/// QDnsLookup runs each query on one of Qt's at most 5 resolver threads, and on Unix that thread blocks in
/// res_nquery for the C library's full retry schedule (about 10 s against a silent server) even after we aborted.
/// Five silent names would then stall every other lookup. RES_OPTIONS (read by res_ninit on glibc, musl and the BSD
/// resolvers; ignored on Windows) shortens that schedule to one attempt a little longer than our own timeout, so a
/// thread is free again soon after we gave up. Set once, before the first query, and never over the user's value.
void boundSystemResolverWait(int timeoutMs)
{
    static std::once_flag once;
    std::call_once(once, [timeoutMs] {
        if (qEnvironmentVariableIsSet("RES_OPTIONS"))
            return;
        const int seconds = (timeoutMs + 999) / 1000 + 1;
        qputenv("RES_OPTIONS", QByteArray("timeout:") + QByteArray::number(seconds) + " attempts:1");
    });
}

} // namespace

DnsLookupResolver::DnsLookupResolver(QList<QHostAddress> nameservers, int timeoutMs)
    : m_timeoutMs(timeoutMs > 0 ? timeoutMs : 5000)
{
    boundSystemResolverWait(m_timeoutMs);
    for (const auto &a : nameservers) {
        if (a.protocol() == QAbstractSocket::IPv4Protocol)
            m_nameservers.append(a);
    }
}

DnsLookupResolver::~DnsLookupResolver() = default;

bool DnsLookupResolver::lookupsLeftRunning()
{
    return g_lookupsLeftRunning.load(std::memory_order_relaxed) > 0;
}

std::unique_ptr<ResolverQuery> DnsLookupResolver::query(const QString &name, RecordType type, Callback callback)
{
    auto q = std::make_unique<DnsLookupQuery>(name, type, m_nameservers, m_timeoutMs, std::move(callback));
    q->start();
    return q;
}

} // namespace dfproxy::dns
