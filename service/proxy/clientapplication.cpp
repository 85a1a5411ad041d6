// SPDX-License-Identifier: Apache-2.0
#include "proxy/clientapplication.h"

#include "net/stream.h"

#include <QElapsedTimer>

namespace dfproxy::proxy {

ClientApplications::ClientApplications() : m_lookup(platform::createProcessLookup()) {}

ClientApplications::~ClientApplications() = default;

void ClientApplications::setLookup(std::unique_ptr<platform::ProcessLookup> lookup)
{
    m_lookup = std::move(lookup);
}

std::shared_ptr<const platform::ProcessInfo> ClientApplications::lookup(const net::Stream &client)
{
    if (!enabled() || !m_lookup)
        return nullptr;
    QHostAddress local;
    quint16 localPort = 0;
    if (!client.localEndpoint(&local, &localPort))
        return nullptr;
    const QHostAddress peer = client.peerAddress();
    // A client on this machine connects from loopback or from one of the machine's own addresses, which is then
    // the address it reached us on. Anything else is another machine: there is no process to find.
    if (!peer.isLoopback() && !peer.isEqual(local, QHostAddress::TolerantConversion)) {
        m_remote.fetch_add(1, std::memory_order_relaxed);
        return nullptr;
    }
    QElapsedTimer timer;
    timer.start();
    std::shared_ptr<const platform::ProcessInfo> info = m_lookup->lookup(peer, client.peerPort(), local, localPort);
    m_micros.fetch_add(timer.nsecsElapsed() / 1000, std::memory_order_relaxed);
    m_lookups.fetch_add(1, std::memory_order_relaxed);
    (info ? m_found : m_notFound).fetch_add(1, std::memory_order_relaxed);
    return info;
}

QJsonObject ClientApplications::stats() const
{
    return QJsonObject{
        {"enabled", enabled()},
        {"lookups", m_lookups.load(std::memory_order_relaxed)},
        {"found", m_found.load(std::memory_order_relaxed)},
        {"notFound", m_notFound.load(std::memory_order_relaxed)},
        {"remote", m_remote.load(std::memory_order_relaxed)},
        {"lookupMicrosTotal", m_micros.load(std::memory_order_relaxed)},
    };
}

} // namespace dfproxy::proxy
