// SPDX-License-Identifier: Apache-2.0
#include "traffic/loggedrequest.h"

#include "widgets/jsonutil.h"

namespace dfproxy::gui {

namespace {

int defaultPort(const QString &scheme)
{
    return scheme == QLatin1String("https") ? 443 : 80;
}

// "h", "h:1", "[::1]", "[::1]:1" -> host (no brackets) and port (0 when none).
void splitAuthority(const QString &authority, QString *host, int *port)
{
    *port = 0;
    QString portText;
    if (authority.startsWith(u'[')) {
        const qsizetype close = authority.indexOf(u']');
        *host = authority.mid(1, close - 1);
        if (close > 0 && authority.mid(close + 1).startsWith(u':'))
            portText = authority.mid(close + 2);
    } else if (authority.count(u':') == 1) {
        *host = authority.section(u':', 0, 0);
        portText = authority.section(u':', 1);
    } else {
        *host = authority;
    }
    if (!portText.isEmpty())
        *port = portText.toInt();
}

QString bracketed(const QString &host)
{
    return host.contains(u':') ? u'[' + host + u']' : host;
}

} // namespace

QString shellQuote(const QString &s)
{
    QString q = s;
    q.replace(u'\'', QStringLiteral("'\\''"));
    return u'\'' + q + u'\'';
}

LoggedRequest LoggedRequest::fromRecord(const QJsonObject &r)
{
    LoggedRequest q;
    q.method = jsonText(r.value("method")).toUpper();
    const QString path = jsonText(firstOf(r, {"path", "target", "uri"}));
    const int recordPort = r.value("port").toInt(0);
    splitAuthority(jsonText(firstOf(r, {"host", "authority"})), &q.host, &q.port);
    if (recordPort > 0)
        q.port = recordPort;

    const bool absolute = path.startsWith(QLatin1String("http://")) || path.startsWith(QLatin1String("https://"));
    if (q.method == QLatin1String("CONNECT") || (r.value("tunnel").toBool() && !absolute && !path.startsWith(u'/'))) {
        q.form = Form::Connect;
        q.scheme = QStringLiteral("https");
        if (!path.isEmpty())
            splitAuthority(path, &q.host, &q.port);
        if (q.port <= 0)
            q.port = 443;
        q.target = q.hostAndPort();
        return q;
    }
    if (absolute) {
        q.form = Form::Absolute;
        q.scheme = path.section(QStringLiteral("://"), 0, 0);
        const qsizetype start = q.scheme.size() + 3;
        qsizetype end = start;
        while (end < path.size() && path[end] != u'/' && path[end] != u'?')
            ++end;
        splitAuthority(path.mid(start, end - start), &q.host, &q.port);
        q.target = path.mid(end);
        if (q.target.isEmpty() || q.target.startsWith(u'?'))
            q.target.prepend(u'/');
        return q;
    }
    q.form = Form::Origin;
    q.scheme = QStringLiteral("http");
    q.target = path.isEmpty() ? QStringLiteral("/") : path;
    // Once routed, the record holds the port the request went to even when its Host header named none: the
    // scheme's default says nothing the Host header did not.
    if (q.port == defaultPort(q.scheme))
        q.port = 0;
    return q;
}

QString LoggedRequest::authority() const
{
    if (form == Form::Connect)
        return hostAndPort();
    return port > 0 ? hostAndPort() : bracketed(host);
}

QString LoggedRequest::hostAndPort() const
{
    return port > 0 ? QStringLiteral("%1:%2").arg(bracketed(host)).arg(port) : bracketed(host);
}

QString LoggedRequest::url() const
{
    if (form == Form::Connect)
        return hostAndPort();
    return QStringLiteral("%1://%2%3").arg(scheme, authority(), target);
}

QString LoggedRequest::rawRequest() const
{
    const QString requestTarget = form == Form::Origin ? target : url();
    return QStringLiteral("%1 %2 HTTP/1.1\r\nHost: %3\r\n\r\n").arg(method, requestTarget, authority());
}

QString LoggedRequest::curlCommand(const QString &listenerUrl) const
{
    QStringList args{QStringLiteral("curl"), QStringLiteral("-v")};
    if (form == Form::Connect) {
        // A tunnel usually carries TLS: curl tunnels the same way (-p) and its CONNECT names host:port as logged.
        if (!listenerUrl.isEmpty())
            args << QStringLiteral("-x") << shellQuote(listenerUrl);
        args << QStringLiteral("-p") << shellQuote(QStringLiteral("https://%1/").arg(hostAndPort()));
        return args.join(u' ');
    }
    if (method == QLatin1String("HEAD"))
        args << QStringLiteral("-I");
    else if (!method.isEmpty() && method != QLatin1String("GET"))
        args << QStringLiteral("-X") << method;
    if (listenerUrl.isEmpty()) {
        args << shellQuote(url());
    } else if (form == Form::Origin) {
        args << QStringLiteral("-H") << shellQuote(QStringLiteral("Host: ") + authority())
             << shellQuote(listenerUrl + target);
    } else if (scheme == QLatin1String("http")) {
        args << QStringLiteral("-x") << shellQuote(listenerUrl) << shellQuote(url());
    } else {
        // curl would tunnel an https:// URL through a proxy; the logged request was absolute-form, so send that.
        args << QStringLiteral("--request-target") << shellQuote(url()) << QStringLiteral("-H")
             << shellQuote(QStringLiteral("Host: ") + authority()) << shellQuote(listenerUrl + u'/');
    }
    return args.join(u' ');
}

} // namespace dfproxy::gui
