// SPDX-License-Identifier: Apache-2.0
#pragma once
// The first stage of every request: where it goes (host, port, scheme) and which path it asks for, in the one
// canonical spelling (http/canonical.h) that routing, the policies, the access log and the forwarded request share.

#include "http/canonical.h"
#include "http/httpparser.h"
#include "proxy/localreply.h"

#include <QByteArray>

#include <optional>

namespace dfproxy::proxy {

struct CanonicalRequest
{
    enum class Form { Origin, Absolute, Authority /* CONNECT */, Asterisk /* OPTIONS * */ };
    Form form = Form::Origin;
    QByteArray host;      ///< canonical: lower case, no trailing dot, IP literals in standard form, no brackets
    int port = -1;        ///< as the request gave it; -1 when it gave none
    QByteArray authority; ///< host[:port] as forwarded in Host ([..] around IPv6)
    QByteArray path;      ///< canonical path ("/" at least; "*" for Asterisk; empty for CONNECT)
    QByteArray query;     ///< canonical (http::canonicalQuery), without '?'; empty when none
    bool hasQuery = false;
    bool httpsScheme = false; ///< absolute-form `https://`: the client asked for TLS to the origin
    bool secureScheme = false; ///< https absolute-form, or origin-form received on an HTTPS listener
    /// The request target exactly as received when it already was in canonical form (the usual case), so the log
    /// shares it instead of rebuilding it; null otherwise.
    QByteArray canonicalRawTarget;

    /// The request target to forward: path[?query] ("*" for Asterisk).
    QByteArray originTarget() const;
    /// What the access log shows as the request's path: the target as forwarded, the CONNECT authority, or
    /// scheme://authority/path?query for absolute-form.
    QByteArray logTarget() const;
};

/// Computes the canonical request from a parsed head. `tlsClient`: received on an HTTPS listener.
/// A refused target gives the 400 reply the canonical stage ends the request with.
std::optional<LocalReply> canonicalizeRequest(const http::MessageHead &head, bool tlsClient,
                                              const http::PathOptions &paths, CanonicalRequest *out);

} // namespace dfproxy::proxy
