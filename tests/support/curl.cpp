// SPDX-License-Identifier: Apache-2.0
#include "support/curl.h"

#include "support/tempdir.h"
#include "support/wait.h"

#include <QProcess>
#include <QProcessEnvironment>

namespace dfproxy::test {

QString CurlResult::header(const QString &name) const
{
    const QString lower = name.toLower();
    QStringList values;
    for (const auto &h : headerList) {
        if (h.first == lower)
            values << h.second;
    }
    return values.join(QStringLiteral(", "));
}

bool CurlResult::hasHeader(const QString &name) const
{
    return headers.contains(name.toLower());
}

QString CurlResult::describe() const
{
    return QStringLiteral("curl exit %1%2, status %3\n--- headers ---\n%4--- body (first 2000 bytes) ---\n%5\n"
                          "--- stderr ---\n%6")
        .arg(exitCode)
        .arg(timedOut ? QStringLiteral(" (timed out)") : QString())
        .arg(status)
        .arg(QString::fromLatin1(rawHeaders), QString::fromUtf8(body.left(2000)), stderrText);
}

namespace {

// The last header block in a -D dump (after CONNECT answers, 1xx and redirects).
void parseHeaders(CurlResult &result)
{
    const QList<QByteArray> lines = result.rawHeaders.split('\n');
    QList<QPair<QString, QString>> current;
    for (QByteArray line : lines) {
        if (line.endsWith('\r'))
            line.chop(1);
        if (line.startsWith("HTTP/")) {
            current.clear();
            continue;
        }
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0)
            continue;
        current.append({QString::fromLatin1(line.left(colon)).trimmed().toLower(),
                        QString::fromLatin1(line.mid(colon + 1)).trimmed()});
    }
    result.headerList = current;
    for (const auto &h : current)
        result.headers.insert(h.first, h.second);
}

} // namespace

CurlResult curl(const QStringList &args, int timeoutMs)
{
    CurlResult result;
    TempDir dir;
    const QString bodyFile = dir.filePath(QStringLiteral("body"));
    const QString headerFile = dir.filePath(QStringLiteral("headers"));

    QStringList all{
        QStringLiteral("-q"), QStringLiteral("-sS"), QStringLiteral("-o"),          bodyFile, QStringLiteral("-D"),
        headerFile,           QStringLiteral("-w"),  QStringLiteral("%{http_code}")};
    all << args;

    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const char *name : {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                             "no_proxy", "NO_PROXY", "CURL_HOME"})
        env.remove(QString::fromLatin1(name));

    QProcess process;
    process.setProcessEnvironment(env);
    process.start(QStringLiteral("/usr/bin/curl"), all);
    if (!process.waitForStarted(10000)) {
        result.stderrText = QStringLiteral("cannot start /usr/bin/curl: ") + process.errorString();
        return result;
    }
    if (!waitUntil([&] { return process.state() == QProcess::NotRunning; }, timeoutMs)) {
        result.timedOut = true;
        process.kill();
        process.waitForFinished(5000);
    }
    result.stderrText = QString::fromUtf8(process.readAllStandardError());
    if (!result.timedOut && process.exitStatus() == QProcess::NormalExit)
        result.exitCode = process.exitCode();
    result.status = QString::fromLatin1(process.readAllStandardOutput()).trimmed().toInt();
    result.body = dir.readFile(QStringLiteral("body"));
    result.rawHeaders = dir.readFile(QStringLiteral("headers"));
    parseHeaders(result);
    return result;
}

} // namespace dfproxy::test
