// SPDX-License-Identifier: Apache-2.0
#include "http/responserules.h"

#include <array>
#include <string_view>

#include <limits>

namespace dfproxy::http {

namespace {

QByteArrayView trimOws(QByteArrayView v)
{
    while (!v.isEmpty() && (v.front() == ' ' || v.front() == '\t'))
        v = v.sliced(1);
    while (!v.isEmpty() && (v.back() == ' ' || v.back() == '\t'))
        v.chop(1);
    return v;
}

/// A Content-Length member: 1*DIGIT within qint64, else -1.
qint64 parseLength(QByteArrayView v)
{
    if (v.isEmpty())
        return -1;
    qint64 n = 0;
    for (char c : v) {
        if (c < '0' || c > '9')
            return -1;
        const int d = c - '0';
        if (n > (std::numeric_limits<qint64>::max() - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    return n;
}

/// Folds one Content-Length field value (possibly a list) into `length`; returns a reason on failure.
const char *addLengths(QByteArrayView value, qint64 *length)
{
    // Every member is checked, so "5, x" is invalid even though its first member agrees.
    const char *reason = nullptr;
    for (;;) {
        const qsizetype comma = value.indexOf(',');
        const qint64 n = parseLength(trimOws(comma < 0 ? value : value.first(comma)));
        if (n < 0)
            return "invalid_content_length";
        if (*length >= 0 && n != *length)
            reason = "duplicate_content_length";
        *length = n;
        if (comma < 0)
            return reason;
        value = value.sliced(comma + 1);
    }
}

} // namespace

ResponseCheck checkResponseHeaders(const HeaderList &headers)
{
    ResponseCheck r;
    bool sawLength = false;
    const char *lengthReason = nullptr;
    for (const auto &h : headers) {
        if (!isValidHeaderName(h.first)) {
            r.reason = QByteArrayLiteral("invalid_header_name");
            return r;
        }
        if (!isValidHeaderValue(h.second)) {
            r.reason = QByteArrayLiteral("invalid_header_value");
            return r;
        }
        if (equalsIgnoreCase(h.first, "content-length")) {
            sawLength = true;
            // An invalid member outranks a conflict: remember the first invalid one, else the first conflict.
            const char *reason = addLengths(h.second, &r.contentLength);
            if (reason && (!lengthReason || qstrcmp(reason, "invalid_content_length") == 0))
                lengthReason = reason;
        } else if (equalsIgnoreCase(h.first, "transfer-encoding")) {
            r.chunked = true;
        }
    }
    if (lengthReason) {
        r.reason = QByteArray(lengthReason);
    } else if (sawLength && r.chunked) {
        r.reason = QByteArrayLiteral("content_length_with_transfer_encoding");
    }
    if (!r.ok() || r.chunked)
        r.contentLength = -1;
    return r;
}

QByteArray checkResponseStatus(int status, QByteArrayView reasonPhrase)
{
    if (status < 100 || status > 999)
        return QByteArrayLiteral("invalid_status");
    if (!isValidHeaderValue(reasonPhrase)) // the same bytes as a field value: HTAB, SP, VCHAR, obs-text
        return QByteArrayLiteral("invalid_reason_phrase");
    return {};
}

bool isForbiddenTrailer(QByteArrayView name)
{
    // A client (or a cache, or the next proxy) that took one of these from a trailer could be made to re-frame the
    // message, route, authorize or cache it differently after the body was checked: dropped, and counted.
    static constexpr std::array<std::string_view, 22> kForbidden = {
        "authorization",      "cache-control",       "connection",       "content-encoding", "content-length",
        "content-range",      "content-type",        "expect",           "host",             "keep-alive",
        "max-forwards",       "pragma",              "proxy-authenticate", "proxy-authorization",
        "proxy-connection",   "range",               "realm",            "te",               "trailer",
        "transfer-encoding",  "www-authenticate",    "upgrade",
    };
    if (name.startsWith(':') || (name.size() >= 3 && name.first(3).compare("if-", Qt::CaseInsensitive) == 0))
        return true;
    for (const std::string_view f : kForbidden) {
        if (name.compare(QByteArrayView(f.data(), qsizetype(f.size())), Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

} // namespace dfproxy::http
