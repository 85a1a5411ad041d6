// SPDX-License-Identifier: Apache-2.0
#pragma once
// The system-proxy endpoint: where the desktop should point (the first bound HTTP listener and its PAC URL).

#include "desktop/systemproxy.h"
#include "proxy/proxyserver.h"

namespace dfproxy::config {
struct Config;
class ConfigStore;
}

namespace dfproxy::admin {

class AdminServer;

/// Where the desktop should point: the first bound HTTP listener (Gateways by namespace/name, then listener order;
/// a wildcard address becomes loopback), its PAC URL, and its Gateway's `dfproxy.dev/pac-*` failMode and bypass
/// list. std::nullopt with `why` when no HTTP listener is bound.
std::optional<desktop::ProxyTarget> systemProxyTarget(const config::Config &config,
                                                      const QList<proxy::ProxyServer::BoundListener> &bound,
                                                      QString *listenerName, QString *why);

/// The addresses the desktop's settings use for the bound listeners ("127.0.0.1:8080"; wildcards as loopback).
QStringList systemProxyEndpoints(const QList<proxy::ProxyServer::BoundListener> &bound);

/// Registers the system-proxy endpoints on `server`:
///   GET /api/v1/system-proxy   the target (proxy, pacUrl, bypass, failMode, defaultMode, listener) that
///                              `dfproxyctl system-proxy on` and the console write into the desktop's settings
///   PUT /api/v1/system-proxy   409: the desktop's proxy is a per-user setting the service cannot change
///                              (docs/desktop.md); dfproxyctl and the console do it in the user's session
/// `store` and `proxy` are not owned and must outlive the server.
void registerSystemProxyApi(AdminServer &server, const config::ConfigStore *store, proxy::ProxyServer *proxy);

} // namespace dfproxy::admin
