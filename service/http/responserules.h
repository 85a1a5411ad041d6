// SPDX-License-Identifier: Apache-2.0
#pragma once
// The response rules both upstream engines apply before anything of a response reaches the client: framing
// (Content-Length, Transfer-Encoding) and header bytes. The native engine gets them from its parser; the QNAM
// engine, whose parser is lenient, runs checkResponseHeaders() on what QNetworkReply hands over.

#include "http/httpheaders.h"

namespace dfproxy::http {

/// The outcome of checkResponseHeaders(): an empty reason when the head may be relayed, else one of the
/// parser's reasons ("duplicate_content_length", "invalid_content_length", "content_length_with_transfer_encoding",
/// "invalid_header_name", "invalid_header_value").
struct ResponseCheck
{
    QByteArray reason;
    qint64 contentLength = -1; ///< the one agreed length; -1 when there is none
    bool chunked = false;      ///< a Transfer-Encoding header is present (the length is unknown)
    bool ok() const { return reason.isEmpty(); }
};

/// Checks a response's header list. Repeated Content-Length headers, or one holding a comma-separated list
/// (which is how QNAM hands over repeated ones), are accepted only when every member is the same digits-only
/// number (RFC 9110 section 8.6); signs, spaces inside, empty members and values above 2^63-1 are invalid.
/// Optional whitespace around values (SP, HTAB) is allowed.
ResponseCheck checkResponseHeaders(const HeaderList &headers);

/// Checks a response's status line: "invalid_status" unless the status is three digits from 100 to 999,
/// "invalid_reason_phrase" when the reason phrase holds a control character other than HTAB (a bare CR there would
/// end the line early at some clients); empty when both are fine.
QByteArray checkResponseStatus(int status, QByteArrayView reasonPhrase);

/// Whether a trailer field must not be passed on in a trailer section, whatever the peer: fields that frame, route,
/// authenticate, modify the request or control the response (RFC 9110 6.5.1 / 6.5.2), as Go's net/http lists them
/// (golang.org/x/net/http/httpguts ValidTrailerHeader: its badTrailer table and the If- prefix), plus Upgrade and
/// HTTP/2 pseudo-fields. Case-insensitive. Hop-by-hop fields named by a Connection field are the caller's to drop.
bool isForbiddenTrailer(QByteArrayView name);

} // namespace dfproxy::http
