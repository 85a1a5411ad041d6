// SPDX-License-Identifier: Apache-2.0
#include "support/origin.h"

#include "support/binaries.h"

namespace dfproxy::test {

OriginProcess::OriginProcess() : OriginProcess(Options{}) {}

OriginProcess::OriginProcess(Options options) : m_options(std::move(options)) {}

bool OriginProcess::start(int timeoutMs)
{
    const QString binary = buildBinary(QStringLiteral("dfproxy-test-origin"));
    if (binary.isEmpty()) {
        m_error = QStringLiteral("dfproxy-test-origin not found under ") + buildDir();
        return false;
    }
    QStringList args;
    for (const QString &l : m_options.listen)
        args << QStringLiteral("--listen") << l;
    args << QStringLiteral("--title") << m_options.title;
    if (!m_options.tlsCert.isEmpty())
        args << QStringLiteral("--tls-cert") << m_options.tlsCert << QStringLiteral("--tls-key") << m_options.tlsKey;

    m_process = std::make_unique<ManagedProcess>(binary, args);
    if (!m_process->start(timeoutMs)) {
        m_error = m_process->errorString();
        return false;
    }
    const QString pattern = QStringLiteral("(LISTENING \\S+ \\d+\\n){%1}").arg(m_options.listen.size());
    if (!m_process->waitForOutput(QRegularExpression(pattern), timeoutMs, ManagedProcess::Channel::Stdout)) {
        m_error = QStringLiteral("origin did not start listening\n") + m_process->describe();
        return false;
    }
    static const QRegularExpression line(QStringLiteral("^LISTENING (\\S+) (\\d+)$"),
                                         QRegularExpression::MultilineOption);
    m_listeners.clear();
    auto it = line.globalMatch(QString::fromUtf8(m_process->stdoutData()));
    while (it.hasNext()) {
        const auto m = it.next();
        m_listeners.append({QHostAddress(m.captured(1)), quint16(m.captured(2).toUInt())});
    }
    return true;
}

QString OriginProcess::authority(int i) const
{
    const QHostAddress a = address(i);
    const QString host =
        a.protocol() == QAbstractSocket::IPv6Protocol ? QStringLiteral("[%1]").arg(a.toString()) : a.toString();
    return QStringLiteral("%1:%2").arg(host).arg(port(i));
}

QString OriginProcess::url(const QString &path, int i) const
{
    const QString scheme = m_options.tlsCert.isEmpty() ? QStringLiteral("http") : QStringLiteral("https");
    return QStringLiteral("%1://%2%3")
        .arg(scheme, authority(i), path.startsWith(QLatin1Char('/')) ? path : QLatin1Char('/') + path);
}

} // namespace dfproxy::test
