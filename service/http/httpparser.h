// SPDX-License-Identifier: Apache-2.0
#pragma once
// A strict, incremental HTTP/1.x message parser over libhttp-parser. One instance per connection direction;
// not thread-safe (use it on the thread that owns the connection).

#include "http/httpheaders.h"

#include <QByteArray>

#include <memory>

struct http_parser;
struct http_parser_settings;

namespace dfproxy::http {

/// Size limits applied while parsing. Exceeding them gives 431 / 414.
struct ParserLimits
{
    qsizetype maxHeaderBytes = 64 * 1024; ///< start line + headers
    qsizetype maxUriBytes = 8 * 1024;     ///< request target
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
    QByteArray target;       ///< requests: the request target as received
    int status = 0;          ///< responses
    QByteArray reasonPhrase; ///< responses
    int versionMajor = 1;
    int versionMinor = 1;
    HeaderList headers;      ///< in order, names as received
    qint64 contentLength = -1; ///< -1 when there is no Content-Length
    bool chunked = false;
    bool keepAlive = true;   ///< http_should_keep_alive(): version default and Connection header
    bool upgrade = false;    ///< CONNECT, Upgrade request, or 101 response
    bool isConnect() const { return method == "CONNECT"; }
    bool isHead() const { return method == "HEAD"; }
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
        NeedMore,  ///< all input consumed, message not finished
        Head,      ///< head() is complete; body (if any) follows on the next feed()
        Complete,  ///< the message ended; the next feed() starts the next message
        Error,     ///< error() says why; the parser is dead
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
    static const http_parser_settings &settings();
    static int onMessageBegin(http_parser *p);
    static int onUrl(http_parser *p, const char *at, size_t len);
    static int onStatus(http_parser *p, const char *at, size_t len);
    static int onHeaderField(http_parser *p, const char *at, size_t len);
    static int onHeaderValue(http_parser *p, const char *at, size_t len);
    static int onHeadersComplete(http_parser *p);
    static int onBodyCb(http_parser *p, const char *at, size_t len);
    static int onMessageComplete(http_parser *p);
    bool scanHead(const char *data, qsizetype size, qsizetype *headBytes);
    void fail(int status, const char *reason);
    void mapParserError();
    bool validateHead();

    Kind m_kind;
    ParserLimits m_limits;
    std::unique_ptr<http_parser> m_parser;
    MessageHead m_head;
    ParseError m_error;
    BodyHandler *m_body = nullptr;
    bool m_expectNoBody = false;
    bool m_inMessage = false;
    bool m_headDone = false;
    bool m_inBody = false; ///< libhttp-parser is past the head (see bodyBytesLeft)
    bool m_messageDone = false;
    bool m_lastWasValue = false;
    // head scanner state (obs-fold and size checks happen before libhttp-parser sees the bytes)
    qsizetype m_scanBytes = 0;
    qsizetype m_scanLine = 0;    ///< index of the current line
    qsizetype m_scanLineLen = 0; ///< bytes of the current line, CR excluded
    bool m_scanDone = false;
    char m_scanLastChar = 0;
    const char *m_errorOffset = nullptr;
    const char *m_errorData = nullptr;
};

} // namespace dfproxy::http
