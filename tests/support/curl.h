// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QList>
#include <QMultiMap>
#include <QPair>
#include <QString>
#include <QStringList>

namespace dfproxy::test {

struct CurlResult
{
    int exitCode = -1;     // curl's exit code (0 = transfer done; 7 = could not connect, 28 = timeout, ...)
    bool timedOut = false; // we killed curl after timeoutMs
    int status = 0;        // HTTP status of the last response (%{http_code}); 0 if none
    QMultiMap<QString, QString> headers;       // last response's headers, lower-case names
    QList<QPair<QString, QString>> headerList; // the same, in order received
    QByteArray rawHeaders;                     // everything curl dumped with -D (CONNECT, 100, redirects)
    QByteArray body;
    QString stderrText;

    // All values of a header of the last response, joined with ", "; empty if absent. name is case-insensitive.
    QString header(const QString &name) const;
    bool hasHeader(const QString &name) const;
    // For failure messages.
    QString describe() const;
};

// Runs /usr/bin/curl -q -sS -o <tmp> -D <tmp> -w '%{http_code}' <args>, spinning the event loop meanwhile (so
// servers in the test process keep serving). Proxy variables of the environment are removed and ~/.curlrc is
// ignored. Tests must pass IP addresses, --resolve or a proxy: never rely on the machine's resolver.
CurlResult curl(const QStringList &args, int timeoutMs = 30000);

} // namespace dfproxy::test
