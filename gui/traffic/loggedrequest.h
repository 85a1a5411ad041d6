// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the client sent, as far as an access-log record tells it, and the three ways the console copies it (curl,
// raw HTTP/1.1 request, URL). The proxy logs the canonical target: `path` is path?query for origin-form,
// scheme://authority/path?query for absolute-form and host:port for CONNECT; `host` is the canonical host and
// `port` the target port (0 when the request gave none and it was answered before routing).

#include <QJsonObject>
#include <QString>

namespace dfproxy::gui {

struct LoggedRequest
{
    /// How the request named its target (RFC 9112 3.2): sent to the listener as to a server ("GET /x" with a Host
    /// header), to a proxy ("GET http://host/x") or as a tunnel ("CONNECT host:port").
    enum class Form { Origin, Absolute, Connect };

    Form form = Form::Origin;
    QString method;
    QString scheme;  ///< "http" / "https" (origin-form: "http"; CONNECT: "https", what tunnels usually carry)
    QString host;    ///< no brackets for IPv6
    int port = 0;    ///< 0 = the request named no port
    QString target;  ///< origin-form path?query ("/" at least); CONNECT: the authority

    /// Reads a GET /api/v1/accesslog record; nullopt-like empty method for records that are not requests.
    static LoggedRequest fromRecord(const QJsonObject &record);

    /// host[:port] as the Host header carried it ([..] around IPv6; the port when it is not the scheme's default).
    QString authority() const;
    /// host:port always (the Host column and CONNECT).
    QString hostAndPort() const;
    /// The request's URL (CONNECT: host:port, the tunnel's target).
    QString url() const;
    /// The request as it went on the wire, head only (CR LF line ends, ends with an empty line).
    QString rawRequest() const;
    /// A curl command that sends the same request to the listener at `listenerUrl` ("http://127.0.0.1:8080"):
    /// origin-form straight to it with the Host header, absolute-form and CONNECT through it as a proxy.
    QString curlCommand(const QString &listenerUrl) const;
};

/// Single-quotes `s` for a POSIX shell.
QString shellQuote(const QString &s);

} // namespace dfproxy::gui
