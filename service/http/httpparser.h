// SPDX-License-Identifier: Apache-2.0
#pragma once
// A strict, incremental HTTP/1.x message parser (RFC 9112 framing, RFC 9110 field grammar), written for dfproxy:
// an egress controller must never read a message's framing differently from the origin or the client, so anything
// ambiguous is refused. One instance per connection direction; not thread-safe (use it on the thread that owns the
// connection). The rules are listed in docs/reliability.md ("Request parsing").

#include "http/httpheaders.h"

#include <QByteArray>

#include <cstring>
#include <string>
#include <utility>

namespace dfproxy::http {

/// Size limits applied while parsing. Exceeding them gives 431 / 414.
struct ParserLimits
{
    qsizetype maxHeaderBytes = 64 * 1024;  ///< start line + headers
    qsizetype maxUriBytes = 8 * 1024;      ///< request target
    qsizetype maxChunkLineBytes = 4096;    ///< one chunk-size line with its extensions (400 beyond)
    qsizetype maxTrailerBytes = 16 * 1024; ///< a chunked body's trailer section (431 beyond)
    /// Accept a bare LF as a line ending (head, chunk framing, trailers): `proxy.parsing: lenient`. Everything else
    /// stays strict; a bare CR is refused either way.
    bool lenientLineEndings = false;
};

/// Why a message was rejected: the status to answer (400, 414, 431, 505) and a stable reason for
/// the x-dfproxy-error header ("invalid_content_length", "obs_fold", ...).
struct ParseError
{
    int status = 0;
    QByteArray reason;
    bool isError() const { return status != 0; }
};

/// The parsed start line and headers of a request or a response.
struct MessageHead
{
    QByteArray method;       ///< requests: "GET" (points at static storage, no allocation)
    QByteArray target;       ///< requests: the request target as received ("http://h?q" becomes "http://h/?q")
    int status = 0;          ///< responses
    QByteArray reasonPhrase; ///< responses
    int versionMajor = 1;
    int versionMinor = 1;
    HeaderList headers;        ///< in order, names as received
    qint64 contentLength = -1; ///< -1 when there is no Content-Length
    bool chunked = false;
    bool keepAlive = true; ///< version default and Connection header; false for a response read until close
    bool upgrade = false;  ///< CONNECT, Upgrade request, or 101 response
    // Asked by every stage: compared inline (QByteArray's == with a literal is a call into Qt).
    bool isConnect() const { return method.size() == 7 && std::memcmp(method.constData(), "CONNECT", 7) == 0; }
    bool isHead() const { return method.size() == 4 && std::memcmp(method.constData(), "HEAD", 4) == 0; }
    /// True when the request carries a body (Content-Length > 0 or chunked).
    bool hasRequestBody() const { return chunked || contentLength > 0; }
    void clear();
};

/// Receives body bytes as they are decoded (chunk framing removed). The pointer is only valid during the call.
class BodyHandler
{
public:
    virtual ~BodyHandler() = default;
    virtual void onBody(const char *data, qsizetype size) = 0;
};

class HttpParser
{
public:
    enum class Kind { Request, Response };
    /// Where feed() stopped.
    enum class Stop {
        NeedMore, ///< all input consumed, message not finished
        Head,     ///< head() is complete; body (if any) follows on the next feed()
        Complete, ///< the message ended; the next feed() starts the next message
        Error,    ///< error() says why; the parser is dead
    };

    explicit HttpParser(Kind kind, ParserLimits limits = {});
    ~HttpParser();
    HttpParser(const HttpParser &) = delete;
    HttpParser &operator=(const HttpParser &) = delete;

    /// Parses up to `size` bytes and returns how many were consumed; `*stop` says why it returned.
    /// Parsing stops right after the head and right after each message, so the caller can act in between.
    qsizetype feed(const char *data, qsizetype size, Stop *stop);
    /// Tells the parser the peer closed; ends a read-until-close response body. Returns Complete, NeedMore
    /// (nothing in progress) or Error (message truncated).
    Stop feedEof();

    /// Responses: the next response answers a HEAD request (no body whatever its headers say).
    void setExpectNoBody(bool noBody) { m_expectNoBody = noBody; }
    void setBodyHandler(BodyHandler *handler) { m_body = handler; }
    /// Keep a chunked body's trailer fields (checked like header fields, within maxTrailerBytes) for
    /// takeTrailers(), instead of dropping them: the upstream engine passes an origin's on.
    void setKeepTrailers(bool keep) { m_keepTrailers = keep; }
    /// The last message's trailer fields (with setKeepTrailers), as received; empties them.
    HeaderList takeTrailers() { return std::exchange(m_trailers, {}); }

    const MessageHead &head() const { return m_head; }
    MessageHead &head() { return m_head; }
    const ParseError &error() const { return m_error; }
    /// True between the first byte of a message and its end.
    bool inMessage() const { return m_inMessage; }
    /// Resets to wait for a new message (drops any error).
    void reset();

    /// Inside a body framed by Content-Length, once a feed() after the Head stop has taken all its input: the
    /// body bytes still to come. -1 otherwise (no body, chunked, read until close, not inside the body yet).
    qint64 bodyBytesLeft() const;
    /// Counts `n` body bytes (at most bodyBytesLeft()) as received without seeing them: the caller moved them
    /// itself (spliced them from socket to socket). Returns Complete when they end the message (as feed() would),
    /// NeedMore otherwise. The body handler is not called for them.
    Stop skipBody(qint64 n);

private:
    /// Where the parser is inside a message.
    enum class Phase : quint8 {
        Head,       ///< before or inside a head (m_headBuf holds a head split across reads)
        HeadEnd,    ///< the Head stop was given; the head's last byte ('\n') comes with the next feed()
        Fixed,      ///< Content-Length body: m_bodyLeft bytes to come
        UntilClose, ///< response body read until the peer closes
        ChunkLine,  ///< a chunk-size line (with extensions), gathered in m_line
        ChunkData,  ///< m_bodyLeft bytes of a chunk
        ChunkCrlf,  ///< the CRLF after a chunk's data, gathered in m_line
        Trailer,    ///< a trailer line, gathered in m_line
    };
    enum class Framing : quint8 { None, Fixed, Chunked, UntilClose };

    qsizetype feedHead(const char *data, qsizetype size, Stop *stop);
    bool parseHead(const char *begin, const char *end);
    bool parseStartLine(const char *line, const char *end);
    bool parseHeaderLine(const char *line, const char *end, bool store);
    bool parseTransferEncoding(const char *v, const char *end);
    bool validateHead();
    Framing framing() const;
    qsizetype feedBody(const char *data, qsizetype size, Stop *stop);
    /// Gathers one line of chunk framing (at most `limit` bytes, else fail(status, reason)): 1 with the line (CR
    /// removed) in *line / *len, 0 when it needs more input, -1 on an error.
    int takeLine(const char *&p, const char *end, qsizetype limit, int status, const char *reason, const char **line,
                 qsizetype *len);
    bool parseChunkLine(const char *line, qsizetype len);
    /// Moves the last message's fields aside for sameAsBefore() while the next head is parsed.
    void keepFieldsForReuse();
    void startBody();
    void endMessage();
    void fail(int status, const char *reason);

    Kind m_kind;
    ParserLimits m_limits;
    MessageHead m_head;
    ParseError m_error;
    BodyHandler *m_body = nullptr;
    Phase m_phase = Phase::Head;
    bool m_expectNoBody = false;
    bool m_inMessage = false;
    bool m_inBody = false; ///< a feed() after the Head stop took all its input (see bodyBytesLeft)
    qint64 m_bodyLeft = 0; ///< Fixed / ChunkData: bytes still to come
    // head scanner state: a head split across reads is gathered in m_headBuf, checked line by line as it arrives
    std::string m_headBuf;
    qsizetype m_scanBytes = 0;   ///< head bytes so far (431)
    qsizetype m_scanLine = 0;    ///< index of the current line
    qsizetype m_scanLineLen = 0; ///< bytes of the current line, '\n' excluded
    char m_scanLastChar = 0;     ///< the last byte of the current line so far
    // per-head facts gathered while the header lines are parsed
    int m_hostCount = 0;
    int m_contentLengthCount = 0;
    int m_chunkedCount = 0;
    bool m_hasTransferEncoding = false;
    bool m_chunkedLast = false;
    bool m_connClose = false;
    bool m_connKeepAlive = false;
    bool m_connUpgrade = false;
    bool m_hasUpgrade = false;
    // the previous message's fields, shared by this one where they are the same bytes (until its head is parsed)
    HeaderList m_prevHeaders;
    QByteArray m_prevTarget;
    // chunked body state
    std::string m_line; ///< a chunk-size line, chunk CRLF or trailer line split across reads
    qsizetype m_trailerBytes = 0;
    HeaderList m_trailers;
    bool m_keepTrailers = false;
};

} // namespace dfproxy::http
