// SPDX-License-Identifier: Apache-2.0
#include "http/httpparser.h"

#include "base/bytes.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <limits>
#include <string_view>

namespace dfproxy::http {

namespace {
/// Header names and values that nearly every message carries, spelled as they usually are. A parsed header that
/// matches one points at this static text instead of allocating (QByteArray::fromRawData).
constexpr std::string_view kCommonNames[] = {"Host",
                                             "Date",
                                             "Server",
                                             "Content-Type",
                                             "Content-Length",
                                             "Connection",
                                             "Last-Modified",
                                             "ETag",
                                             "Accept-Ranges",
                                             "Accept",
                                             "User-Agent",
                                             "Accept-Encoding",
                                             "Accept-Language",
                                             "Cache-Control",
                                             "Transfer-Encoding",
                                             "Content-Encoding",
                                             "Vary",
                                             "Expires",
                                             "Location",
                                             "Keep-Alive",
                                             "Set-Cookie",
                                             "Cookie",
                                             "Authorization",
                                             "Proxy-Authorization",
                                             "X-Forwarded-For",
                                             "Via",
                                             "Upgrade",
                                             "Referer",
                                             "Origin",
                                             "Pragma",
                                             "Age",
                                             "Expect",
                                             "content-type",
                                             "content-length",
                                             "date",
                                             "server",
                                             "host",
                                             "user-agent",
                                             "accept"};
constexpr std::string_view kCommonValues[] = {
    "keep-alive",
    "close",
    "bytes",
    "chunked",
    "*/*",
    "gzip",
    "identity",
    "no-cache",
    "text/plain",
    "text/html",
    "text/plain; charset=utf-8",
    "text/html; charset=utf-8",
    "application/json",
    "application/octet-stream",
    "100-continue",
    "Upgrade",
    "websocket",
    "OK"}; // not a header value: the usual reason phrase (onStatus uses this table too)

/// A table's entries grouped by length, so a lookup compares only the two or three of the right length.
struct ByLength
{
    static constexpr size_t kMaxLen = 31;
    std::array<std::array<std::string_view, 8>, kMaxLen + 1> entries{};
    std::array<quint8, kMaxLen + 1> count{};
    template <size_t N> constexpr explicit ByLength(const std::string_view (&table)[N])
    {
        for (const std::string_view &c : table) {
            if (c.size() <= kMaxLen && count[c.size()] < entries[c.size()].size())
                entries[c.size()][count[c.size()]++] = c;
        }
    }
};
constexpr ByLength kNamesByLength(kCommonNames);
constexpr ByLength kValuesByLength(kCommonValues);

QByteArray common(const ByLength &table, const char *at, size_t len)
{
    if (len <= ByLength::kMaxLen) {
        for (quint8 k = 0; k < table.count[len]; ++k) {
            const std::string_view &c = table.entries[len][k];
            if (std::memcmp(c.data(), at, len) == 0)
                return QByteArray::fromRawData(c.data(), qsizetype(len));
        }
    }
    return QByteArray(at, qsizetype(len));
}

/// Byte classes of RFC 9110 / 9112, one table lookup per byte.
enum CharClass : quint8 {
    kTchar = 1,      ///< token characters (method, field name, coding, chunk-ext name)
    kTargetChar = 2, ///< request-target: visible ASCII (no CTL, SP or bytes >= 0x80)
    kFieldChar = 4,  ///< field-value / reason-phrase: HTAB, SP, VCHAR, obs-text
    kHexDigit = 8,
    kQdtext = 16, ///< quoted-string text: HTAB, SP, VCHAR but '"' and '\\', obs-text
};
constexpr std::array<quint8, 256> kClasses = [] {
    std::array<quint8, 256> t{};
    for (int c = 0x21; c <= 0x7e; ++c)
        t[c] |= kTargetChar | kFieldChar | kQdtext;
    for (int c = 0x80; c <= 0xff; ++c)
        t[c] |= kFieldChar | kQdtext;
    t[' '] |= kFieldChar | kQdtext;
    t['\t'] |= kFieldChar | kQdtext;
    t['"'] &= quint8(~kQdtext);
    t['\\'] &= quint8(~kQdtext);
    for (int c = '0'; c <= '9'; ++c)
        t[c] |= kTchar | kHexDigit;
    for (int c = 'a'; c <= 'z'; ++c)
        t[c] |= kTchar, t[c - 32] |= kTchar;
    for (int c = 'a'; c <= 'f'; ++c)
        t[c] |= kHexDigit, t[c - 32] |= kHexDigit;
    for (char c : std::string_view("!#$%&'*+-.^_`|~"))
        t[static_cast<unsigned char>(c)] |= kTchar;
    return t;
}();

inline bool is(char c, CharClass cls)
{
    return (kClasses[static_cast<unsigned char>(c)] & cls) != 0;
}
inline bool isOws(char c)
{
    return c == ' ' || c == '\t';
}
const char *skipOws(const char *p, const char *end)
{
    while (p < end && isOws(*p))
        ++p;
    return p;
}
const char *skipToken(const char *p, const char *end)
{
    // Four bytes per test while all four are token characters (field names run to a dozen bytes); the byte loop
    // then stops at the first one that is not.
    const auto cls = [](char c) { return kClasses[static_cast<unsigned char>(c)]; };
    while (end - p >= 4 && (cls(p[0]) & cls(p[1]) & cls(p[2]) & cls(p[3]) & kTchar) != 0)
        p += 4;
    while (p < end && is(*p, kTchar))
        ++p;
    return p;
}
/// [p, end) equals `lower` (lower-case letters and '-') in any case. Only for bytes already checked as a token or a
/// field value: OR-ing 0x20 folds 'A'..'Z' onto 'a'..'z', and of those bytes no other folds onto a letter and only
/// '-' itself onto '-' (CR would, and is refused before). Eight bytes at a time: the known names are long.
bool equalsLower(const char *p, const char *end, std::string_view lower)
{
    const size_t n = lower.size();
    if (size_t(end - p) != n)
        return false;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        if ((loadWord(p + i) | (kEveryByte * 0x20)) != loadWord(lower.data() + i))
            return false;
    }
    for (; i < n; ++i) {
        if ((p[i] | 0x20) != lower[i])
            return false;
    }
    return true;
}

/// True when every byte of [p, end) may be in a field value (HTAB, SP, VCHAR, obs-text). Eight bytes at a time
/// while none is a control character (a word with HTAB, another CTL or DEL goes to the byte-by-byte check).
bool allFieldChars(const char *p, const char *end)
{
    while (end - p >= 8) {
        const quint64 w = loadWord(p);
        if (anyByteBelow(w, 0x20) || anyByteEquals(w, 0x7f))
            break;
        p += 8;
    }
    for (; p < end; ++p) {
        if (!is(*p, kFieldChar))
            return false;
    }
    return true;
}

/// True when `before` (a field of the previous message on this connection) holds exactly these bytes: the new
/// message then shares its array instead of allocating one. A keep-alive client sends the same Host, User-Agent
/// and target again and again, an origin the same Server, Date, ETag and Last-Modified; the comparison is exact
/// (case included), so the message reads as received.
bool sameAsBefore(const QByteArray *before, const char *at, qsizetype len)
{
    if (before->size() != len || len == 0)
        return false;
    // Inline, a word at a time: a call to memcmp costs more than these short fields.
    const char *b = before->constData();
    qsizetype i = 0;
    for (; i + 8 <= len; i += 8) {
        if (loadWord(b + i) != loadWord(at + i))
            return false;
    }
    for (; i < len; ++i) {
        if (b[i] != at[i])
            return false;
    }
    return true;
}

/// Methods that point at static text; any other token is copied.
constexpr std::string_view kMethods[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                         "CONNECT", "OPTIONS", "TRACE", "PATCH"};
QByteArray methodOf(const char *at, qsizetype len)
{
    for (const std::string_view &m : kMethods) {
        if (qsizetype(m.size()) == len && std::memcmp(m.data(), at, size_t(len)) == 0)
            return QByteArray::fromRawData(m.data(), len);
    }
    return QByteArray(at, len);
}

/// RFC 9112 3.2: origin-form, asterisk-form or absolute-form (CONNECT's authority-form is the proxy's to check).
bool isTargetForm(const char *t, const char *end)
{
    if (*t == '/' || (end - t == 1 && *t == '*'))
        return true;
    if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z')))
        return false;
    const char *p = t + 1;
    while (p < end && (std::isalnum(static_cast<unsigned char>(*p)) || *p == '+' || *p == '-' || *p == '.'))
        ++p;
    return end - p >= 3 && p[0] == ':' && p[1] == '/' && p[2] == '/';
}
/// Empties a buffer that gathered a split head or line; a large one is freed, so that thousands of idle
/// connections do not each keep the biggest head they ever received.
void releaseBuffer(std::string &buffer)
{
    if (buffer.capacity() > 4096)
        std::string().swap(buffer);
    else
        buffer.clear();
}
} // namespace

void MessageHead::clear()
{
    method = QByteArray();
    // Released, not resized to 0: the previous message's target and reason usually live on in an access-log
    // record or a forwarded request, and resizing a shared array copies it first.
    target = QByteArray();
    status = 0;
    reasonPhrase = QByteArray();
    versionMajor = 1;
    versionMinor = 1;
    headers.clear();
    contentLength = -1;
    chunked = false;
    keepAlive = true;
    upgrade = false;
}

HttpParser::HttpParser(Kind kind, ParserLimits limits) : m_kind(kind), m_limits(limits)
{
    reset();
}

HttpParser::~HttpParser() = default;

void HttpParser::reset()
{
    keepFieldsForReuse(); // a pooled upstream connection is reset before each exchange
    m_head.clear();
    m_error = {};
    endMessage();
}

void HttpParser::keepFieldsForReuse()
{
    // Only what the head still holds: after reset() it holds nothing, and what reset() kept stays.
    if (!m_head.headers.isEmpty()) {
        m_prevHeaders.clear(); // keeps its capacity, which the next message's list then reuses
        m_head.headers.swap(m_prevHeaders);
    }
    if (!m_head.target.isNull())
        m_prevTarget = std::move(m_head.target);
}

void HttpParser::endMessage()
{
    m_phase = Phase::Head;
    m_inMessage = false;
    m_inBody = false;
    m_bodyLeft = 0;
    releaseBuffer(m_headBuf);
    releaseBuffer(m_line);
    m_scanBytes = 0;
    m_scanLine = 0;
    m_scanLineLen = 0;
    m_scanLastChar = 0;
}

void HttpParser::fail(int status, const char *reason)
{
    if (m_error.isError())
        return;
    m_error.status = status;
    m_error.reason = QByteArray::fromRawData(reason, qsizetype(std::strlen(reason)));
}

qsizetype HttpParser::feed(const char *data, qsizetype size, Stop *stop)
{
    if (m_error.isError()) {
        *stop = Stop::Error;
        return 0;
    }
    if (size <= 0) {
        *stop = Stop::NeedMore;
        return 0;
    }
    if (m_phase == Phase::Head)
        return feedHead(data, size, stop);
    qsizetype used = 0;
    if (m_phase == Phase::HeadEnd) {
        // The head's last byte, left for this feed so that a message without a body still gets its Complete
        // stop from a feed the caller makes anyway (callers feed whatever their buffer holds).
        if (*data != '\n') {
            fail(400, "malformed_message");
            *stop = Stop::Error;
            return 0;
        }
        used = 1;
        startBody();
        if (m_phase == Phase::Head) {
            *stop = Stop::Complete;
            return used;
        }
    }
    used += feedBody(data + used, size - used, stop);
    if (*stop == Stop::NeedMore)
        m_inBody = true;
    return used;
}

qsizetype HttpParser::feedHead(const char *data, qsizetype size, Stop *stop)
{
    // Lines are checked as they arrive (bare LF, obs-fold, 414, 431), so a head that never ends is refused while it
    // grows; the complete head is then parsed in one go, from the input when it came in one read.
    const char *p = data;
    const char *const end = data + size;
    const char *headStart = data;
    const char *headEnd = nullptr; // the head's final '\n'
    while (p < end) {
        if (m_scanLineLen == 0 && m_scanLine > 0 && isOws(*p)) {
            fail(400, "obs_fold");
            *stop = Stop::Error;
            return 0;
        }
        const char *nl = static_cast<const char *>(std::memchr(p, '\n', size_t(end - p)));
        const char *lineEnd = nl ? nl : end;
        if (!m_inMessage && std::any_of(p, lineEnd, [](char c) { return c != '\r'; })) {
            keepFieldsForReuse();
            m_head.clear();
            m_inMessage = true;
            m_hostCount = m_contentLengthCount = m_chunkedCount = 0;
            m_hasTransferEncoding = m_chunkedLast = m_connClose = m_connKeepAlive = m_connUpgrade = false;
            m_hasUpgrade = false;
        }
        const qsizetype n = lineEnd - p;
        if (n > 0)
            m_scanLastChar = lineEnd[-1];
        m_scanLineLen += n;
        m_scanBytes += n + (nl ? 1 : 0);
        if (m_kind == Kind::Request && m_scanLine == 0 && m_scanLineLen > m_limits.maxUriBytes + 32) {
            fail(414, "uri_too_long");
            *stop = Stop::Error;
            return 0;
        }
        if (m_scanBytes > m_limits.maxHeaderBytes) {
            fail(431, "headers_too_large");
            *stop = Stop::Error;
            return 0;
        }
        if (!nl)
            break;
        p = nl + 1;
        const bool cr = m_scanLineLen > 0 && m_scanLastChar == '\r';
        if (!cr && !m_limits.lenientLineEndings) {
            fail(400, "bare_lf");
            *stop = Stop::Error;
            return 0;
        }
        const bool empty = m_scanLineLen == (cr ? 1 : 0);
        m_scanLineLen = 0;
        m_scanLastChar = 0;
        if (empty) {
            if (m_scanLine == 0) { // an empty line before the start line is ignored (RFC 9112 2.2)
                headStart = p;
                m_headBuf.clear();
                continue;
            }
            headEnd = nl;
            break;
        }
        ++m_scanLine;
    }
    if (!headEnd) {
        m_headBuf.append(headStart, size_t(end - headStart));
        *stop = Stop::NeedMore;
        return size;
    }
    bool ok;
    if (m_headBuf.empty()) {
        ok = parseHead(headStart, headEnd + 1);
    } else {
        m_headBuf.append(headStart, size_t(headEnd + 1 - headStart));
        ok = parseHead(m_headBuf.data(), m_headBuf.data() + m_headBuf.size());
        releaseBuffer(m_headBuf);
    }
    if (!ok) {
        *stop = Stop::Error;
        return headEnd - data;
    }
    m_phase = Phase::HeadEnd;
    *stop = Stop::Head;
    return headEnd - data;
}

bool HttpParser::parseHead(const char *begin, const char *end)
{
    const char *p = begin;
    bool first = true;
    while (p < end) {
        const char *nl = static_cast<const char *>(std::memchr(p, '\n', size_t(end - p)));
        const char *lineEnd = nl > p && nl[-1] == '\r' ? nl - 1 : nl; // the scanner checked the CR (or leniency)
        if (lineEnd == p)
            break; // the empty line that ends the head
        if (first ? !parseStartLine(p, lineEnd) : !parseHeaderLine(p, lineEnd, true))
            return false;
        first = false;
        p = nl + 1;
    }
    // Emptied: the next message's list reuses its capacity, unless a hostile head made it large (as releaseBuffer,
    // so that idle connections do not each keep two lists of the biggest head they ever received).
    if (m_prevHeaders.capacity() > 64)
        m_prevHeaders = HeaderList();
    else
        m_prevHeaders.clear();
    m_prevTarget = QByteArray();
    return validateHead();
}

bool HttpParser::parseStartLine(const char *line, const char *end)
{
    MessageHead &h = m_head;
    const auto version = [&](const char *v) {
        if (end - v < 8 || std::memcmp(v, "HTTP/", 5) != 0 || !std::isdigit(static_cast<unsigned char>(v[5])) ||
            v[6] != '.' || !std::isdigit(static_cast<unsigned char>(v[7])))
            return false;
        h.versionMajor = v[5] - '0';
        h.versionMinor = v[7] - '0';
        return true;
    };
    if (m_kind == Kind::Response) {
        // status-line = HTTP-version SP status-code SP [ reason-phrase ]; a missing SP after the code is common
        // enough (and unambiguous) to accept.
        if (!version(line) || end - line < 9 || line[8] != ' ') {
            fail(400, "invalid_version");
            return false;
        }
        const char *s = line + 9;
        if (end - s < 3 || !std::isdigit(static_cast<unsigned char>(s[0])) ||
            !std::isdigit(static_cast<unsigned char>(s[1])) || !std::isdigit(static_cast<unsigned char>(s[2])) ||
            (end - s > 3 && s[3] != ' ') || s[0] == '0') {
            fail(400, "invalid_status");
            return false;
        }
        h.status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
        const char *r = std::min(s + 4, end);
        for (const char *q = r; q < end; ++q) {
            if (!is(*q, kFieldChar)) {
                fail(400, "invalid_status");
                return false;
            }
        }
        h.reasonPhrase = common(kValuesByLength, r, size_t(end - r));
        return true;
    }
    // request-line = method SP request-target SP HTTP-version, single spaces (RFC 9112 3)
    const char *m = skipToken(line, end);
    if (m == line || m == end || *m != ' ') {
        fail(400, "invalid_method");
        return false;
    }
    const char *t = m + 1;
    const char *te = static_cast<const char *>(std::memchr(t, ' ', size_t(end - t)));
    if (!te) {
        fail(400, "invalid_version"); // HTTP/0.9 "GET /" or no version at all
        return false;
    }
    if (te - t > m_limits.maxUriBytes) {
        fail(414, "uri_too_long");
        return false;
    }
    if (te == t) {
        fail(400, "invalid_uri");
        return false;
    }
    for (const char *q = t; q < te; ++q) {
        if (!is(*q, kTargetChar)) {
            fail(400, "invalid_uri");
            return false;
        }
    }
    if (end - (te + 1) != 8 || !version(te + 1)) {
        // "GET /a b HTTP/1.1": a space inside the target rather than a bad version
        fail(400, std::memchr(te + 1, ' ', size_t(end - te - 1)) ? "invalid_uri" : "invalid_version");
        return false;
    }
    h.method = methodOf(line, m - line);
    if (!h.isConnect() && !isTargetForm(t, te)) {
        fail(400, "invalid_uri");
        return false;
    }
    h.target = sameAsBefore(&m_prevTarget, t, te - t) ? m_prevTarget : QByteArray(t, te - t);
    if (*t != '/' && !h.isConnect() && *t != '*') {
        // "http://host?q" has an empty path, which means "/" (RFC 9110 4.2.3): spelled out here, so every stage
        // (routing, the forwarded origin-form) sees "/?q" as it would for "http://host/?q".
        const qsizetype authority = h.target.indexOf("://") + 3;
        qsizetype q = authority;
        while (q < h.target.size() && h.target.at(q) != '/' && h.target.at(q) != '?')
            ++q;
        if (q < h.target.size() && h.target.at(q) == '?')
            h.target.insert(q, '/');
    }
    return true;
}

bool HttpParser::parseHeaderLine(const char *line, const char *end, bool store)
{
    // field-line = field-name ":" OWS field-value OWS; no whitespace between the name and the colon (RFC 9112 5.1)
    if (isOws(*line)) {
        fail(400, "obs_fold");
        return false;
    }
    const char *colon = skipToken(line, end);
    if (colon == line || colon == end || *colon != ':') {
        fail(400, "invalid_header_name");
        return false;
    }
    const char *v = skipOws(colon + 1, end);
    const char *ve = end;
    while (ve > v && isOws(ve[-1]))
        --ve;
    if (!allFieldChars(v, ve)) {
        fail(400, "invalid_header_value");
        return false;
    }
    if (!store)
        return true;
    const qsizetype index = m_head.headers.size();
    const QPair<QByteArray, QByteArray> *before = index < m_prevHeaders.size() ? &m_prevHeaders.at(index) : nullptr;
    m_head.headers.append({before && sameAsBefore(&before->first, line, colon - line)
                               ? before->first
                               : common(kNamesByLength, line, size_t(colon - line)),
                           before && sameAsBefore(&before->second, v, ve - v)
                               ? before->second
                               : common(kValuesByLength, v, size_t(ve - v))});
    switch (colon - line) {
    case 4:
        if (equalsLower(line, colon, "host"))
            ++m_hostCount;
        break;
    case 7:
        if (equalsLower(line, colon, "upgrade"))
            m_hasUpgrade = true;
        break;
    case 10:
        if (equalsLower(line, colon, "connection")) {
            for (const char *p = v; p < ve;) {
                const char *c = static_cast<const char *>(std::memchr(p, ',', size_t(ve - p)));
                const char *e = c ? c : ve;
                const char *ts = skipOws(p, e);
                const char *tend = e;
                while (tend > ts && isOws(tend[-1]))
                    --tend;
                m_connClose |= equalsLower(ts, tend, "close");
                m_connKeepAlive |= equalsLower(ts, tend, "keep-alive");
                m_connUpgrade |= equalsLower(ts, tend, "upgrade");
                p = c ? c + 1 : ve;
            }
        }
        break;
    case 14:
        if (equalsLower(line, colon, "content-length")) {
            // 1*DIGIT after OWS trimming; a list ("3, 3") or a sign is refused, a second header too (validateHead)
            qint64 n = 0;
            if (v == ve) {
                fail(400, "invalid_content_length");
                return false;
            }
            for (const char *q = v; q < ve; ++q) {
                if (*q < '0' || *q > '9' || n > (std::numeric_limits<qint64>::max() - 9) / 10) {
                    fail(400, "invalid_content_length");
                    return false;
                }
                n = n * 10 + (*q - '0');
            }
            ++m_contentLengthCount;
            m_head.contentLength = n;
        }
        break;
    case 17:
        if (equalsLower(line, colon, "transfer-encoding"))
            return parseTransferEncoding(v, ve);
        break;
    default:
        break;
    }
    return true;
}

bool HttpParser::parseTransferEncoding(const char *v, const char *end)
{
    // Transfer-Encoding = #transfer-coding; transfer-coding = token *( OWS ";" OWS token BWS "=" BWS value ).
    // Every header adds to one list: "chunked" must be its last coding, appear once and carry no parameters
    // (RFC 9112 6.1, 7), whichever header it came in.
    m_hasTransferEncoding = true;
    const auto bad = [this] {
        fail(400, "invalid_transfer_encoding");
        return false;
    };
    bool any = false;
    const char *p = v;
    while (p < end) {
        p = skipOws(p, end);
        if (p < end && *p == ',') { // empty list elements are allowed (RFC 9110 5.6.1)
            ++p;
            continue;
        }
        const char *name = p;
        p = skipToken(p, end);
        if (p == name)
            return bad();
        const bool chunked = equalsLower(name, p, "chunked");
        for (p = skipOws(p, end); p < end && *p == ';'; p = skipOws(p, end)) {
            if (chunked)
                return bad();
            const char *param = skipOws(p + 1, end);
            p = skipToken(param, end);
            if (p == param)
                return bad();
            p = skipOws(p, end);
            if (p == end || *p != '=')
                return bad();
            p = skipOws(p + 1, end);
            if (p < end && *p == '"') {
                for (++p; p < end && *p != '"'; ++p) {
                    if (*p == '\\' && p + 1 < end)
                        ++p;
                }
                if (p == end)
                    return bad();
                ++p;
            } else {
                const char *value = p;
                p = skipToken(p, end);
                if (p == value)
                    return bad();
            }
        }
        if (p < end && *p != ',')
            return bad();
        any = true;
        m_chunkedCount += chunked ? 1 : 0;
        m_chunkedLast = chunked;
    }
    return any || bad();
}

bool HttpParser::validateHead()
{
    MessageHead &h = m_head;
    if (h.versionMajor != 1 || (h.versionMinor != 0 && h.versionMinor != 1)) {
        fail(505, "unsupported_http_version");
        return false;
    }
    const bool request = m_kind == Kind::Request;
    if (request) {
        if (m_hostCount > 1) {
            fail(400, "duplicate_host");
            return false;
        }
        if (m_hostCount == 0 && h.versionMinor == 1 && !h.isConnect()) {
            fail(400, "missing_host");
            return false;
        }
    }
    if (m_hasTransferEncoding) {
        // An HTTP/1.0 message with Transfer-Encoding has faulty framing (RFC 9112 6.1): the peer may not have
        // meant chunked, and guessing is how requests are smuggled.
        if (h.versionMinor == 0) {
            fail(400, "transfer_encoding_http10");
            return false;
        }
        if (m_contentLengthCount > 0) {
            fail(400, "content_length_with_transfer_encoding");
            return false;
        }
        // A request whose final coding is not chunked has no knowable length (400, RFC 9112 6.3); a response's
        // is read until close. Chunked twice is refused both ways.
        if (m_chunkedCount > 1 || (request && !m_chunkedLast)) {
            fail(400, "invalid_transfer_encoding");
            return false;
        }
    } else if (m_contentLengthCount > 1) {
        fail(400, "duplicate_content_length");
        return false;
    }
    h.chunked = m_hasTransferEncoding && m_chunkedLast;
    if (h.chunked)
        h.contentLength = -1;
    if (m_hasUpgrade && m_connUpgrade)
        h.upgrade = request || h.status == 101;
    else
        h.upgrade = request && h.isConnect();
    const bool untilClose = framing() == Framing::UntilClose;
    h.keepAlive = !untilClose && (h.versionMinor == 1 ? !m_connClose : m_connKeepAlive);
    return true;
}

HttpParser::Framing HttpParser::framing() const
{
    const MessageHead &h = m_head;
    if (m_kind == Kind::Request) {
        if (h.isConnect())
            return Framing::None; // the rest is the tunnel's
        if (h.chunked)
            return Framing::Chunked;
        return h.contentLength > 0 ? Framing::Fixed : Framing::None;
    }
    // RFC 9112 6.3: no body after HEAD, 1xx, 204 and 304 whatever the headers say (a 304's Content-Length is the
    // length of the representation it stands for).
    if (m_expectNoBody || (h.status >= 100 && h.status < 200) || h.status == 204 || h.status == 304)
        return Framing::None;
    if (m_hasTransferEncoding)
        return h.chunked ? Framing::Chunked : Framing::UntilClose;
    if (h.contentLength >= 0)
        return h.contentLength > 0 ? Framing::Fixed : Framing::None;
    return Framing::UntilClose;
}

void HttpParser::startBody()
{
    switch (framing()) {
    case Framing::None:
        endMessage();
        break;
    case Framing::Fixed:
        m_phase = Phase::Fixed;
        m_bodyLeft = m_head.contentLength;
        break;
    case Framing::Chunked:
        m_phase = Phase::ChunkLine;
        m_line.clear();
        m_trailerBytes = 0;
        m_trailers.clear();
        break;
    case Framing::UntilClose:
        m_phase = Phase::UntilClose;
        break;
    }
}

int HttpParser::takeLine(const char *&p, const char *end, qsizetype limit, int status, const char *reason,
                         const char **line, qsizetype *len)
{
    const char *nl = static_cast<const char *>(std::memchr(p, '\n', size_t(end - p)));
    const char *stop = nl ? nl : end;
    if (qsizetype(m_line.size()) + (stop - p) > limit) {
        fail(status, reason);
        return -1;
    }
    if (!nl) {
        m_line.append(p, size_t(end - p));
        p = end;
        return 0;
    }
    if (m_line.empty()) {
        *line = p;
        *len = nl - p;
    } else {
        m_line.append(p, size_t(nl - p));
        *line = m_line.data();
        *len = qsizetype(m_line.size());
    }
    p = nl + 1;
    if (*len > 0 && (*line)[*len - 1] == '\r') {
        --*len;
    } else if (!m_limits.lenientLineEndings) {
        fail(400, "bare_lf");
        return -1;
    }
    return 1;
}

bool HttpParser::parseChunkLine(const char *line, qsizetype len)
{
    // chunk-size [ chunk-ext ], chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
    const char *p = line;
    const char *const end = line + len;
    qint64 size = 0;
    while (p < end && is(*p, kHexDigit)) {
        if (size > (std::numeric_limits<qint64>::max() >> 4)) {
            fail(400, "invalid_chunk_size");
            return false;
        }
        const char c = *p++;
        size = size * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    if (p == line) {
        fail(400, "invalid_chunk_size");
        return false;
    }
    while (p < end) {
        p = skipOws(p, end);
        if (p == end || *p != ';') {
            fail(400, "invalid_chunk_extension");
            return false;
        }
        p = skipOws(p + 1, end);
        const char *name = p;
        p = skipToken(p, end);
        if (p == name) {
            fail(400, "invalid_chunk_extension");
            return false;
        }
        const char *eq = skipOws(p, end);
        if (eq == end || *eq != '=')
            continue; // no value: the loop wants ";" or the end (BWS alone at the end is not chunk-ext)
        p = skipOws(eq + 1, end);
        if (p < end && *p == '"') {
            for (++p;; ++p) {
                if (p == end) {
                    fail(400, "invalid_chunk_extension");
                    return false;
                }
                if (*p == '"')
                    break;
                if (*p == '\\' && p + 1 < end && is(p[1], kFieldChar)) {
                    ++p;
                    continue;
                }
                if (!is(*p, kQdtext)) {
                    fail(400, "invalid_chunk_extension");
                    return false;
                }
            }
            ++p;
        } else {
            const char *value = p;
            p = skipToken(p, end);
            if (p == value) {
                fail(400, "invalid_chunk_extension");
                return false;
            }
        }
    }
    m_bodyLeft = size;
    return true;
}

qsizetype HttpParser::feedBody(const char *data, qsizetype size, Stop *stop)
{
    const char *p = data;
    const char *const end = data + size;
    *stop = Stop::NeedMore;
    while (p < end) {
        switch (m_phase) {
        case Phase::Fixed:
        case Phase::ChunkData: {
            const qsizetype n = qsizetype(std::min<qint64>(m_bodyLeft, end - p));
            if (m_body)
                m_body->onBody(p, n);
            p += n;
            m_bodyLeft -= n;
            if (m_bodyLeft > 0)
                break;
            if (m_phase == Phase::ChunkData) {
                m_phase = Phase::ChunkCrlf;
                break;
            }
            endMessage();
            *stop = Stop::Complete;
            return p - data;
        }
        case Phase::UntilClose:
            if (m_body)
                m_body->onBody(p, end - p);
            p = end;
            break;
        case Phase::ChunkLine:
        case Phase::ChunkCrlf:
        case Phase::Trailer: {
            const char *line = nullptr;
            qsizetype len = 0;
            int got;
            if (m_phase == Phase::ChunkLine)
                got = takeLine(p, end, m_limits.maxChunkLineBytes, 400, "chunk_extension_too_large", &line, &len);
            else if (m_phase == Phase::ChunkCrlf)
                got = takeLine(p, end, 1, 400, "invalid_chunk_data", &line, &len);
            else
                got =
                    takeLine(p, end, m_limits.maxTrailerBytes - m_trailerBytes, 431, "trailers_too_large", &line, &len);
            if (got < 0) {
                *stop = Stop::Error;
                return p - data;
            }
            if (got == 0)
                break;
            bool ok = true;
            if (m_phase == Phase::ChunkLine) {
                ok = parseChunkLine(line, len);
                if (ok)
                    m_phase = m_bodyLeft > 0 ? Phase::ChunkData : Phase::Trailer;
            } else if (m_phase == Phase::ChunkCrlf) {
                if (len != 0) {
                    fail(400, "invalid_chunk_data"); // more data than the chunk size said
                    ok = false;
                }
                m_phase = Phase::ChunkLine;
            } else if (len == 0) {
                endMessage();
                *stop = Stop::Complete;
                return p - data;
            } else {
                // Trailer fields are checked like header fields; kept only for the upstream engine, which hands an
                // origin's on (the proxy drops a client's: requests to origins carry none).
                m_trailerBytes += len + 2;
                ok = parseHeaderLine(line, line + len, false);
                if (ok && m_keepTrailers) {
                    const char *colon = static_cast<const char *>(std::memchr(line, ':', size_t(len)));
                    const char *v = skipOws(colon + 1, line + len);
                    const char *ve = line + len;
                    while (ve > v && isOws(ve[-1]))
                        --ve;
                    m_trailers.append({QByteArray(line, colon - line), QByteArray(v, ve - v)});
                }
            }
            m_line.clear();
            if (!ok) {
                *stop = Stop::Error;
                return p - data;
            }
            break;
        }
        case Phase::Head:
        case Phase::HeadEnd:
            return p - data; // not reached: feed() hands only body phases here
        }
    }
    return p - data;
}

qint64 HttpParser::bodyBytesLeft() const
{
    if (!m_inBody || m_error.isError() || m_phase != Phase::Fixed)
        return -1;
    return m_bodyLeft;
}

HttpParser::Stop HttpParser::skipBody(qint64 n)
{
    const qint64 left = bodyBytesLeft();
    if (left <= 0 || n <= 0)
        return m_error.isError() ? Stop::Error : Stop::NeedMore;
    m_bodyLeft -= std::min(n, left);
    if (m_bodyLeft > 0)
        return Stop::NeedMore;
    endMessage();
    return Stop::Complete;
}

HttpParser::Stop HttpParser::feedEof()
{
    if (m_error.isError())
        return Stop::Error;
    if (!m_inMessage)
        return Stop::NeedMore;
    if (m_phase == Phase::UntilClose) {
        endMessage();
        return Stop::Complete;
    }
    fail(400, "truncated_message");
    return Stop::Error;
}

} // namespace dfproxy::http
