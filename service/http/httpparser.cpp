// SPDX-License-Identifier: Apache-2.0
#include "http/httpparser.h"

#include <http_parser.h>

#include <algorithm>
#include <array>
#include <climits>
#include <string_view>
#include <utility>
#include <cstring>
#include <mutex>

namespace dfproxy::http {

namespace {
HttpParser *self(http_parser *p)
{
    return static_cast<HttpParser *>(p->data);
}

/// Header names and values that nearly every message carries, spelled as they usually are. A parsed header that
/// matches one points at this static text instead of allocating (QByteArray::fromRawData; any later append,
/// e.g. the rest of a name split across two reads, copies it first).
constexpr std::string_view kCommonNames[] = {
    "Host", "Date", "Server", "Content-Type", "Content-Length", "Connection", "Last-Modified", "ETag",
    "Accept-Ranges", "Accept", "User-Agent", "Accept-Encoding", "Accept-Language", "Cache-Control",
    "Transfer-Encoding", "Content-Encoding", "Vary", "Expires", "Location", "Keep-Alive", "Set-Cookie", "Cookie",
    "Authorization", "Proxy-Authorization", "X-Forwarded-For", "Via", "Upgrade", "Referer", "Origin", "Pragma",
    "Age", "Expect", "content-type", "content-length", "date", "server", "host", "user-agent", "accept"};
constexpr std::string_view kCommonValues[] = {
    "keep-alive", "close", "bytes", "chunked", "*/*", "gzip", "identity", "no-cache", "text/plain",
    "text/html", "text/plain; charset=utf-8", "text/html; charset=utf-8", "application/json",
    "application/octet-stream", "100-continue", "Upgrade", "websocket",
    "OK"}; // not a header value: the usual reason phrase (onStatus uses this table too)

/// A table's entries grouped by length, so a lookup compares only the two or three of the right length.
struct ByLength
{
    static constexpr size_t kMaxLen = 31;
    std::array<std::array<std::string_view, 8>, kMaxLen + 1> entries{};
    std::array<quint8, kMaxLen + 1> count{};
    template<size_t N>
    constexpr explicit ByLength(const std::string_view (&table)[N])
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

HttpParser::HttpParser(Kind kind, ParserLimits limits)
    : m_kind(kind)
    , m_limits(limits)
    , m_parser(std::make_unique<http_parser>())
{
    // libhttp-parser's own limit is process-wide; lift it once and enforce ours per parser instead.
    static std::once_flag once;
    std::call_once(once, [] { http_parser_set_max_header_size(64u * 1024u * 1024u); });
    reset();
}

HttpParser::~HttpParser() = default;

void HttpParser::reset()
{
    http_parser_init(m_parser.get(), m_kind == Kind::Request ? HTTP_REQUEST : HTTP_RESPONSE);
    m_parser->data = this;
    m_head.clear();
    m_error = {};
    m_inMessage = false;
    m_headDone = false;
    m_inBody = false;
    m_messageDone = false;
    m_lastWasValue = false;
    m_scanBytes = 0;
    m_scanLine = 0;
    m_scanLineLen = 0;
    m_scanDone = false;
}

void HttpParser::fail(int status, const char *reason)
{
    if (m_error.isError())
        return;
    m_error.status = status;
    m_error.reason = QByteArray::fromRawData(reason, qsizetype(std::strlen(reason)));
}

bool HttpParser::scanHead(const char *data, qsizetype size, qsizetype *headBytes)
{
    // libhttp-parser silently joins obs-fold lines and has only a global size limit, so the head is checked here
    // first: line starts (fold), start-line length (414) and total head size (431).
    const char *p = data;
    const char *end = data + size;
    while (p < end) {
        if (m_scanLineLen == 0 && m_scanLine > 0 && (*p == ' ' || *p == '\t')) {
            fail(400, "obs_fold");
            return false;
        }
        const char *nl = static_cast<const char *>(std::memchr(p, '\n', size_t(end - p)));
        const char *stop = nl ? nl : end;
        const qsizetype n = stop - p;
        if (n > 0)
            m_scanLastChar = stop[-1];
        m_scanLineLen += n;
        m_scanBytes += n + (nl ? 1 : 0);
        if (m_kind == Kind::Request && m_scanLine == 0 && m_scanLineLen > m_limits.maxUriBytes + 32) {
            fail(414, "uri_too_long");
            return false;
        }
        if (m_scanBytes > m_limits.maxHeaderBytes) {
            fail(431, "headers_too_large");
            return false;
        }
        if (!nl)
            break;
        p = nl + 1;
        const bool empty = m_scanLineLen == 0 || (m_scanLineLen == 1 && m_scanLastChar == '\r');
        m_scanLineLen = 0;
        if (empty) {
            if (m_scanLine == 0)
                continue; // tolerated empty lines before a request line
            m_scanDone = true;
            break;
        }
        ++m_scanLine;
    }
    *headBytes = p - data;
    return true;
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
    if (!m_headDone && !m_scanDone) {
        qsizetype headBytes = 0;
        if (!scanHead(data, size, &headBytes)) {
            *stop = Stop::Error;
            return 0;
        }
    }
    http_parser *p = m_parser.get();
    if (HTTP_PARSER_ERRNO(p) == HPE_PAUSED)
        http_parser_pause(p, 0);
    const bool headWasDone = m_headDone;
    const size_t n = http_parser_execute(p, &settings(), data, size_t(size));
    const auto err = HTTP_PARSER_ERRNO(p);
    if (m_error.isError()) {
        *stop = Stop::Error;
        return qsizetype(n);
    }
    if (err != HPE_OK && err != HPE_PAUSED) {
        m_errorOffset = data + n;
        m_errorData = data;
        mapParserError();
        *stop = Stop::Error;
        return qsizetype(n);
    }
    if (m_messageDone) {
        m_messageDone = false;
        m_inMessage = false;
        m_headDone = false;
        m_inBody = false;
        m_scanBytes = 0;
        m_scanLine = 0;
        m_scanLineLen = 0;
        m_scanDone = false;
        *stop = Stop::Complete;
        return qsizetype(n);
    }
    if (m_headDone && !headWasDone) {
        *stop = Stop::Head;
        return qsizetype(n);
    }
    // All input taken after the head: libhttp-parser is inside the body now (past the head's last byte, which
    // it leaves for the feed after the Head stop).
    m_inBody = m_headDone;
    *stop = Stop::NeedMore;
    return qsizetype(n);
}

qint64 HttpParser::bodyBytesLeft() const
{
    const http_parser *p = m_parser.get();
    if (!m_inBody || m_error.isError() || !(p->flags & F_CONTENTLENGTH) || (p->flags & F_CHUNKED))
        return -1;
    return qint64(p->content_length); // what libhttp-parser still counts down in its identity-body state
}

HttpParser::Stop HttpParser::skipBody(qint64 n)
{
    const qint64 left = bodyBytesLeft();
    if (left <= 0 || n <= 0)
        return m_error.isError() ? Stop::Error : Stop::NeedMore;
    n = std::min(n, left);
    if (n < left) {
        m_parser->content_length -= quint64(n);
        return Stop::NeedMore;
    }
    // The body's last bytes: let libhttp-parser end the message itself (keep-alive, the next message's start),
    // on one stand-in byte that the body handler does not see.
    m_parser->content_length = 1;
    BodyHandler *const handler = std::exchange(m_body, nullptr);
    const char standIn = 0;
    Stop stop = Stop::NeedMore;
    feed(&standIn, 1, &stop);
    m_body = handler;
    return stop;
}

HttpParser::Stop HttpParser::feedEof()
{
    if (m_error.isError())
        return Stop::Error;
    if (!m_inMessage)
        return Stop::NeedMore;
    http_parser *p = m_parser.get();
    if (HTTP_PARSER_ERRNO(p) == HPE_PAUSED)
        http_parser_pause(p, 0);
    http_parser_execute(p, &settings(), nullptr, 0);
    const auto err = HTTP_PARSER_ERRNO(p);
    if (m_messageDone) {
        m_messageDone = false;
        m_inMessage = false;
        m_headDone = false;
        return Stop::Complete;
    }
    if (err != HPE_OK && err != HPE_PAUSED) {
        fail(400, "truncated_message");
        return Stop::Error;
    }
    fail(400, "truncated_message");
    return Stop::Error;
}

void HttpParser::mapParserError()
{
    const auto err = HTTP_PARSER_ERRNO(m_parser.get());
    switch (err) {
    case HPE_HEADER_OVERFLOW:
        fail(431, "headers_too_large");
        break;
    case HPE_INVALID_HEADER_TOKEN: {
        // A ':' before the bad byte on its line means the value was bad, otherwise the name.
        bool sawColon = false;
        for (const char *q = m_errorOffset; q > m_errorData;) {
            --q;
            if (*q == '\n')
                break;
            if (*q == ':')
                sawColon = true;
        }
        fail(400, sawColon || (m_lastWasValue && m_errorOffset == m_errorData) ? "invalid_header_value"
                                                                              : "invalid_header_name");
        break;
    }
    case HPE_INVALID_CONTENT_LENGTH:
        fail(400, "invalid_content_length");
        break;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        if (findHeader(m_head.headers, "transfer-encoding"))
            fail(400, "content_length_with_transfer_encoding");
        else
            fail(400, "duplicate_content_length");
        break;
    case HPE_INVALID_TRANSFER_ENCODING:
        fail(400, "invalid_transfer_encoding");
        break;
    case HPE_INVALID_CHUNK_SIZE:
        fail(400, "invalid_chunk_size");
        break;
    case HPE_INVALID_VERSION:
        fail(400, "invalid_version");
        break;
    case HPE_INVALID_METHOD:
        fail(400, "invalid_method");
        break;
    case HPE_INVALID_URL:
    case HPE_INVALID_HOST:
    case HPE_INVALID_PORT:
    case HPE_INVALID_PATH:
    case HPE_INVALID_QUERY_STRING:
    case HPE_INVALID_FRAGMENT:
        fail(400, "invalid_uri");
        break;
    case HPE_INVALID_STATUS:
        fail(400, "invalid_status");
        break;
    case HPE_INVALID_EOF_STATE:
        fail(400, "truncated_message");
        break;
    default:
        fail(400, "malformed_message");
        break;
    }
}

bool HttpParser::validateHead()
{
    const int major = m_head.versionMajor;
    const int minor = m_head.versionMinor;
    if (major != 1 || (minor != 0 && minor != 1)) {
        fail(505, "unsupported_http_version");
        return false;
    }
    if (m_kind == Kind::Request) {
        const int hosts = countHeader(m_head.headers, "host");
        if (hosts > 1) {
            fail(400, "duplicate_host");
            return false;
        }
        if (hosts == 0 && minor == 1 && !m_head.isConnect()) {
            fail(400, "missing_host");
            return false;
        }
    }
    if (m_head.chunked && m_head.contentLength >= 0) {
        fail(400, "content_length_with_transfer_encoding");
        return false;
    }
    // Debian builds libhttp-parser non-strict (spaces pass as token characters), so names and values are
    // checked here against RFC 9110 tchar / field-vchar.
    for (const auto &h : m_head.headers) {
        if (!isValidHeaderName(h.first)) {
            fail(400, "invalid_header_name");
            return false;
        }
        if (!isValidHeaderValue(h.second)) {
            fail(400, "invalid_header_value");
            return false;
        }
    }
    return true;
}

int HttpParser::onMessageBegin(http_parser *p)
{
    HttpParser *s = self(p);
    s->m_head.clear();
    s->m_inMessage = true;
    s->m_headDone = false;
    s->m_inBody = false;
    s->m_lastWasValue = false;
    return 0;
}

int HttpParser::onUrl(http_parser *p, const char *at, size_t len)
{
    HttpParser *s = self(p);
    if (s->m_head.target.size() + qsizetype(len) > s->m_limits.maxUriBytes) {
        s->fail(414, "uri_too_long");
        return 1;
    }
    QByteArray &target = s->m_head.target;
    if (target.isEmpty())
        target = QByteArray(at, qsizetype(len)); // the usual case, one piece: no append machinery
    else
        target.append(at, qsizetype(len));
    return 0;
}

int HttpParser::onStatus(http_parser *p, const char *at, size_t len)
{
    QByteArray &reason = self(p)->m_head.reasonPhrase;
    if (reason.isEmpty())
        reason = common(kValuesByLength, at, len); // "OK" and the like: shared, not allocated
    else
        reason.append(at, qsizetype(len));
    return 0;
}

int HttpParser::onHeaderField(http_parser *p, const char *at, size_t len)
{
    HttpParser *s = self(p);
    auto &headers = s->m_head.headers;
    if (s->m_lastWasValue || headers.isEmpty()) {
        headers.append({common(kNamesByLength, at, len), QByteArray()});
        s->m_lastWasValue = false;
    } else {
        headers.last().first.append(at, qsizetype(len));
    }
    return 0;
}

int HttpParser::onHeaderValue(http_parser *p, const char *at, size_t len)
{
    HttpParser *s = self(p);
    if (s->m_head.headers.isEmpty())
        return 1;
    QByteArray &value = s->m_head.headers.last().second;
    if (!s->m_lastWasValue && value.isEmpty())
        value = common(kValuesByLength, at, len); // the first piece of this value
    else
        value.append(at, qsizetype(len));
    s->m_lastWasValue = true;
    return 0;
}

int HttpParser::onHeadersComplete(http_parser *p)
{
    HttpParser *s = self(p);
    MessageHead &h = s->m_head;
    h.versionMajor = p->http_major;
    h.versionMinor = p->http_minor;
    if (s->m_kind == Kind::Request) {
        const char *m = http_method_str(static_cast<http_method>(p->method));
        h.method = QByteArray::fromRawData(m, qsizetype(std::strlen(m)));
    } else {
        h.status = int(p->status_code);
    }
    h.chunked = (p->flags & F_CHUNKED) != 0;
    h.contentLength = (p->flags & F_CONTENTLENGTH) ? qint64(p->content_length) : -1;
    h.keepAlive = http_should_keep_alive(p) != 0;
    h.upgrade = p->upgrade != 0;
    if (!s->validateHead())
        return -1;
    s->m_headDone = true;
    http_parser_pause(p, 1);
    // Responses without a body whatever their headers say (RFC 9112 section 6.3): to HEAD, 1xx, 204 and 304. A
    // 304's Content-Length describes the representation it stands for; libhttp-parser would wait for those bytes.
    if (s->m_kind == Kind::Response
        && (s->m_expectNoBody || h.status == 204 || h.status == 304 || (h.status >= 100 && h.status < 200 && h.status != 101)))
        return 1;
    return 0;
}

int HttpParser::onBodyCb(http_parser *p, const char *at, size_t len)
{
    HttpParser *s = self(p);
    if (s->m_body)
        s->m_body->onBody(at, qsizetype(len));
    return 0;
}

int HttpParser::onMessageComplete(http_parser *p)
{
    HttpParser *s = self(p);
    s->m_messageDone = true;
    http_parser_pause(p, 1);
    return 0;
}

const http_parser_settings &HttpParser::settings()
{
    static const http_parser_settings st = [] {
        http_parser_settings s;
        http_parser_settings_init(&s);
        s.on_message_begin = &HttpParser::onMessageBegin;
        s.on_url = &HttpParser::onUrl;
        s.on_status = &HttpParser::onStatus;
        s.on_header_field = &HttpParser::onHeaderField;
        s.on_header_value = &HttpParser::onHeaderValue;
        s.on_headers_complete = &HttpParser::onHeadersComplete;
        s.on_body = &HttpParser::onBodyCb;
        s.on_message_complete = &HttpParser::onMessageComplete;
        return s;
    }();
    return st;
}

} // namespace dfproxy::http
