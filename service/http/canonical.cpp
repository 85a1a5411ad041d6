// SPDX-License-Identifier: Apache-2.0
#include "http/canonical.h"

#include <QHostAddress>
#include <QUrl>

namespace dfproxy::http {

namespace {

int hexValue(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool isUnreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
        || c == '_' || c == '~';
}

/// Bytes that may appear literally in a path: visible ASCII but `#` (a fragment never reaches a server).
bool isPathByte(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '#';
}

/// Visible ASCII that RFC 3986 does not allow unescaped in a path or query (`"<>[]^`{|}`; `\` is handled on its
/// own). Clients send them anyway; they are escaped in the canonical form, as every URL library (and QNAM, which
/// forwards for the second engine) writes them.
bool mustBeEscaped(unsigned char c)
{
    switch (c) {
    case '"': case '<': case '>': case '[': case ']': case '^': case '`': case '{': case '|': case '}':
        return true;
    default:
        return false;
    }
}

void appendEscape(QByteArray &out, unsigned char c)
{
    static constexpr char kHex[] = "0123456789ABCDEF";
    out.append('%').append(kHex[c >> 4]).append(kHex[c & 0xf]);
}

void setError(CanonicalError *error, const char *reason, const QByteArray &detail)
{
    if (error) {
        error->reason = reason;
        error->detail = detail;
    }
}

/// Step 1: escapes decoded or normalised, escaped and raw backslashes handled per `mode`.
bool decodePath(const QByteArray &in, PathOptions::EscapedSlashes mode, QByteArray *out, CanonicalError *error)
{
    using Mode = PathOptions::EscapedSlashes;
    out->reserve(in.size());
    const char *d = in.constData();
    const qsizetype n = in.size();
    for (qsizetype i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(d[i]);
        if (c == '\\') {
            if (mode == Mode::Reject) {
                setError(error, "escaped_slash_in_path", "a backslash in the path is refused");
                return false;
            }
            out->append(mode == Mode::Unescape ? '/' : '\\');
            continue;
        }
        if (c != '%') {
            if (mustBeEscaped(c))
                appendEscape(*out, c);
            else
                out->append(char(c));
            continue;
        }
        const int hi = i + 2 < n ? hexValue(d[i + 1]) : -1;
        const int lo = i + 2 < n ? hexValue(d[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            setError(error, "invalid_path_encoding", "a '%' in the path is not followed by two hex digits");
            return false;
        }
        const auto v = static_cast<unsigned char>(hi * 16 + lo);
        i += 2;
        if (isUnreserved(v)) {
            out->append(char(v));
        } else if (v == '/' || v == '\\') {
            if (mode == Mode::Reject) {
                setError(error, "escaped_slash_in_path", "an escaped slash (%2F or %5C) in the path is refused");
                return false;
            }
            if (mode == Mode::Unescape)
                out->append('/');
            else
                appendEscape(*out, v);
        } else {
            appendEscape(*out, v);
        }
    }
    return true;
}

/// Steps 2 and 3: duplicate slashes merged (if asked), then RFC 3986 5.2.4's dot-segment removal, segment by segment.
QByteArray removeDotSegments(const QByteArray &path, bool mergeSlashes)
{
    QByteArray out;
    out.reserve(path.size());
    qsizetype at = 1; // path[0] == '/'
    const qsizetype n = path.size();
    while (at <= n) {
        qsizetype end = path.indexOf('/', at);
        const bool last = end < 0;
        if (last)
            end = n;
        const QByteArrayView seg(path.constData() + at, end - at);
        if (seg == ".." || seg == ".") {
            if (seg == "..") {
                const qsizetype slash = out.lastIndexOf('/');
                out.truncate(slash < 0 ? 0 : slash);
            }
            if (last)
                out.append('/');
        } else if (seg.isEmpty() && mergeSlashes && !last) {
            // `//`: the empty segment is dropped
        } else {
            out.append('/').append(seg.data(), seg.size());
        }
        at = end + 1;
    }
    if (out.isEmpty())
        out = "/";
    return out;
}

/// Already the standard spelling of an IPv4 address: four decimal parts 0-255 without leading zeros.
bool isDottedQuad(QByteArrayView h)
{
    int parts = 0;
    int value = 0;
    int digits = 0;
    for (qsizetype i = 0; i <= h.size(); ++i) {
        const char c = i < h.size() ? h[i] : '.';
        if (c == '.') {
            if (digits == 0 || ++parts > 4)
                return false;
            value = digits = 0;
        } else if (c >= '0' && c <= '9') {
            if (digits > 0 && value == 0)
                return false; // a leading zero: octal to inet_aton
            value = value * 10 + (c - '0');
            if (++digits > 3 || value > 255)
                return false;
        } else {
            return false;
        }
    }
    return parts == 4;
}

} // namespace

bool parseEscapedSlashes(const QString &text, PathOptions::EscapedSlashes *out)
{
    using Mode = PathOptions::EscapedSlashes;
    if (text == QLatin1String("reject"))
        *out = Mode::Reject;
    else if (text == QLatin1String("keep"))
        *out = Mode::Keep;
    else if (text == QLatin1String("unescape"))
        *out = Mode::Unescape;
    else
        return false;
    return true;
}

bool canonicalPath(const QByteArray &in, const PathOptions &options, QByteArray *out, CanonicalError *error)
{
    const char *d = in.constData();
    const qsizetype n = in.size();
    if (n == 0 || d[0] != '/') {
        setError(error, "invalid_path", "the path does not start with '/'");
        return false;
    }
    // One scan decides whether anything can change; most paths go out as they came, without a copy.
    bool work = false;
    for (qsizetype i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(d[i]);
        if (!isPathByte(c)) {
            setError(error, "invalid_path", "the path has a byte that is not allowed in a URI path");
            return false;
        }
        if (c == '%' || c == '\\' || mustBeEscaped(c)
            || (c == '/' && i + 1 < n && (d[i + 1] == '.' || (d[i + 1] == '/' && options.mergeSlashes))))
            work = true;
    }
    if (!work) {
        *out = in;
        return true;
    }
    QByteArray decoded;
    if (!decodePath(in, options.escapedSlashes, &decoded, error))
        return false;
    QByteArray result = removeDotSegments(decoded, options.mergeSlashes);
    *out = result == in ? in : std::move(result);
    return true;
}

bool canonicalQuery(const QByteArray &in, QByteArray *out, CanonicalError *error)
{
    bool work = false;
    for (char ch : in) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c >= 0x7f || c == '#') {
            setError(error, "invalid_query", "the query has a byte that is not allowed in a URI");
            return false;
        }
        work = work || c == '%' || mustBeEscaped(c) || c == '\\';
    }
    if (!work) {
        *out = in;
        return true;
    }
    QByteArray result;
    result.reserve(in.size() + 8);
    const char *d = in.constData();
    const qsizetype n = in.size();
    for (qsizetype i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(d[i]);
        if (c != '%') {
            if (mustBeEscaped(c) || c == '\\')
                appendEscape(result, c);
            else
                result.append(char(c));
            continue;
        }
        const int hi = i + 2 < n ? hexValue(d[i + 1]) : -1;
        const int lo = i + 2 < n ? hexValue(d[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            setError(error, "invalid_query_encoding", "a '%' in the query is not followed by two hex digits");
            return false;
        }
        const auto v = static_cast<unsigned char>(hi * 16 + lo);
        i += 2;
        if (isUnreserved(v))
            result.append(char(v));
        else
            appendEscape(result, v);
    }
    *out = result == in ? in : std::move(result);
    return true;
}

bool canonicalHost(const QByteArray &in, QByteArray *out)
{
    if (in.isEmpty() || in.size() > 255)
        return false;
    if (in.contains(':')) {
        QHostAddress a;
        if (!a.setAddress(QString::fromLatin1(in)) || a.protocol() != QAbstractSocket::IPv6Protocol
            || !a.scopeId().isEmpty())
            return false;
        const QByteArray text = a.toString().toLatin1();
        *out = text == in ? in : text;
        return true;
    }
    // One pass: characters, case, labels (none empty, none over 63 bytes), whether it could be an IPv4 literal.
    const char *d = in.constData();
    qsizetype n = in.size();
    if (n > 1 && d[n - 1] == '.')
        --n; // one trailing dot: the same name
    bool upper = false;
    bool ipLike = true; // only what inet_aton could read: digits, hex letters, 'x' and dots
    qsizetype label = 0;
    for (qsizetype i = 0; i < n; ++i) {
        const char c = d[i];
        if (c == '.') {
            if (label == 0)
                return false; // leading dot or ".."
            label = 0;
            continue;
        }
        if (++label > 63)
            return false;
        if (c >= 'a' && c <= 'z') {
            ipLike = ipLike && (c <= 'f' || c == 'x');
        } else if (c >= 'A' && c <= 'Z') {
            upper = true;
            ipLike = ipLike && (c <= 'F' || c == 'X');
        } else if (c >= '0' && c <= '9') {
        } else if (c == '-' || c == '_') {
            ipLike = false;
        } else {
            return false;
        }
    }
    if (label == 0)
        return false; // empty, or ending in ".." / a lone "."
    QByteArray h = n == in.size() ? in : in.first(n);
    if (upper)
        h = h.toLower();
    if (ipLike && !isDottedQuad(h)) {
        // The DNS cache reads such a host as an address (QHostAddress, inet_aton's forms): so does the canonical form.
        QHostAddress a;
        if (a.setAddress(QString::fromLatin1(h)) && a.protocol() == QAbstractSocket::IPv4Protocol)
            h = a.toString().toLatin1();
    }
    *out = h; // shares `in` when nothing changed
    return true;
}

QString canonicalConfiguredHost(const QString &host)
{
    if (host.isEmpty() || host == QLatin1String("*"))
        return host;
    const bool wildcard = host.startsWith(QLatin1String("*."));
    const QString name = wildcard ? host.mid(2) : host;
    QByteArray ascii;
    bool isAscii = true;
    for (QChar c : name)
        isAscii = isAscii && c.unicode() < 0x80;
    if (isAscii) {
        ascii = name.toLatin1();
    } else {
        QString trimmed = name;
        if (trimmed.endsWith(QLatin1Char('.')))
            trimmed.chop(1);
        ascii = QUrl::toAce(trimmed);
        if (ascii.isEmpty())
            return host;
    }
    const bool bracketed = ascii.startsWith('[') && ascii.endsWith(']');
    if (bracketed)
        ascii = ascii.mid(1, ascii.size() - 2);
    QByteArray canonical;
    if (!canonicalHost(ascii, &canonical))
        return host.toLower();
    return (wildcard ? QStringLiteral("*.") : QString()) + QString::fromLatin1(canonical);
}

QString canonicalConfiguredPath(const QString &path)
{
    if (!path.startsWith(QLatin1Char('/')))
        return path;
    // Bytes a request could only send escaped are escaped first, so a rule written with a raw 'é' or space matches.
    const QByteArray utf8 = path.toUtf8();
    QByteArray escaped;
    escaped.reserve(utf8.size());
    for (char ch : utf8) {
        const auto c = static_cast<unsigned char>(ch);
        if (isPathByte(c))
            escaped.append(char(c));
        else
            appendEscape(escaped, c);
    }
    PathOptions keep;
    keep.escapedSlashes = PathOptions::EscapedSlashes::Keep;
    QByteArray out;
    if (!canonicalPath(escaped, keep, &out, nullptr))
        return path;
    return QString::fromUtf8(out);
}

} // namespace dfproxy::http
