// SPDX-License-Identifier: Apache-2.0
#include "support/managedprocess.h"

#include "support/wait.h"

#include <QDeadlineTimer>
#include <QTcpSocket>

#include <algorithm>

#ifdef Q_OS_UNIX
#include <signal.h>
#endif
#ifdef Q_OS_LINUX
#include <sys/prctl.h>
#endif

namespace dfproxy::test {

ManagedProcess::ManagedProcess(QString program, QStringList arguments)
    : m_program(std::move(program)), m_arguments(std::move(arguments)), m_process(std::make_unique<QProcess>())
{
    m_process->setProcessEnvironment(QProcessEnvironment::systemEnvironment());
#ifdef Q_OS_LINUX
    // If the test binary crashes, its servers (dnsmasq on port 53, origins) must not outlive it.
    m_process->setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
#endif
    QObject::connect(m_process.get(), &QProcess::readyReadStandardOutput, m_process.get(), [this] { drain(); });
    QObject::connect(m_process.get(), &QProcess::readyReadStandardError, m_process.get(), [this] { drain(); });
}

ManagedProcess::~ManagedProcess()
{
    stop(3000);
    // The buffers die before m_process would: no signal may reach drain() from here on.
    QObject::disconnect(m_process.get(), nullptr, nullptr, nullptr);
    m_process.reset();
}

void ManagedProcess::setArguments(const QStringList &arguments)
{
    m_arguments = arguments;
}

void ManagedProcess::setEnvironment(const QProcessEnvironment &environment)
{
    m_process->setProcessEnvironment(environment);
}

void ManagedProcess::setEnv(const QString &name, const QString &value)
{
    QProcessEnvironment env = m_process->processEnvironment();
    env.insert(name, value);
    m_process->setProcessEnvironment(env);
}

void ManagedProcess::unsetEnv(const QString &name)
{
    QProcessEnvironment env = m_process->processEnvironment();
    env.remove(name);
    m_process->setProcessEnvironment(env);
}

void ManagedProcess::setWorkingDirectory(const QString &dir)
{
    m_process->setWorkingDirectory(dir);
}

bool ManagedProcess::start(int timeoutMs)
{
    m_process->start(m_program, m_arguments);
    if (!m_process->waitForStarted(timeoutMs)) {
        m_error = QStringLiteral("cannot start %1: %2").arg(m_program, m_process->errorString());
        return false;
    }
    return true;
}

QString ManagedProcess::errorString() const
{
    return m_error;
}

void ManagedProcess::drain() const
{
    const QByteArray out = m_process->readAllStandardOutput();
    const QByteArray err = m_process->readAllStandardError();
    m_stdout += out;
    m_stderr += err;
    m_combined += out;
    m_combined += err;
}

QByteArray ManagedProcess::stdoutData() const
{
    drain();
    return m_stdout;
}

QByteArray ManagedProcess::stderrData() const
{
    drain();
    return m_stderr;
}

QByteArray ManagedProcess::output() const
{
    drain();
    return m_combined;
}

std::optional<QRegularExpressionMatch> ManagedProcess::waitForOutput(const QRegularExpression &re, int timeoutMs,
                                                                     Channel channel, qsizetype from)
{
    std::optional<QRegularExpressionMatch> found;
    const auto check = [&] {
        drain();
        const QByteArray &data = channel == Channel::Stdout   ? m_stdout
                                 : channel == Channel::Stderr ? m_stderr
                                                              : m_combined;
        if (from >= data.size())
            return false;
        const QRegularExpressionMatch match = re.match(QString::fromUtf8(data.mid(from)));
        if (match.hasMatch())
            found = match;
        return match.hasMatch();
    };
    waitUntil([&] { return check() || !isRunning(); }, timeoutMs);
    if (!found && !isRunning()) {
        m_process->waitForFinished(100); // collect the last output of a process that just ended
        check();
    }
    return found;
}

bool ManagedProcess::waitForPort(const QHostAddress &address, quint16 port, int timeoutMs)
{
    const QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired() && isRunning()) {
        QTcpSocket socket;
        socket.connectToHost(address, port);
        if (socket.waitForConnected(int(std::clamp<qint64>(deadline.remainingTime(), 1, 500)))) {
            socket.disconnectFromHost();
            return true;
        }
        socket.abort();
        spinFor(20);
    }
    return false;
}

bool ManagedProcess::waitForExit(int timeoutMs)
{
    return waitUntil([this] { return !isRunning(); }, timeoutMs);
}

bool ManagedProcess::isRunning() const
{
    return m_process->state() != QProcess::NotRunning;
}

qint64 ManagedProcess::pid() const
{
    return m_process->processId();
}

int ManagedProcess::exitCode() const
{
    return m_process->exitCode();
}

QProcess::ExitStatus ManagedProcess::exitStatus() const
{
    return m_process->exitStatus();
}

bool ManagedProcess::sendSignal(int signal)
{
#ifdef Q_OS_UNIX
    const qint64 id = pid();
    if (!isRunning() || id <= 0)
        return false;
    return ::kill(pid_t(id), signal) == 0;
#else
    Q_UNUSED(signal);
    return false;
#endif
}

void ManagedProcess::stop(int graceMs)
{
    if (!m_process || m_process->state() == QProcess::NotRunning)
        return;
    m_process->terminate();
    if (!m_process->waitForFinished(graceMs)) {
        m_process->kill();
        m_process->waitForFinished(graceMs);
    }
    drain();
}

QString ManagedProcess::describe() const
{
    drain();
    QString text = QStringLiteral("command: %1 %2\n").arg(m_program, m_arguments.join(QLatin1Char(' ')));
    if (!m_error.isEmpty())
        text += QStringLiteral("error: %1\n").arg(m_error);
    if (!isRunning())
        text += QStringLiteral("exited: code %1%2\n")
                    .arg(m_process->exitCode())
                    .arg(m_process->exitStatus() == QProcess::CrashExit ? QStringLiteral(" (crashed)") : QString());
    text += QStringLiteral("--- stdout ---\n%1\n--- stderr ---\n%2\n")
                .arg(QString::fromUtf8(m_stdout.right(16000)), QString::fromUtf8(m_stderr.right(16000)));
    return text;
}

} // namespace dfproxy::test
