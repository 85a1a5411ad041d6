// SPDX-License-Identifier: Apache-2.0
#include "proxy/canonicalrequest.h"

#include "http/httpheaders.h"

namespace dfproxy::proxy {

namespace {

/// "http://" or "https://" in any case; returns the length of the prefix, 0 when it is neither.
qsizetype schemePrefix(const QByteArray &target, bool *https)
{
    const auto startsWithNoCase = [&](QByteArrayView prefix) {
        return target.size() >= prefix.size() && QByteArrayView(target).first(prefix.size()).compare(prefix, Qt::CaseInsensitive) == 0;
    };
    if (startsWithNoCase("http://")) {
        *https = false;
        return 7;
    }
    if (startsWithNoCase("https://")) {
        *https = true;
        return 8;
    }
    return 0;
}

StageReply reply(const char *reason, const QByteArray &body)
{
    return StageReply{400, reason, body + '\n'};
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

std::optional<StageReply> canonicalizeRequest(const http::MessageHead &h, bool tlsClient,
                                              const http::PathOptions &paths, CanonicalRequest *out)
{
    *out = CanonicalRequest();
    QByteArrayView authority;
    QByteArray pathAndQuery;
    bool https = false;
    if (h.isConnect()) {
        out->form = CanonicalRequest::Form::Authority;
        authority = h.target;
    } else if (const qsizetype prefix = schemePrefix(h.target, &https); prefix > 0) {
        out->form = CanonicalRequest::Form::Absolute;
        out->httpsScheme = https;
        out->secureScheme = https;
        qsizetype end = prefix;
        while (end < h.target.size() && h.target.at(end) != '/' && h.target.at(end) != '?' && h.target.at(end) != '#')
            ++end;
        authority = QByteArrayView(h.target).sliced(prefix, end - prefix);
        if (authority.contains('@'))
            return reply("invalid_uri", "userinfo is not allowed in the request target");
        // An empty path before a query is the root (RFC 9112 3.2.2: http://host?q asks for /?q).
        pathAndQuery = end < h.target.size() ? h.target.mid(end) : QByteArray("/");
        if (pathAndQuery.startsWith('?'))
            pathAndQuery.prepend('/');
    } else if (h.target.startsWith('/') || h.target == "*") {
        out->form = h.target == "*" ? CanonicalRequest::Form::Asterisk : CanonicalRequest::Form::Origin;
        const QByteArray *host = http::findHeader(h.headers, "host");
        if (!host)
            return reply("missing_host", "the request has no Host header");
        authority = *host;
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
    const bool v6 = out->host.contains(':');
    out->authority = v6 ? '[' + out->host + ']' : out->host;
    if (out->port >= 0)
        out->authority.append(':').append(QByteArray::number(out->port));

    if (out->form == CanonicalRequest::Form::Authority)
        return std::nullopt;
    if (out->form == CanonicalRequest::Form::Asterisk) {
        out->path = "*";
        return std::nullopt;
    }
    if (pathAndQuery.contains('#'))
        return reply("invalid_uri", "a fragment is not allowed in the request target");
    const qsizetype q = pathAndQuery.indexOf('?');
    // The target itself when it has no query: shared, not copied (the usual origin-form request).
    const QByteArray rawPath = q < 0 ? pathAndQuery : pathAndQuery.first(q);
    http::CanonicalError error;
    if (q >= 0) {
        out->hasQuery = true;
        if (!http::canonicalQuery(pathAndQuery.sliced(q + 1), &out->query, &error))
            return StageReply{400, error.reason, error.detail + '\n'};
    }
    if (!http::canonicalPath(rawPath, paths, &out->path, &error))
        return StageReply{400, error.reason, error.detail + '\n'};
    return std::nullopt;
}

} // namespace dfproxy::proxy
