// SPDX-License-Identifier: Apache-2.0
#include "support/scriptedorigin.h"

#include <QHostAddress>
#include <QMutexLocker>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>

namespace dfproxy::test {

// Lives on ScriptedOrigin's thread; everything it touches besides the origin's counters is its own.
class ScriptedOriginServer : public QTcpServer
{
public:
    explicit ScriptedOriginServer(ScriptedOrigin *origin)
        : m_origin(origin)
    {
        connect(this, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *s = nextPendingConnection()) {
                {
                    QMutexLocker lock(&m_origin->m_mutex);
                    ++m_origin->m_connections;
                }
                s->setParent(this);
                connect(s, &QTcpSocket::readyRead, s, [this, s] { onRead(s); });
                connect(s, &QTcpSocket::disconnected, s, [this, s] {
                    if (s->property("hostile").toBool()) {
                        QMutexLocker lock(&m_origin->m_mutex);
                        --m_origin->m_hostileOpen;
                    }
                    s->setProperty("hostile", false);
                    s->deleteLater();
                });
            }
        });
    }

private:
    void onRead(QTcpSocket *s)
    {
        QByteArray buf = s->property("buf").toByteArray() + s->readAll();
        for (qsizetype end = buf.indexOf("\r\n\r\n"); end >= 0; end = buf.indexOf("\r\n\r\n")) {
            const QByteArray path = buf.left(buf.indexOf("\r\n")).split(' ').value(1);
            buf.remove(0, end + 4);
            const ScriptedOrigin::Script script = m_origin->scriptFor(path);
            {
                QMutexLocker lock(&m_origin->m_mutex);
                ++m_origin->m_requests;
                if (s->property("hostile").toBool())
                    ++m_origin->m_requestsAfterHostile;
                else if (script.hostile)
                    ++m_origin->m_hostileOpen;
            }
            if (script.hostile)
                s->setProperty("hostile", true);
            s->write(script.raw);
        }
        s->setProperty("buf", buf);
    }

    ScriptedOrigin *m_origin;
};

ScriptedOrigin::ScriptedOrigin() = default;

ScriptedOrigin::~ScriptedOrigin()
{
    if (m_thread) {
        m_thread->quit();
        m_thread->wait();
    }
}

bool ScriptedOrigin::start()
{
    m_thread = std::make_unique<QThread>();
    m_thread->start();
    auto *server = new ScriptedOriginServer(this);
    server->moveToThread(m_thread.get());
    // The server (and the sockets it parents) go away with the thread's event loop.
    QObject::connect(m_thread.get(), &QThread::finished, server, &QObject::deleteLater);
    bool ok = false;
    QMetaObject::invokeMethod(
        server, [&] { ok = server->listen(QHostAddress::LocalHost); m_port = server->serverPort(); },
        Qt::BlockingQueuedConnection);
    return ok;
}

void ScriptedOrigin::script(const QByteArray &path, const QByteArray &raw, bool hostile)
{
    QMutexLocker lock(&m_mutex);
    m_scripts.insert(path, Script{raw, hostile});
}

ScriptedOrigin::Script ScriptedOrigin::scriptFor(const QByteArray &path) const
{
    QMutexLocker lock(&m_mutex);
    return m_scripts.value(path, Script{"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false});
}

int ScriptedOrigin::connections() const
{
    QMutexLocker lock(&m_mutex);
    return m_connections;
}

int ScriptedOrigin::requests() const
{
    QMutexLocker lock(&m_mutex);
    return m_requests;
}

int ScriptedOrigin::requestsAfterHostile() const
{
    QMutexLocker lock(&m_mutex);
    return m_requestsAfterHostile;
}

int ScriptedOrigin::hostileConnectionsOpen() const
{
    QMutexLocker lock(&m_mutex);
    return m_hostileOpen;
}

} // namespace dfproxy::test
