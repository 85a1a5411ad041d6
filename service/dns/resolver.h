// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "dns/dnstypes.h"

#include <QHostAddress>
#include <QList>
#include <QObject>
#include <QString>

#include <functional>
#include <memory>

namespace dfproxy::dns {

/// The DNS record type of one query.
enum class RecordType { A, AAAA };

/// What one query produced.
struct ResolverReply
{
    DnsError error = DnsError::None;
    QList<QHostAddress> addresses; ///< empty on error
    quint32 ttlSeconds = 0;        ///< smallest TTL of the answer records
    QString detail;                ///< human-readable, for logs and error bodies
};

/// A query in flight. Destroying it cancels the query: its callback will not run.
class ResolverQuery
{
public:
    virtual ~ResolverQuery() = default;
};

/// Starts single DNS queries. A resolver and its queries live on one thread (the one that created it, which runs
/// an event loop); query() must be called there and callbacks run there.
class Resolver
{
public:
    using Callback = std::function<void(const ResolverReply &)>;
    virtual ~Resolver() = default;

    /// Starts one query for `name` and `type`. `callback` runs exactly once, later (never from inside query()),
    /// unless the returned handle is destroyed first. It may run from inside the resolver's own socket or timer
    /// handler (UdpResolver does, to save a turn of the event loop per answer); it may destroy the query even there.
    virtual std::unique_ptr<ResolverQuery> query(const QString &name, RecordType type, Callback callback) = 0;
};

/// For Resolver implementations: runs `*callback` (once; it is cleared) with `reply` from the event loop of `guard`'s
/// thread, later — never inside the socket, timer or QDnsLookup signal that produced the reply, so the callback may
/// destroy the query. Nothing runs if `guard` (a member of the query, like `*callback`) is destroyed first.
inline void deliverLater(QObject *guard, Resolver::Callback *callback, const ResolverReply &reply)
{
    QMetaObject::invokeMethod(
        guard,
        [callback, reply] {
            auto cb = std::move(*callback);
            *callback = nullptr;
            if (cb)
                cb(reply);
        },
        Qt::QueuedConnection);
}

} // namespace dfproxy::dns
