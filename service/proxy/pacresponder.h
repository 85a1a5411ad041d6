// SPDX-License-Identifier: Apache-2.0
#pragma once
// The PAC file every HTTP listener serves about itself: GET or HEAD /proxy.pac and /wpad.dat in origin form, with
// Host one of the listener's own addresses (with or without its port) or localhost. Everything else on the
// listener's own address goes on as before. docs/pac.md describes it.

#include "http/httpparser.h"
#include "proxy/canonicalrequest.h"
#include "proxy/localreply.h"
#include "routing/routetable.h"

#include <QByteArray>
#include <QHostAddress>

#include <optional>

namespace dfproxy::proxy {

class Router;

/// The reply to `head` when it asks `listener` (the listener the connection was accepted on) for its PAC file
/// (its Content-Type among the headers; no body for 304); nullopt when it does not. `router` (may be null) is the
/// configuration in effect: the PAC file is made from its copy of the listener, so a kept-alive connection never
/// serves a file older than the config. Thread-safe.
std::optional<LocalReply> answerPacRequest(const http::MessageHead &head, const CanonicalRequest &canon,
                                           const routing::Listener &listener, const Router *router);

/// True when `host` (canonical, as CanonicalRequest::host) names the listener itself: "localhost", its address,
/// or, when it listens on a wildcard address, an address of this machine.
bool isListenerSelf(const QByteArray &host, const routing::Listener &listener);

} // namespace dfproxy::proxy
