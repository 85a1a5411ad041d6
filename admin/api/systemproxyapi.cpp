// SPDX-License-Identifier: Apache-2.0
#include "api/systemproxyapi.h"

#include "config/config.h"
#include "config/configstore.h"
#include "config/model.h"
#include "pac/pacsettings.h"
#include "server/adminserver.h"

#include <algorithm>
#include <tuple>

namespace dfproxy::admin {

namespace {

QHostAddress reachableAddress(const QHostAddress &bound)
{
    if (bound == QHostAddress::AnyIPv4 || bound == QHostAddress::Any)
        return QHostAddress(QHostAddress::LocalHost);
    if (bound == QHostAddress::AnyIPv6)
        return QHostAddress(QHostAddress::LocalHostIPv6);
    return bound;
}

} // namespace

QStringList systemProxyEndpoints(const QList<proxy::ProxyServer::BoundListener> &bound)
{
    QStringList out;
    for (const auto &l : bound) {
        desktop::ProxyTarget t;
        t.host = reachableAddress(l.address).toString();
        t.port = l.port;
        out.append(t.hostPort());
    }
    return out;
}

std::optional<desktop::ProxyTarget> systemProxyTarget(const config::Config &config,
                                                      const QList<proxy::ProxyServer::BoundListener> &bound,
                                                      QString *listenerName, QString *why)
{
    auto listeners = bound;
    std::stable_sort(listeners.begin(), listeners.end(), [](const auto &a, const auto &b) {
        return std::tie(a.gatewayNamespace, a.gatewayName) < std::tie(b.gatewayNamespace, b.gatewayName);
    });
    for (const auto &l : listeners) {
        const config::Resource *gw =
            config.find(config::ResourceKey{QStringLiteral("Gateway"), l.gatewayNamespace, l.gatewayName});
        if (!gw)
            continue;
        const config::GatewaySpec spec = config::parseGatewaySpec(*gw, nullptr);
        const auto it = std::find_if(spec.listeners.begin(), spec.listeners.end(),
                                     [&](const auto &s) { return s.name == l.name; });
        // The desktop's settings name a plain HTTP proxy; an HTTPS listener needs TLS to the proxy itself.
        if (it == spec.listeners.end() || it->protocol != QLatin1String("HTTP"))
            continue;
        const pac::PacSettings pac = pac::parsePacSettings(gw->metadata().value("annotations").toObject(), nullptr);
        desktop::ProxyTarget t;
        t.host = reachableAddress(l.address).toString();
        t.port = l.port;
        t.pacUrl = QStringLiteral("http://%1/proxy.pac").arg(t.hostPort());
        t.bypass = pac.bypassTexts();
        t.failClosed = pac.failMode == pac::FailMode::Closed;
        *listenerName = QStringLiteral("%1/%2/%3").arg(l.gatewayNamespace, l.gatewayName, l.name);
        return t;
    }
    *why = QStringLiteral("no HTTP listener is bound: the desktop has no proxy to point at (add a Gateway listener "
                          "with protocol HTTP)");
    return std::nullopt;
}

void registerSystemProxyApi(AdminServer &server, const config::ConfigStore *store, proxy::ProxyServer *proxy)
{
    server.addJsonRoute("GET", "/api/v1/system-proxy", [store, proxy](const ApiRequest &) {
        QString listener, why;
        const auto target = systemProxyTarget(store->config(), proxy->boundListeners(), &listener, &why);
        if (!target)
            return ApiResponse::problem(409, why);
        QJsonObject o = target->toJson();
        o.insert("listener", listener);
        o.insert("serviceCanSet", false);
        o.insert("setWith", "dfproxyctl system-proxy on");
        return ApiResponse::json(o);
    });
    server.addJsonRoute("PUT", "/api/v1/system-proxy", [](const ApiRequest &) {
        return ApiResponse::problem(
            409, QStringLiteral("the desktop's proxy is a per-user setting that the dfproxy service cannot change "
                                "(GNOME/KDE settings live in the user's session, and Windows does not support "
                                "WinINet in a service): run `dfproxyctl system-proxy on` as the desktop user, or "
                                "use the System proxy switch of dfproxy-console"));
    });
}

} // namespace dfproxy::admin
