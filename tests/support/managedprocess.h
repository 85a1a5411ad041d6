// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QHostAddress>
#include <QProcess>
#include <QProcessEnvironment>
#include <QRegularExpression>
#include <QRegularExpressionMatch>
#include <QString>
#include <QStringList>

#include <memory>
#include <optional>

namespace dfproxy::test {

// A child process for integration tests: captures stdout and stderr, waits for output or a listening port with
// bounded deadlines, and is terminated (SIGTERM, then SIGKILL) when destroyed. Lives on the test's thread; the
// waits spin that thread's event loop, which is what fills the output buffers.
class ManagedProcess
{
public:
    enum class Channel { Stdout, Stderr, Both };

    explicit ManagedProcess(QString program, QStringList arguments = {});
    ~ManagedProcess();
    ManagedProcess(const ManagedProcess &) = delete;
    ManagedProcess &operator=(const ManagedProcess &) = delete;

    // Before start(): the environment defaults to the test's own.
    void setArguments(const QStringList &arguments);
    void setEnvironment(const QProcessEnvironment &environment);
    void setEnv(const QString &name, const QString &value);
    void unsetEnv(const QString &name);
    void setWorkingDirectory(const QString &dir);

    // Starts the program; false (see errorString()) if it could not be started.
    bool start(int timeoutMs = 10000);
    QString errorString() const;

    // Everything captured so far (reads what is buffered first).
    QByteArray stdoutData() const;
    QByteArray stderrData() const;
    // stdout and stderr interleaved in arrival order.
    QByteArray output() const;

    // Waits until re matches the captured text of channel (searching from byte offset `from`); nullopt on
    // timeout or if the process exits without producing a match.
    std::optional<QRegularExpressionMatch> waitForOutput(const QRegularExpression &re, int timeoutMs,
                                                         Channel channel = Channel::Both, qsizetype from = 0);
    // Connects to address:port until it accepts; false on timeout or if the process exits first.
    bool waitForPort(const QHostAddress &address, quint16 port, int timeoutMs);
    // Waits for the process to end by itself.
    bool waitForExit(int timeoutMs);

    bool isRunning() const;
    qint64 pid() const;
    int exitCode() const;
    QProcess::ExitStatus exitStatus() const;

    // Sends a POSIX signal (SIGHUP to reload, ...); false where unsupported or not running.
    bool sendSignal(int signal);
    // SIGTERM, wait up to graceMs, then SIGKILL. Idempotent.
    void stop(int graceMs = 5000);

    // Command line plus captured output, for failure messages: EXPECT_TRUE(ok) << proc.describe();
    QString describe() const;

private:
    void drain() const;

    QString m_program;
    QStringList m_arguments;
    std::unique_ptr<QProcess> m_process;
    mutable QByteArray m_stdout;
    mutable QByteArray m_stderr;
    mutable QByteArray m_combined;
    QString m_error;
};

} // namespace dfproxy::test
