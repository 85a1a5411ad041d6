// SPDX-License-Identifier: Apache-2.0
#pragma once
// Header lists and the header rules of a proxy: hop-by-hop removal, framing, serialisation.

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QPair>
#include <QVarLengthArray>

namespace dfproxy::http {

/// Headers in order, names as received. Same type as routing::HeaderList.
using HeaderList = QList<QPair<QByteArray, QByteArray>>;

/// ASCII case-insensitive comparison of two equally long byte runs.
bool equalsIgnoreCaseSameSize(const char *a, const char *b, qsizetype size);
/// ASCII case-insensitive comparison (header names, tokens). Inline: most calls (a name against a list of known
/// names) differ in length and end at the first comparison.
inline bool equalsIgnoreCase(QByteArrayView a, QByteArrayView b)
{
    return a.size() == b.size() && equalsIgnoreCaseSameSize(a.data(), b.data(), a.size());
}
/// The value of the first header called `name`, or nullptr.
const QByteArray *findHeader(const HeaderList &headers, QByteArrayView name);
/// True for a non-empty RFC 9110 token (tchar only).
bool isValidHeaderName(QByteArrayView name);
/// True when a field value has no control characters other than HTAB (no CR, LF, NUL).
bool isValidHeaderValue(QByteArrayView value);
/// How many headers are called `name`.
int countHeader(const HeaderList &headers, QByteArrayView name);
/// Removes every header called `name`; returns how many went.
int removeHeader(HeaderList &headers, QByteArrayView name);
/// Replaces every header called `name` by one with `value` (at the position of the first one, else at the end).
void setHeader(HeaderList &headers, const QByteArray &name, const QByteArray &value);
/// True when the comma-separated list `list` holds `token` (case-insensitive, whitespace trimmed).
bool tokenListContains(QByteArrayView list, QByteArrayView token);
/// True when any header called `name` holds `token` in its comma-separated list.
bool headerHasToken(const HeaderList &headers, QByteArrayView name, QByteArrayView token);

/// Removes hop-by-hop headers (Connection and the names it lists, Keep-Alive, Proxy-Connection, TE, Trailer,
/// Upgrade, Proxy-Authorization, Proxy-Authenticate) and the framing headers (Content-Length,
/// Transfer-Encoding), which the proxy writes afresh. With `keepUpgrade` the Upgrade header survives
/// (websocket handshakes); the caller then adds "Connection: Upgrade".
void stripHopByHop(HeaderList &headers, bool keepUpgrade = false);

/// The test stripHopByHop applies, for writing a header list out without copying it: drops(name) is true for the
/// hop-by-hop headers of `headers` (the fixed set and the names its Connection headers list). `headers` must
/// outlive the filter.
class HopByHopFilter
{
public:
    explicit HopByHopFilter(const HeaderList &headers, bool keepUpgrade = false);
    bool drops(QByteArrayView name) const;

private:
    QVarLengthArray<QByteArrayView, 4> m_named;
    bool m_keepUpgrade;
};

/// Splits "host", "host:port", "[v6]" or "[v6]:port". The host comes back lower-case without brackets; `port`
/// is -1 without a port. Returns false for empty hosts, bad ports or bad brackets.
bool splitHostPort(QByteArrayView authority, QByteArray *host, int *port);

/// Appends "METHOD target HTTP/1.1\r\n" and the headers, without the blank line.
void appendRequestHead(QByteArray &out, QByteArrayView method, QByteArrayView target, const HeaderList &headers);
/// Appends "HTTP/1.x status reason\r\n" and the headers, without the blank line.
void appendResponseHead(QByteArray &out, int minorVersion, int status, QByteArrayView reason,
                        const HeaderList &headers);
/// Appends "name: value\r\n".
void appendHeader(QByteArray &out, QByteArrayView name, QByteArrayView value);
/// Appends one chunk in chunked framing (nothing for size 0: use appendLastChunk).
void appendChunk(QByteArray &out, const char *data, qsizetype size);
/// Appends "0\r\n\r\n".
void appendLastChunk(QByteArray &out);
/// Standard reason phrase for a status ("Not Found"), "Unknown" when none.
QByteArrayView reasonPhrase(int status);
/// True for methods a proxy may retry on a fresh connection (RFC 9110 idempotent methods).
bool isIdempotent(QByteArrayView method);

} // namespace dfproxy::http
