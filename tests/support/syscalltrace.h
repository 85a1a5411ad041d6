// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArrayList>
#include <QProcess>
#include <QString>

namespace dfproxy::test {

/// strace attached to a running process (every thread of it), recording some of its system calls: what tests use
/// to see how the proxy does something (no duplicated descriptor, no QTcpSocket's FIONREAD) without a hook in it.
/// Linux with strace only (tests skip otherwise).
class SyscallTrace
{
public:
    SyscallTrace() = default;
    SyscallTrace(const SyscallTrace &) = delete;
    SyscallTrace &operator=(const SyscallTrace &) = delete;
    ~SyscallTrace();

    /// Whether strace is installed (DFPROXY_TEST_PACKAGES in scripts/deps.sh).
    static bool available();
    /// Attaches to `pid` and records the calls named in `syscalls` (strace's -e trace=, e.g. "fcntl,dup,ioctl")
    /// in `outputPath`; returns once every thread of the process is traced. False, with errorString(), when strace
    /// cannot attach (ptrace not permitted).
    bool start(qint64 pid, const QString &syscalls, const QString &outputPath);
    /// Detaches and returns the calls recorded, one line each ("TID name(args) = result").
    QByteArrayList stop();
    QString errorString() const { return m_error; }

private:
    QProcess m_strace;
    QString m_output;
    QString m_error;
};

} // namespace dfproxy::test
