// SPDX-License-Identifier: Apache-2.0
#include "http/httpheaders.h"

#include "base/bytes.h"

#include <array>
#include <string_view>


#include <cstring>

namespace dfproxy::http {

namespace {
inline char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? char(c + 32) : c;
}
inline bool isWs(char c)
{
    return c == ' ' || c == '\t';
}
QByteArrayView trimmed(QByteArrayView v)
{
    while (!v.isEmpty() && isWs(v.front()))
        v = v.sliced(1);
    while (!v.isEmpty() && isWs(v.back()))
        v.chop(1);
    return v;
}
} // namespace

bool equalsIgnoreCaseSameSize(const char *a, const char *b, qsizetype size)
{
    for (qsizetype i = 0; i < size; ++i) {
        if (a[i] != b[i] && lower(a[i]) != lower(b[i]))
            return false;
    }
    return true;
}

const QByteArray *findHeader(const HeaderList &headers, QByteArrayView name)
{
    for (const auto &h : headers) {
        if (equalsIgnoreCase(h.first, name))
            return &h.second;
    }
    return nullptr;
}

int countHeader(const HeaderList &headers, QByteArrayView name)
{
    int n = 0;
    for (const auto &h : headers)
        n += equalsIgnoreCase(h.first, name) ? 1 : 0;
    return n;
}

int removeHeader(HeaderList &headers, QByteArrayView name)
{
    return int(headers.removeIf([name](const auto &h) { return equalsIgnoreCase(h.first, name); }));
}

void setHeader(HeaderList &headers, const QByteArray &name, const QByteArray &value)
{
    qsizetype first = -1;
    for (qsizetype i = 0; i < headers.size();) {
        if (equalsIgnoreCase(headers[i].first, name)) {
            if (first < 0) {
                first = i;
                headers[i].second = value;
                ++i;
            } else {
                headers.removeAt(i);
            }
        } else {
            ++i;
        }
    }
    if (first < 0)
        headers.append({name, value});
}

bool isValidHeaderName(QByteArrayView name)
{
    static const auto tchar = [] {
        std::array<bool, 256> t{};
        for (int c = '0'; c <= '9'; ++c)
            t[c] = true;
        for (int c = 'a'; c <= 'z'; ++c)
            t[c] = t[c - 32] = true;
        for (char c : std::string_view("!#$%&'*+-.^_`|~"))
            t[static_cast<unsigned char>(c)] = true;
        return t;
    }();
    if (name.isEmpty())
        return false;
    for (char c : name) {
        if (!tchar[static_cast<unsigned char>(c)])
            return false;
    }
    return true;
}

bool isValidHeaderValue(QByteArrayView value)
{
    const char *p = value.data();
    qsizetype n = value.size();
    // Eight bytes at a time while no byte is a control character (a tab sends the rest to the byte loop).
    while (n >= 8) {
        const quint64 w = loadWord(p);
        if (anyByteBelow(w, 0x20) || anyByteEquals(w, 0x7f))
            break;
        p += 8;
        n -= 8;
    }
    for (; n > 0; ++p, --n) {
        const auto u = static_cast<unsigned char>(*p);
        if ((u < 0x20 && u != '\t') || u == 0x7f)
            return false;
    }
    return true;
}

bool tokenListContains(QByteArrayView list, QByteArrayView token)
{
    while (!list.isEmpty()) {
        const qsizetype comma = list.indexOf(',');
        const QByteArrayView item = trimmed(comma < 0 ? list : list.first(comma));
        if (equalsIgnoreCase(item, token))
            return true;
        if (comma < 0)
            break;
        list = list.sliced(comma + 1);
    }
    return false;
}

bool headerHasToken(const HeaderList &headers, QByteArrayView name, QByteArrayView token)
{
    for (const auto &h : headers) {
        if (equalsIgnoreCase(h.first, name) && tokenListContains(h.second, token))
            return true;
    }
    return false;
}

HopByHopFilter::HopByHopFilter(const HeaderList &headers, bool keepUpgrade) : m_keepUpgrade(keepUpgrade)
{
    // Names listed in Connection are hop-by-hop too (rarely more than one or two).
    for (const auto &h : headers) {
        if (!equalsIgnoreCase(h.first, "connection"))
            continue;
        QByteArrayView list(h.second);
        while (!list.isEmpty()) {
            const qsizetype comma = list.indexOf(',');
            const QByteArrayView item = trimmed(comma < 0 ? list : list.first(comma));
            if (!item.isEmpty())
                m_named.append(item);
            if (comma < 0)
                break;
            list = list.sliced(comma + 1);
        }
    }
}

bool HopByHopFilter::drops(QByteArrayView n) const
{
    switch (lower(n.isEmpty() ? '\0' : n[0])) {
    case 'c':
        if (equalsIgnoreCase(n, "connection") || equalsIgnoreCase(n, "content-length"))
            return true;
        break;
    case 'k':
        if (equalsIgnoreCase(n, "keep-alive"))
            return true;
        break;
    case 'p':
        if (equalsIgnoreCase(n, "proxy-connection") || equalsIgnoreCase(n, "proxy-authorization")
            || equalsIgnoreCase(n, "proxy-authenticate"))
            return true;
        break;
    case 't':
        if (equalsIgnoreCase(n, "te") || equalsIgnoreCase(n, "trailer") || equalsIgnoreCase(n, "transfer-encoding"))
            return true;
        break;
    case 'u':
        if (equalsIgnoreCase(n, "upgrade"))
            return !m_keepUpgrade;
        break;
    default:
        break;
    }
    for (QByteArrayView name : m_named) {
        if (equalsIgnoreCase(n, name))
            return !(m_keepUpgrade && equalsIgnoreCase(n, "upgrade"));
    }
    return false;
}

void stripHopByHop(HeaderList &headers, bool keepUpgrade)
{
    // The filter points into the header values: test a copy of the list's (shared, not deep-copied) entries, then
    // remove from the original.
    const HeaderList original = headers;
    const HopByHopFilter filter(original, keepUpgrade);
    headers.removeIf([&](const QPair<QByteArray, QByteArray> &h) { return filter.drops(h.first); });
}

bool splitHostPort(QByteArrayView authority, QByteArray *host, int *port)
{
    *port = -1;
    QByteArrayView h;
    QByteArrayView rest;
    if (authority.startsWith('[')) {
        const qsizetype close = authority.indexOf(']');
        if (close < 0)
            return false;
        h = authority.sliced(1, close - 1);
        rest = authority.sliced(close + 1);
        if (!rest.isEmpty() && rest.front() != ':')
            return false;
    } else {
        const qsizetype colon = authority.lastIndexOf(':');
        if (colon >= 0 && authority.indexOf(':') != colon)
            return false; // unbracketed IPv6 is ambiguous
        h = colon < 0 ? authority : authority.first(colon);
        rest = colon < 0 ? QByteArrayView() : authority.sliced(colon);
    }
    if (h.isEmpty())
        return false;
    for (char c : h) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
            || c == '.' || c == '_' || c == ':' || c == '%';
        if (!ok)
            return false;
    }
    if (!rest.isEmpty()) {
        rest = rest.sliced(1);
        if (rest.isEmpty() || rest.size() > 5)
            return false;
        int p = 0;
        for (char c : rest) {
            if (c < '0' || c > '9')
                return false;
            p = p * 10 + (c - '0');
        }
        if (p < 1 || p > 65535)
            return false;
        *port = p;
    }
    host->resize(h.size());
    char *out = host->data();
    for (qsizetype i = 0; i < h.size(); ++i)
        out[i] = lower(h[i]);
    return true;
}

void appendHeader(QByteArray &out, QByteArrayView name, QByteArrayView value)
{
    char *d = growBy(out, name.size() + value.size() + 4);
    std::memcpy(d, name.data(), size_t(name.size()));
    d += name.size();
    *d++ = ':';
    *d++ = ' ';
    std::memcpy(d, value.data(), size_t(value.size()));
    d += value.size();
    *d++ = '\r';
    *d = '\n';
}

namespace {

qsizetype headersSize(const HeaderList &headers)
{
    qsizetype n = 0;
    for (const auto &h : headers)
        n += h.first.size() + h.second.size() + 4;
    return n;
}

} // namespace

void appendRequestHead(QByteArray &out, QByteArrayView method, QByteArrayView target, const HeaderList &headers)
{
    out.reserve(out.size() + method.size() + target.size() + 12 + headersSize(headers) + 2);
    char *d = growBy(out, method.size() + target.size() + 12);
    std::memcpy(d, method.data(), size_t(method.size()));
    d += method.size();
    *d++ = ' ';
    std::memcpy(d, target.data(), size_t(target.size()));
    d += target.size();
    std::memcpy(d, " HTTP/1.1\r\n", 11);
    for (const auto &h : headers)
        appendHeader(out, h.first, h.second);
}

void appendResponseHead(QByteArray &out, int minorVersion, int status, QByteArrayView reason,
                        const HeaderList &headers)
{
    char line[16] = "HTTP/1.1 000 ";
    line[7] = minorVersion == 0 ? '0' : '1';
    line[9] = char('0' + (status / 100) % 10);
    line[10] = char('0' + (status / 10) % 10);
    line[11] = char('0' + status % 10);
    const QByteArrayView phrase = reason.isEmpty() ? QByteArrayView(reasonPhrase(status)) : reason;
    out.reserve(out.size() + 13 + phrase.size() + 2 + headersSize(headers) + 2);
    char *d = growBy(out, 13 + phrase.size() + 2);
    std::memcpy(d, line, 13);
    std::memcpy(d + 13, phrase.data(), size_t(phrase.size()));
    std::memcpy(d + 13 + phrase.size(), "\r\n", 2);
    for (const auto &h : headers)
        appendHeader(out, h.first, h.second);
}

void appendChunk(QByteArray &out, const char *data, qsizetype size)
{
    if (size <= 0)
        return;
    char hex[20];
    int n = 0;
    quint64 v = quint64(size);
    char tmp[20];
    do {
        tmp[n++] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    } while (v);
    for (int i = 0; i < n; ++i)
        hex[i] = tmp[n - 1 - i];
    out.append(hex, n).append("\r\n", 2).append(data, size).append("\r\n", 2);
}

void appendLastChunk(QByteArray &out)
{
    out.append("0\r\n\r\n", 5);
}

QByteArrayView reasonPhrase(int status)
{
    // The IANA registry's phrases (as libhttp-parser spelled them, which clients and tests have seen so far).
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Required";
    default: return "Unknown";
    }
}

bool isIdempotent(QByteArrayView method)
{
    // By length first: one inline comparison instead of up to six calls into Qt, once per request.
    const auto is = [&method](std::string_view m) { return std::memcmp(method.data(), m.data(), m.size()) == 0; };
    switch (method.size()) {
    case 3: return is("GET") || is("PUT");
    case 4: return is("HEAD");
    case 5: return is("TRACE");
    case 6: return is("DELETE");
    case 7: return is("OPTIONS");
    default: return false;
    }
}

} // namespace dfproxy::http
