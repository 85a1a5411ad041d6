// SPDX-License-Identifier: Apache-2.0
#pragma once
// The PAC file (proxy auto-config, a JavaScript FindProxyForURL) of one Gateway listener. Pure and deterministic:
// the same input gives the same bytes, so the ETag is a hash of the text. docs/pac.md shows a sample.

#include "pac/pacsettings.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

namespace dfproxy::pac {

/// What the PAC file of one listener is made of.
struct PacInput
{
    QString proxy; ///< the listener as a browser reaches it: "127.0.0.1:3128", "[::1]:3128"
    /// The host names the listener's HTTPRoutes send to a backend, canonical (lower case, no trailing dot):
    /// "www.example.com", "*.example.org" (every host under example.org), "*" (a route without hostnames: every
    /// host). Order and duplicates do not matter.
    QStringList hosts;
    PacSettings settings;
    QString comment; ///< one line naming the listener, e.g. "Gateway default/egress, listener http"
};

/// The PAC text: the bypass list returns DIRECT (checked first); the route hosts return `PROXY a:p` (failMode
/// closed) or `PROXY a:p; DIRECT` (open); every other host returns the same PROXY when closed (dfproxy refuses it)
/// and DIRECT when open. Host spellings are normalised first (case, a trailing dot, IPv6 brackets), and IP blocks
/// match IP literals only, so the browser never resolves a name to evaluate the file.
QByteArray generatePac(const PacInput &input);

/// A strong ETag of a PAC text: a quoted hash of the bytes.
QByteArray pacEtag(const QByteArray &text);

} // namespace dfproxy::pac
