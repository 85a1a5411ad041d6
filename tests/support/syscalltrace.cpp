// SPDX-License-Identifier: Apache-2.0
#include "support/syscalltrace.h"

#include "support/wait.h"

#include <QDir>
#include <QFile>
#include <QStandardPaths>

namespace dfproxy::test {

namespace {

/// Every thread of `pid` names a tracer (/proc/<pid>/task/*/status).
bool everyThreadTraced(qint64 pid)
{
    const QDir tasks(QStringLiteral("/proc/%1/task").arg(pid));
    const QStringList ids = tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString &id : ids) {
        QFile status(tasks.filePath(id + QStringLiteral("/status")));
        if (!status.open(QIODevice::ReadOnly) || status.readAll().contains("TracerPid:\t0\n"))
            return false;
    }
    return !ids.isEmpty();
}

} // namespace

SyscallTrace::~SyscallTrace()
{
    if (m_strace.state() != QProcess::NotRunning) {
        m_strace.kill();
        m_strace.waitForFinished(5000);
    }
}

bool SyscallTrace::available()
{
    return !QStandardPaths::findExecutable(QStringLiteral("strace")).isEmpty();
}

bool SyscallTrace::start(qint64 pid, const QString &syscalls, const QString &outputPath)
{
    m_output = outputPath;
    // -f with -p: every thread there is, and any the process starts meanwhile.
    m_strace.start(QStandardPaths::findExecutable(QStringLiteral("strace")),
                   {QStringLiteral("-f"), QStringLiteral("-qq"), QStringLiteral("-e"), QStringLiteral("trace=") + syscalls,
                    QStringLiteral("-o"), outputPath, QStringLiteral("-p"), QString::number(pid)});
    if (!m_strace.waitForStarted(5000)) {
        m_error = QStringLiteral("strace did not start: ") + m_strace.errorString();
        return false;
    }
    if (waitUntil([pid] { return everyThreadTraced(pid); }, 10000))
        return true;
    m_strace.kill();
    m_strace.waitForFinished(5000);
    m_error = QStringLiteral("strace cannot attach (ptrace not permitted here?): ")
        + QString::fromLocal8Bit(m_strace.readAllStandardError());
    return false;
}

QByteArrayList SyscallTrace::stop()
{
    m_strace.terminate(); // strace detaches on SIGTERM, and the process goes on
    if (!m_strace.waitForFinished(10000)) {
        m_strace.kill();
        m_strace.waitForFinished(5000);
    }
    QFile f(m_output);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    QByteArrayList lines = f.readAll().split('\n');
    lines.removeAll(QByteArray());
    return lines;
}

} // namespace dfproxy::test
