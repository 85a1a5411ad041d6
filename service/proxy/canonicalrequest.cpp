// SPDX-License-Identifier: Apache-2.0
#include "proxy/canonicalrequest.h"

#include "http/httpheaders.h"

namespace dfproxy::proxy {

namespace {

/// "http://" or "https://" in any case; returns the length of the prefix, 0 when it is neither.
qsizetype schemePrefix(const QByteArray &target, bool *https, bool *lowerCase)
{
    const char *t = target.constData();
    if (target.size() < 7 || (t[0] | 0x20) != 'h' || (t[1] | 0x20) != 't' || (t[2] | 0x20) != 't'
        || (t[3] | 0x20) != 'p')
        return 0;
    qsizetype at = 4;
    *https = (t[4] | 0x20) == 's';
    if (*https)
        ++at;
    if (target.size() < at + 3 || t[at] != ':' || t[at + 1] != '/' || t[at + 2] != '/')
        return 0;
    *lowerCase = t[0] == 'h' && t[1] == 't' && t[2] == 't' && t[3] == 'p' && (!*https || t[4] == 's');
    return at + 3;
}

LocalReply reply(const char *reason, const QByteArray &body)
{
    return LocalReply{400, reason, body + '\n', {}, {}};
}

} // namespace

QByteArray CanonicalRequest::originTarget() const
{
    if (!hasQuery)
        return path;
    QByteArray t;
    t.reserve(path.size() + 1 + query.size());
    return t.append(path).append('?').append(query);
}

QByteArray CanonicalRequest::logTarget() const
{
    if (!canonicalRawTarget.isNull())
        return canonicalRawTarget;
    switch (form) {
    case Form::Authority:
        return authority;
    case Form::Absolute:
        return (httpsScheme ? QByteArrayLiteral("https://") : QByteArrayLiteral("http://")) + authority + originTarget();
    case Form::Origin:
    case Form::Asterisk:
        break;
    }
    return originTarget();
}

std::optional<LocalReply> canonicalizeRequest(const http::MessageHead &h, bool tlsClient,
                                              const http::PathOptions &paths, CanonicalRequest *out)
{
    *out = CanonicalRequest();
    QByteArrayView authority;
    const QByteArray *authorityBytes = nullptr; // the authority as an array of its own (Host header, CONNECT target)
    QByteArrayView pathAndQuery;
    bool https = false;
    bool lowerScheme = true;
    if (h.isConnect()) {
        out->form = CanonicalRequest::Form::Authority;
        authority = h.target;
        authorityBytes = &h.target;
    } else if (const qsizetype prefix = schemePrefix(h.target, &https, &lowerScheme); prefix > 0) {
        out->form = CanonicalRequest::Form::Absolute;
        out->httpsScheme = https;
        out->secureScheme = https;
        qsizetype end = prefix;
        while (end < h.target.size() && h.target.at(end) != '/' && h.target.at(end) != '?' && h.target.at(end) != '#')
            ++end;
        authority = QByteArrayView(h.target).sliced(prefix, end - prefix);
        if (authority.contains('@'))
            return reply("invalid_uri", "userinfo is not allowed in the request target");
        pathAndQuery = QByteArrayView(h.target).sliced(end);
    } else if (h.target.startsWith('/') || h.target == "*") {
        out->form = h.target == "*" ? CanonicalRequest::Form::Asterisk : CanonicalRequest::Form::Origin;
        const QByteArray *host = http::findHeader(h.headers, "host");
        if (!host)
            return reply("missing_host", "the request has no Host header");
        authority = *host;
        authorityBytes = host;
        pathAndQuery = h.target;
        out->secureScheme = tlsClient;
    } else {
        return reply("invalid_uri", "unsupported request target form");
    }

    QByteArray rawHost;
    if (!http::splitHostPort(authority, &rawHost, &out->port) || !http::canonicalHost(rawHost, &out->host))
        return reply("invalid_host", "invalid host in the request");
    if (h.isConnect() && out->port < 0)
        return reply("invalid_host", "CONNECT needs host:port");
    // The authority as received is kept when it already is canonical (same host bytes, a port without leading
    // zeros, brackets only around IPv6): no copy for the usual request.
    const bool v6 = out->host.contains(':');
    const qsizetype hostStart = v6 ? 1 : 0;
    const qsizetype portDigits = out->port < 0 ? 0 : out->port < 10 ? 1 : out->port < 100 ? 2 : out->port < 1000 ? 3
                                                 : out->port < 10000 ? 4 : 5;
    const qsizetype canonicalSize = hostStart + out->host.size() + (v6 ? 1 : 0) + (out->port < 0 ? 0 : 1 + portDigits);
    const bool authorityCanonical = authority.size() == canonicalSize
        && QByteArrayView(out->host) == authority.sliced(hostStart, out->host.size());
    if (authorityCanonical) {
        out->authority = authorityBytes ? *authorityBytes : authority.toByteArray();
    } else {
        out->authority = v6 ? '[' + out->host + ']' : out->host;
        if (out->port >= 0)
            out->authority.append(':').append(QByteArray::number(out->port));
    }

    if (out->form == CanonicalRequest::Form::Authority)
        return std::nullopt;
    if (out->form == CanonicalRequest::Form::Asterisk) {
        out->path = "*";
        return std::nullopt;
    }
    const qsizetype q = pathAndQuery.indexOf('?');
    const QByteArrayView pathView = q < 0 ? pathAndQuery : pathAndQuery.first(q);
    // The target itself when it is only a path (origin-form without a query, the usual case): shared, not copied.
    QByteArray rawPath;
    if (pathView.data() == h.target.constData() && pathView.size() == h.target.size())
        rawPath = h.target;
    else if (pathView.isEmpty())
        rawPath = QByteArrayLiteral("/"); // http://host?q asks for /?q (RFC 9112 3.2.2)
    else
        rawPath = pathView.toByteArray();
    http::CanonicalError error;
    QByteArray rawQuery;
    if (q >= 0) {
        out->hasQuery = true;
        rawQuery = pathAndQuery.sliced(q + 1).toByteArray();
        if (!http::canonicalQuery(rawQuery, &out->query, &error))
            return LocalReply{400, error.reason, error.detail + '\n', {}, {}};
    }
    if (!http::canonicalPath(rawPath, paths, &out->path, &error))
        return LocalReply{400, error.reason, error.detail + '\n', {}, {}};
    // Unchanged when every part came out as it went in (canonicalPath/-Query share their input then).
    const bool pathSame = out->path.constData() == rawPath.constData() && !pathView.isEmpty();
    const bool querySame = q < 0 || out->query.constData() == rawQuery.constData();
    if (pathSame && querySame && (out->form == CanonicalRequest::Form::Origin || (authorityCanonical && lowerScheme)))
        out->canonicalRawTarget = h.target;
    return std::nullopt;
}

} // namespace dfproxy::proxy
