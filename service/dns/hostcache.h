// SPDX-License-Identifier: Apache-2.0
#pragma once
// CONTRACT with the proxy engine (service/proxy, service/forward). The implementation is dns/dnshostcache.cpp.

#include "dns/dnstypes.h"

#include <QObject>

#include <functional>
#include <memory>

namespace dfproxy::dns {

/// A lookup still waiting for DNS. Destroying it cancels the wait: the callback will not run
/// (Envoy's LoadDnsCacheEntryHandle). Must be destroyed on the thread that started the lookup.
class PendingLookup
{
public:
    virtual ~PendingLookup() = default;
};

/// Returned by HostCache::attachThread(); destroying it detaches the thread.
class ThreadAttachment
{
public:
    virtual ~ThreadAttachment() = default;
};

/// The shared, thread-safe DNS host cache (modelled on Envoy's dynamic_forward_proxy DnsCacheImpl).
/// Key: host:port. IP literals and hosts-file names never go to DNS.
class HostCache : public QObject
{
    Q_OBJECT
public:
    using Callback = std::function<void(const ResolveResult &)>;

    struct Outcome
    {
        std::optional<ResolveResult> ready;     ///< set when answered at once (cache hit, IP literal, overflow ...)
        std::unique_ptr<PendingLookup> pending; ///< set otherwise; `callback` runs later on `context`'s thread
    };

    /// Looks up `host` (no brackets for IPv6 literals) for `port` with `family`. Callable from any thread.
    /// When an answer is on hand it is returned in Outcome::ready and `callback` is never called; otherwise
    /// `callback` runs exactly once, on the thread of `context`, unless `context` is destroyed or the
    /// returned PendingLookup is destroyed first. It never runs inside lookup(); when the answer arrives on the
    /// thread of `context` (a worker that resolves its own misses) it runs at once, else from that thread's
    /// event loop.
    virtual Outcome lookup(const QString &host, quint16 port, LookupFamily family, QObject *context,
                           Callback callback) = 0;

    /// Tells the cache an address failed to connect, so it moves to the back of that host's list.
    virtual void reportConnectFailure(const QString &host, quint16 port, const QHostAddress &address) = 0;

    /// Lets lookups made on the calling thread send their DNS queries from it, on its event loop, rather than from
    /// the cache's thread (a thread hop less each way for a name not in the cache). Call on a thread that runs an
    /// event loop and never blocks it (a proxy worker); destroy the result on that same thread, before its loop
    /// ends and before the cache is destroyed: resolutions still in flight there move to the cache's thread.
    /// nullptr when the cache does not do this (the default; a cache with an injected resolver).
    virtual std::unique_ptr<ThreadAttachment> attachThread() { return nullptr; }

protected:
    using QObject::QObject;
};

} // namespace dfproxy::dns
