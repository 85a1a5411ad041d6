// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QHash>
#include <QMutex>
#include <QSet>

#include <memory>

class QThread;

namespace dfproxy::test {

// A hostile origin: a TCP server on 127.0.0.1 that answers each request with the raw bytes scripted for its path,
// byte for byte, and then leaves the connection open (a lying origin hopes the proxy will read on). It runs on a
// thread of its own, so a test may block on its client sockets. Requests are read up to their blank line (no
// bodies). A path without a script gets a 404.
class ScriptedOrigin
{
public:
    ScriptedOrigin();
    ~ScriptedOrigin();
    ScriptedOrigin(const ScriptedOrigin &) = delete;
    ScriptedOrigin &operator=(const ScriptedOrigin &) = delete;

    // Listens on 127.0.0.1 with a free port; false when it cannot.
    bool start();
    quint16 port() const { return m_port; }

    // Requests for `path` get `raw`. A `hostile` script marks its connection: any later request on that connection
    // counts in requestsAfterHostile() (the proxy reused an upstream connection it should have dropped).
    void script(const QByteArray &path, const QByteArray &raw, bool hostile);

    int connections() const;
    int requests() const;
    int requestsAfterHostile() const;
    // Connections that got a hostile script and are still open (the proxy has not closed them yet).
    int hostileConnectionsOpen() const;

private:
    struct Script
    {
        QByteArray raw;
        bool hostile = false;
    };
    friend class ScriptedOriginServer;
    Script scriptFor(const QByteArray &path) const;

    mutable QMutex m_mutex;
    QHash<QByteArray, Script> m_scripts;
    int m_connections = 0;
    int m_requests = 0;
    int m_requestsAfterHostile = 0;
    int m_hostileOpen = 0;
    quint16 m_port = 0;
    std::unique_ptr<QThread> m_thread;
};

} // namespace dfproxy::test
