// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "support/managedprocess.h"

#include <QHostAddress>
#include <QList>
#include <QString>
#include <QStringList>

#include <memory>

namespace dfproxy::test {

// Runs tests/fixtures/origin (dfproxy-test-origin): an HTTP/1.1 origin on loopback. Endpoints: / (HTML page with
// <title>TITLE</title>), /headers (JSON: "headers" lower-case name -> value, "rawHeaders" as received),
// /echo (JSON: method, target, path, query, headers, body, bodyLength), /bytes/N[?chunked=1] (byte i is
// 'a' + i % 26), /status/N, /delay/MS, /stats (JSON: connectionsAccepted, connectionsOpen, requestsServed — the
// /stats request itself included), /close (answers, then closes), /response-headers?Name=Value.
// Every response carries "X-Origin-Title: TITLE".
class OriginProcess
{
public:
    struct Options
    {
        QStringList listen{QStringLiteral("127.0.0.1:0")}; // ADDR:PORT, port 0 picks one; "[::1]:0" for IPv6
        QString title = QStringLiteral("dfproxy test origin");
        QString tlsCert; // both set: HTTPS
        QString tlsKey;
    };

    OriginProcess();
    explicit OriginProcess(Options options);

    // Starts the origin and waits for its LISTENING lines. False (see errorString()) otherwise.
    bool start(int timeoutMs = 10000);
    QString errorString() const { return m_error; }

    // Listener i (in --listen order).
    QHostAddress address(int i = 0) const { return m_listeners.value(i).first; }
    quint16 port(int i = 0) const { return m_listeners.value(i).second; }
    // "http://127.0.0.1:PORT/path" (https with TLS; IPv6 bracketed).
    QString url(const QString &path = QStringLiteral("/"), int i = 0) const;
    // "127.0.0.1:PORT" / "[::1]:PORT"
    QString authority(int i = 0) const;

    ManagedProcess *process() const { return m_process.get(); }
    QString describe() const { return m_process ? m_process->describe() : m_error; }

private:
    Options m_options;
    std::unique_ptr<ManagedProcess> m_process;
    QList<QPair<QHostAddress, quint16>> m_listeners;
    QString m_error;
};

} // namespace dfproxy::test
