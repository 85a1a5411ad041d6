// SPDX-License-Identifier: Apache-2.0
#pragma once
// The one canonical spelling of a request's host and path. A request is canonicalised once, right after parsing,
// and routing, every policy, the access log and the forwarded request all read the result: a rule can then not be
// walked around by another spelling of the same host or path (`/x/../admin`, `/%61dmin`, `//admin`, `Blocked.Test.`).
// The path rules follow Envoy's `normalize_path`, `merge_slashes` and `path_with_escaped_slashes_action`.

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

namespace dfproxy::http {

/// How the path is canonicalised (config `proxy.paths`).
struct PathOptions
{
    /// What `%2F`, `%5C` (and a raw `\`) in a path become: they are not the same path as `/` to every origin, so by
    /// default the request is refused (Envoy's REJECT_REQUEST).
    enum class EscapedSlashes {
        Reject,   ///< 400 escaped_slash_in_path
        Keep,     ///< forwarded as `%2F` / `%5C` (a raw `\` as is); matched as such
        Unescape, ///< decoded to `/` before dot-segments and slashes are handled
    };
    bool mergeSlashes = true; ///< `//` -> `/`
    EscapedSlashes escapedSlashes = EscapedSlashes::Reject;
};

/// Parses "reject" | "keep" | "unescape" (the one parser of this enum; config validation uses it too).
bool parseEscapedSlashes(const QString &text, PathOptions::EscapedSlashes *out);

/// Why a path or host was refused: the `x-dfproxy-error` reason (status is always 400).
struct CanonicalError
{
    QByteArray reason; ///< "invalid_path_encoding", "escaped_slash_in_path", "invalid_path", "invalid_host"
    QByteArray detail; ///< one line for the response body
};

/// Canonicalises an origin-form path (it starts with '/'; no query): percent-encoded unreserved characters decoded
/// (RFC 3986 2.3) and every other escape's hex digits upper-cased (6.2.2.1), the visible characters RFC 3986 does
/// not allow in a path (`"<>[]^`{|}`) escaped, duplicate slashes merged (if asked),
/// `.` and `..` segments removed (5.2.4; `..` never climbs above the root). Returns false with `error` set for a
/// malformed escape, a byte that cannot be in a path (CTL, space, >= 0x80, `#`), or an escaped slash under Reject.
/// `out` shares `in`'s storage when nothing changes (the usual case: no allocation).
bool canonicalPath(const QByteArray &in, const PathOptions &options, QByteArray *out, CanonicalError *error);

/// Canonicalises a query (without '?'): escapes of unreserved characters decoded, other escapes' hex digits
/// upper-cased, the visible characters RFC 3986 does not allow (`"<>[]^`{|}\`) escaped; nothing else changes
/// (no dot segments, `/` and `%2F` stay apart). Refuses a malformed escape (invalid_query_encoding) and CTL, space,
/// `#` and bytes >= 0x80 (invalid_query). `out` shares `in`'s storage when nothing changes.
bool canonicalQuery(const QByteArray &in, QByteArray *out, CanonicalError *error);

/// Canonicalises the host of an authority (without port or brackets): ASCII lower case, one trailing dot removed,
/// an IP literal in any spelling the resolver accepts (`127.1`, `0x7f.0.0.1`, `2130706433`, `[::FFFF:7F00:1]`)
/// written in its standard form, empty labels refused. Returns false for a host that is not a DNS name or an IP
/// literal. `out` shares `in`'s storage when nothing changes.
bool canonicalHost(const QByteArray &in, QByteArray *out);

/// The same for configured host names (route hostnames, policy host rules), which may also be written as Unicode
/// (U-labels): those are compared in their A-label (punycode) form, as requests carry them. A leading `*.` is kept.
/// Returns the input unchanged when it cannot be canonicalised (validation reports such names).
QString canonicalConfiguredHost(const QString &host);

/// Canonicalises a configured path match or prefix the way requests' paths are (escapes of unreserved characters
/// decoded, `.`/`..` segments removed, slashes merged; `%2F`/`%5C` kept, upper-cased), so a rule written `/%61dmin`
/// matches what a request for `/admin` becomes. Returns the input unchanged when it is not a valid path.
QString canonicalConfiguredPath(const QString &path);

} // namespace dfproxy::http
