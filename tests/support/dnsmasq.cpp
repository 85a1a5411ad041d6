// SPDX-License-Identifier: Apache-2.0
#include "support/dnsmasq.h"

#include "support/wait.h"

#include <QAtomicInt>
#include <QCoreApplication>
#include <QFile>
#include <QFileInfo>
#include <QUdpSocket>

#ifdef Q_OS_UNIX
#include <signal.h>
#include <unistd.h>
#endif

namespace dfproxy::test {

namespace {

const QString kDnsmasq = QStringLiteral("/usr/sbin/dnsmasq");

// 127.77.X.Y: X from the process id, Y from a per-process counter; skips addresses whose port 53 is taken.
QHostAddress pickAddress()
{
    static QAtomicInt counter;
    const quint32 x = quint32(QCoreApplication::applicationPid() % 250) + 1;
    for (int attempt = 0; attempt < 250; ++attempt) {
        const quint32 y = quint32(counter.fetchAndAddRelaxed(1) % 250) + 1;
        const QHostAddress candidate((127u << 24) | (77u << 16) | (x << 8) | y);
        QUdpSocket probe;
        if (probe.bind(candidate, 53))
            return candidate;
    }
    return QHostAddress((127u << 24) | (77u << 16) | (x << 8) | 251u);
}

} // namespace

Dnsmasq::Dnsmasq() : Dnsmasq(Options{}) {}

Dnsmasq::Dnsmasq(Options options) : m_options(std::move(options)), m_address(pickAddress()) {}

Dnsmasq::~Dnsmasq() = default;

bool Dnsmasq::available()
{
#ifdef Q_OS_UNIX
    return QFileInfo(kDnsmasq).isExecutable() && ::geteuid() == 0;
#else
    return false;
#endif
}

bool Dnsmasq::writeHosts()
{
    QByteArray text;
    for (auto it = m_hosts.cbegin(); it != m_hosts.cend(); ++it) {
        for (const QHostAddress &a : it.value())
            text += a.toString().toLatin1() + ' ' + it.key().toLatin1() + '\n';
    }
    if (!m_dir.writeFile(QStringLiteral("hosts"), text)) {
        m_error = QStringLiteral("cannot write %1").arg(m_dir.filePath(QStringLiteral("hosts")));
        return false;
    }
    return true;
}

bool Dnsmasq::start(int timeoutMs)
{
    if (!m_dir.isValid()) {
        m_error = QStringLiteral("no temporary directory");
        return false;
    }
    if (!writeHosts())
        return false;
    QStringList args{
        QStringLiteral("--keep-in-foreground"),
        QStringLiteral("--no-daemon"),
        QStringLiteral("--conf-file=/dev/null"),
        QStringLiteral("--no-resolv"),
        QStringLiteral("--no-hosts"),
        QStringLiteral("--bind-interfaces"),
        QStringLiteral("--listen-address=") + m_address.toString(),
        QStringLiteral("--port=53"),
        QStringLiteral("--log-queries"),
        QStringLiteral("--log-facility=") + m_dir.filePath(QStringLiteral("dnsmasq.log")),
        QStringLiteral("--local-ttl=%1").arg(m_options.localTtl),
        QStringLiteral("--addn-hosts=") + m_dir.filePath(QStringLiteral("hosts")),
        QStringLiteral("--pid-file="),
        // Stay root: dropping to nobody would leave it unable to re-read the hosts file in our 0700 temp dir.
        QStringLiteral("--user=root"),
    };
    for (const QString &domain : m_options.localDomains)
        args << QStringLiteral("--local=/%1/").arg(domain);
    for (const auto &[name, ip] : m_options.fixedAddresses)
        args << QStringLiteral("--address=/%1/%2").arg(name, ip.toString());

    m_process = std::make_unique<ManagedProcess>(kDnsmasq, args);
    if (!m_process->start(timeoutMs)) {
        m_error = m_process->errorString();
        return false;
    }
    // The hosts file is read after the sockets are bound: once it is logged, dnsmasq answers.
    const bool ready = waitUntil([this] { return hostsReadCount() > 0 || !m_process->isRunning(); }, timeoutMs);
    if (!ready || !m_process->isRunning()) {
        m_error = QStringLiteral("dnsmasq did not come up on %1\n%2").arg(m_address.toString(), describe());
        return false;
    }
    return true;
}

int Dnsmasq::hostsReadCount() const
{
    const QString needle = QStringLiteral("read ") + m_dir.filePath(QStringLiteral("hosts"));
    return log().count(needle);
}

bool Dnsmasq::reload(int timeoutMs)
{
    if (!m_process || !m_process->isRunning())
        return true; // read at start()
    const int before = hostsReadCount();
#ifdef Q_OS_UNIX
    if (!m_process->sendSignal(SIGHUP)) {
        m_error = QStringLiteral("cannot signal dnsmasq");
        return false;
    }
#endif
    if (!waitUntil([&] { return hostsReadCount() > before; }, timeoutMs)) {
        m_error = QStringLiteral("dnsmasq did not reload its hosts file\n") + describe();
        return false;
    }
    return true;
}

bool Dnsmasq::setHost(const QString &name, const QList<QHostAddress> &addresses)
{
    m_hosts[name.toLower()] = addresses;
    return writeHosts() && reload(10000);
}

bool Dnsmasq::removeHost(const QString &name)
{
    m_hosts.remove(name.toLower());
    return writeHosts() && reload(10000);
}

QString Dnsmasq::log() const
{
    QFile file(m_dir.filePath(QStringLiteral("dnsmasq.log")));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return QString::fromUtf8(file.readAll());
}

int Dnsmasq::queryCount(const QString &name, const QString &type) const
{
    // "Nov 26 06:04:45 dnsmasq[6579]: query[A] foo.test from 127.0.0.1"
    const QString needle = QStringLiteral("query[%1] %2 from ").arg(type.toUpper(), name.toLower());
    int count = 0;
    const QStringList lines = log().split(QLatin1Char('\n'));
    for (const QString &line : lines) {
        if (line.toLower().contains(needle.toLower()))
            ++count;
    }
    return count;
}

bool Dnsmasq::waitForQueryCount(const QString &name, int atLeast, int timeoutMs, const QString &type) const
{
    return waitUntil([&] { return queryCount(name, type) >= atLeast; }, timeoutMs);
}

QString Dnsmasq::describe() const
{
    QString text = QStringLiteral("dnsmasq on %1\n").arg(m_address.toString());
    if (m_process)
        text += m_process->describe();
    text += QStringLiteral("--- log ---\n") + log().right(8000);
    return text;
}

} // namespace dfproxy::test
