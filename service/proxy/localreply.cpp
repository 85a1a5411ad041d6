// SPDX-License-Identifier: Apache-2.0
#include "proxy/localreply.h"

#include "http/httpheaders.h"

#include <charconv>

namespace dfproxy::proxy {

void appendLocalReply(QByteArray &out, const LocalReply &reply, int clientMinor, bool keepAlive, bool withBody)
{
    char digits[24];
    const auto decimal = [&digits](qint64 v) {
        return QByteArrayView(digits, std::to_chars(digits, digits + sizeof digits, v).ptr - digits);
    };
    char line[16] = "HTTP/1.1 ";
    line[7] = clientMinor == 0 ? '0' : '1';
    out.append(line, 9).append(decimal(reply.status)).append(' ').append(http::reasonPhrase(reply.status));
    out.append("\r\n", 2);
    if (!reply.location.isEmpty())
        http::appendHeader(out, "Location", reply.location);
    if (!reply.reason.isEmpty())
        http::appendHeader(out, "x-dfproxy-error", reply.reason);
    bool typed = false; // the extra headers may set the Content-Type (a file dfproxy serves itself)
    for (const auto &hdr : reply.headers) {
        if (!http::isValidHeaderName(hdr.first) || !http::isValidHeaderValue(hdr.second))
            continue;
        http::appendHeader(out, hdr.first, hdr.second);
        typed = typed || hdr.first.compare("content-type", Qt::CaseInsensitive) == 0;
    }
    if (!typed)
        http::appendHeader(out, "Content-Type", "text/plain; charset=utf-8");
    // A 304 has no content, and a Content-Length there would have to be the 200's (RFC 9110 8.6).
    if (reply.status != 304)
        http::appendHeader(out, "Content-Length", decimal(reply.body.size()));
    if (!keepAlive)
        http::appendHeader(out, "Connection", "close");
    else if (clientMinor == 0)
        http::appendHeader(out, "Connection", "keep-alive");
    out.append("\r\n", 2);
    if (withBody)
        out.append(reply.body);
}

} // namespace dfproxy::proxy
