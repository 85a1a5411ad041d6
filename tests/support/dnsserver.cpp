// SPDX-License-Identifier: Apache-2.0
#include "support/dnsserver.h"

#include "support/dnsbytes.h"

#include <QNetworkDatagram>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>
#include <QTimer>
#include <QUdpSocket>
#include <QtEndian>

#include <optional>

namespace dfproxy::test {

namespace {

QString norm(const QString &name)
{
    QString n = name.trimmed().toLower();
    if (n.endsWith(QLatin1Char('.')))
        n.chop(1);
    return n;
}

QString countKey(const QString &name, quint16 type)
{
    return norm(name) + QLatin1Char('/') + QString::number(type);
}

using dnsbytes::put16;
using dnsbytes::put32;

struct Query
{
    quint16 id = 0;
    quint16 flags = 0;
    QString name;
    quint16 type = 0;
    QByteArray question; // the question section as received
};

bool parseQuery(const QByteArray &d, Query *q)
{
    if (d.size() < 12)
        return false;
    const auto *p = reinterpret_cast<const uchar *>(d.constData());
    q->id = qFromBigEndian<quint16>(p);
    q->flags = qFromBigEndian<quint16>(p + 2);
    if (qFromBigEndian<quint16>(p + 4) < 1)
        return false;
    qsizetype i = 12;
    QStringList labels;
    while (true) {
        if (i >= d.size())
            return false;
        const int len = p[i];
        if (len == 0) {
            ++i;
            break;
        }
        if (len > 63 || i + 1 + len > d.size())
            return false;
        labels.append(QString::fromLatin1(d.mid(i + 1, len)));
        i += 1 + len;
    }
    if (i + 4 > d.size())
        return false;
    q->type = qFromBigEndian<quint16>(p + i);
    q->name = norm(labels.join(QLatin1Char('.')));
    q->question = d.mid(12, i + 4 - 12);
    return true;
}

QByteArray header(const Query &q, int rcode, int answers, bool truncated)
{
    QByteArray b;
    put16(b, q.id);
    quint16 flags = 0x8000 | (q.flags & 0x7800) | 0x0400 | (q.flags & 0x0100) | 0x0080 | quint16(rcode & 0xf);
    if (truncated)
        flags |= 0x0200;
    put16(b, flags);
    put16(b, 1);
    put16(b, quint16(answers));
    put16(b, 0);
    put16(b, 0);
    return b;
}

} // namespace

class TestDnsServer::Worker : public QObject
{
public:
    explicit Worker(std::shared_ptr<State> state) : m_state(std::move(state)) {}

    bool bind(const QHostAddress &address, quint16 port, QString *error)
    {
        m_socket = new QUdpSocket(this);
        if (!m_socket->bind(address, port, QUdpSocket::ShareAddress | QUdpSocket::ReuseAddressHint)) {
            *error = m_socket->errorString();
            return false;
        }
        connect(m_socket, &QUdpSocket::readyRead, this, [this] { read(); });
        // DNS over TCP on the same address and port (RFC 7766), for answers too large for UDP. Best effort: a
        // resolver that retries a truncated answer finds it here.
        m_tcp = new QTcpServer(this);
        if (m_tcp->listen(address, port))
            connect(m_tcp, &QTcpServer::newConnection, this, [this] { acceptTcp(); });
        return true;
    }

private:
    /// What one query is answered from: the name's record (mode NxDomain for a name not in the table), the CNAME
    /// target's record, and how often this name and type were asked, this query included.
    struct Lookup
    {
        Record rec;
        std::optional<Record> target;
        int askedSoFar = 0;
    };

    /// Counts the query (over TCP too when `tcp`) and looks up its answer.
    Lookup lookup(const Query &q, bool tcp)
    {
        QMutexLocker lock(&m_state->mutex);
        ++m_state->total;
        Lookup l;
        l.askedSoFar = ++m_state->counts[countKey(q.name, q.type)];
        if (tcp)
            ++m_state->tcpQueries;
        auto it = m_state->names.constFind(q.name);
        if (it == m_state->names.constEnd()) {
            l.rec.mode = Mode::NxDomain;
            return l;
        }
        l.rec = *it;
        if (!l.rec.cname.isEmpty())
            l.target = m_state->names.value(l.rec.cname);
        return l;
    }

    void read()
    {
        while (m_socket->hasPendingDatagrams()) {
            const QNetworkDatagram dg = m_socket->receiveDatagram();
            {
                QMutexLocker lock(&m_state->mutex);
                m_state->udpSourcePorts.insert(quint16(dg.senderPort()));
            }
            Query q;
            if (!parseQuery(dg.data(), &q))
                continue;
            const Lookup l = lookup(q, false);
            if (l.rec.mode == Mode::DropFirst && l.askedSoFar == 1)
                continue;
            const Record &rec = l.rec;
            if (rec.mode == Mode::Silent)
                continue;
            QByteArray reply = build(q, rec, l.target);
            const QHostAddress to = dg.senderAddress();
            const quint16 toPort = quint16(dg.senderPort());
            if (rec.mode == Mode::ForgedFirst) {
                Query forged = q;
                forged.id = quint16(q.id + 1);
                Record fake;
                fake.addresses = {QHostAddress(QStringLiteral("127.66.66.66"))};
                m_socket->writeDatagram(build(forged, fake, std::nullopt), to, toPort);
            }
            if (rec.delayMs > 0) {
                QTimer::singleShot(rec.delayMs, this,
                                   [this, reply, to, toPort] { m_socket->writeDatagram(reply, to, toPort); });
            } else {
                m_socket->writeDatagram(reply, to, toPort);
            }
        }
    }

    void acceptTcp()
    {
        while (QTcpSocket *c = m_tcp->nextPendingConnection()) {
            connect(c, &QTcpSocket::disconnected, this, [this, c] {
                m_tcpBuffers.remove(c);
                c->deleteLater();
            });
            connect(c, &QTcpSocket::readyRead, this, [this, c] { readTcp(c); });
        }
    }

    /// Length-prefixed queries; each gets the full answer (TruncatedOverUdp included). A name in Truncated mode
    /// has its connection closed: that server "does not serve TCP".
    void readTcp(QTcpSocket *c)
    {
        QByteArray &buffer = m_tcpBuffers[c];
        buffer += c->readAll();
        while (buffer.size() >= 2) {
            const int len = (quint8(buffer[0]) << 8) | quint8(buffer[1]);
            if (buffer.size() < 2 + len)
                return;
            const QByteArray message = buffer.mid(2, len);
            buffer.remove(0, 2 + len);
            Query q;
            if (!parseQuery(message, &q))
                continue;
            Lookup l = lookup(q, true);
            Record &rec = l.rec;
            if (rec.mode == Mode::Truncated || rec.mode == Mode::Silent) {
                m_tcpBuffers.remove(c);
                c->abort();
                return;
            }
            if (rec.mode == Mode::TruncatedOverUdp)
                rec.mode = Mode::Answer;
            const QByteArray reply = build(q, rec, l.target);
            QByteArray framed;
            put16(framed, quint16(reply.size()));
            c->write(framed + reply);
        }
    }

    static QByteArray build(const Query &q, const Record &rec, const std::optional<Record> &target)
    {
        switch (rec.mode) {
        case Mode::ServFail:
            return header(q, 2, 0, false) + q.question;
        case Mode::Refused:
            return header(q, 5, 0, false) + q.question;
        case Mode::NxDomain:
            return header(q, 3, 0, false) + q.question;
        case Mode::Truncated:
        case Mode::TruncatedOverUdp:
            return header(q, 0, 0, true) + q.question;
        case Mode::Garbage: {
            // A compression pointer far past the end, then junk: the answer cannot be expanded.
            QByteArray b = header(q, 0, 1, false) + q.question;
            b.append(QByteArray::fromHex("c0ff0001000100000e10ffff"));
            b.append(QByteArray("\x13\x37garbage", 9));
            return b;
        }
        case Mode::Silent:
        case Mode::Answer:
        case Mode::ForgedFirst:
        case Mode::DropFirst:
            break;
        }
        QByteArray answers;
        int n = 0;
        quint16 owner = 0xC00C; // pointer to the question name
        const QByteArray head = header(q, 0, 0, false) + q.question;
        const QList<QHostAddress> *addresses = &rec.addresses;
        quint32 ttl = rec.ttl;
        if (!rec.cname.isEmpty()) {
            put16(answers, owner);
            put16(answers, 5); // CNAME
            put16(answers, 1);
            put32(answers, rec.ttl);
            const QByteArray targetName = dnsbytes::name(rec.cname);
            put16(answers, quint16(targetName.size()));
            owner = quint16(0xC000 | (head.size() + answers.size())); // the target name, written next
            answers.append(targetName);
            ++n;
            static const QList<QHostAddress> none;
            addresses = target ? &target->addresses : &none;
            ttl = target ? target->ttl : 0;
        }
        for (const QHostAddress &a : *addresses) {
            const bool v6 = a.protocol() == QAbstractSocket::IPv6Protocol;
            if ((q.type == TypeA && v6) || (q.type == TypeAAAA && !v6) || (q.type != TypeA && q.type != TypeAAAA))
                continue;
            put16(answers, owner);
            put16(answers, q.type);
            put16(answers, 1); // IN
            put32(answers, ttl);
            if (v6) {
                const Q_IPV6ADDR ip = a.toIPv6Address();
                put16(answers, 16);
                answers.append(reinterpret_cast<const char *>(ip.c), 16);
            } else {
                put16(answers, 4);
                put32(answers, a.toIPv4Address());
            }
            ++n;
        }
        return header(q, 0, n, false) + q.question + answers;
    }

    std::shared_ptr<State> m_state;
    QUdpSocket *m_socket = nullptr;
    QTcpServer *m_tcp = nullptr;
    QHash<QTcpSocket *, QByteArray> m_tcpBuffers;
};

TestDnsServer::TestDnsServer() : m_state(std::make_shared<State>()) {}

TestDnsServer::~TestDnsServer()
{
    stop();
}

bool TestDnsServer::start(const QHostAddress &address, quint16 port, QString *error)
{
    stop();
    m_thread = new QThread;
    m_thread->setObjectName(QStringLiteral("TestDnsServer"));
    m_worker = new Worker(m_state);
    m_worker->moveToThread(m_thread);
    m_thread->start();
    bool ok = false;
    QString err;
    QMetaObject::invokeMethod(
        m_worker, [&] { ok = m_worker->bind(address, port, &err); }, Qt::BlockingQueuedConnection);
    if (!ok) {
        if (error)
            *error = QStringLiteral("cannot bind %1:%2: %3").arg(address.toString()).arg(port).arg(err);
        stop();
        return false;
    }
    m_address = address;
    m_port = port;
    return true;
}

void TestDnsServer::stop()
{
    if (!m_thread)
        return;
    Worker *w = m_worker;
    QMetaObject::invokeMethod(
        w, [w] { delete w; }, Qt::BlockingQueuedConnection);
    m_worker = nullptr;
    m_thread->quit();
    m_thread->wait();
    delete m_thread;
    m_thread = nullptr;
}

QHostAddress TestDnsServer::address() const
{
    return m_address;
}

quint16 TestDnsServer::port() const
{
    return m_port;
}

void TestDnsServer::setAddresses(const QString &name, const QList<QHostAddress> &addresses, quint32 ttl)
{
    QMutexLocker lock(&m_state->mutex);
    Record &r = m_state->names[norm(name)];
    r.addresses = addresses;
    r.ttl = ttl;
}

void TestDnsServer::setTtl(const QString &name, quint32 ttl)
{
    QMutexLocker lock(&m_state->mutex);
    m_state->names[norm(name)].ttl = ttl;
}

void TestDnsServer::setCname(const QString &name, const QString &target, quint32 ttl)
{
    QMutexLocker lock(&m_state->mutex);
    Record &r = m_state->names[norm(name)];
    r.cname = norm(target);
    r.ttl = ttl;
}

void TestDnsServer::setMode(const QString &name, Mode mode)
{
    QMutexLocker lock(&m_state->mutex);
    m_state->names[norm(name)].mode = mode;
}

void TestDnsServer::setDelay(const QString &name, int ms)
{
    QMutexLocker lock(&m_state->mutex);
    m_state->names[norm(name)].delayMs = ms;
}

void TestDnsServer::removeName(const QString &name)
{
    QMutexLocker lock(&m_state->mutex);
    m_state->names.remove(norm(name));
}

void TestDnsServer::clear()
{
    QMutexLocker lock(&m_state->mutex);
    m_state->names.clear();
}

int TestDnsServer::queryCount(const QString &name, quint16 type) const
{
    QMutexLocker lock(&m_state->mutex);
    return m_state->counts.value(countKey(name, type));
}

int TestDnsServer::queryCount(const QString &name) const
{
    QMutexLocker lock(&m_state->mutex);
    const QString prefix = norm(name) + QLatin1Char('/');
    int n = 0;
    for (auto it = m_state->counts.constBegin(); it != m_state->counts.constEnd(); ++it) {
        if (it.key().startsWith(prefix))
            n += it.value();
    }
    return n;
}

int TestDnsServer::tcpQueries() const
{
    QMutexLocker lock(&m_state->mutex);
    return m_state->tcpQueries;
}

int TestDnsServer::totalQueries() const
{
    QMutexLocker lock(&m_state->mutex);
    return m_state->total;
}

QSet<quint16> TestDnsServer::udpSourcePorts() const
{
    QMutexLocker lock(&m_state->mutex);
    return m_state->udpSourcePorts;
}

void TestDnsServer::resetCounts()
{
    QMutexLocker lock(&m_state->mutex);
    m_state->counts.clear();
    m_state->udpSourcePorts.clear();
    m_state->total = 0;
}

} // namespace dfproxy::test
