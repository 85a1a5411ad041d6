// SPDX-License-Identifier: Apache-2.0
#pragma once
// The program behind each client connection (docs/applications.md): looked up once per connection, at its first
// request, through the platform's ProcessLookup. Connections from other machines have none.

#include "platform/processlookup.h"

#include <QJsonObject>

#include <atomic>
#include <memory>

namespace dfproxy::net {
class Stream;
}

namespace dfproxy::proxy {

/// One per proxy (ProxyContext::applications); thread-safe.
class ClientApplications
{
public:
    ClientApplications();
    ~ClientApplications();

    /// proxy.applicationLookup; applies to connections whose first request comes after the change.
    void setEnabled(bool on) { m_enabled.store(on, std::memory_order_relaxed); }
    bool enabled() const { return m_enabled.load(std::memory_order_relaxed); }
    /// Replaces the platform's lookup (tests). Call before the proxy starts.
    void setLookup(std::unique_ptr<platform::ProcessLookup> lookup);

    /// The program owning the client end of `client`, null when the lookup is off, the client is on another
    /// machine or its process could not be found (it may have exited already). Blocks for the lookup's system
    /// calls; call once per connection.
    std::shared_ptr<const platform::ProcessInfo> lookup(const net::Stream &client);

    /// {"enabled", "lookups", "found", "notFound", "remote", "lookupMicrosTotal"} for /api/v1/stats.
    QJsonObject stats() const;

private:
    std::atomic<bool> m_enabled{true};
    std::unique_ptr<platform::ProcessLookup> m_lookup;
    std::atomic<qint64> m_lookups{0}, m_found{0}, m_notFound{0}, m_remote{0}, m_micros{0};
};

} // namespace dfproxy::proxy
