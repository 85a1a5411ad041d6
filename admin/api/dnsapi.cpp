// SPDX-License-Identifier: Apache-2.0
#include "api/dnsapi.h"

#include "dns/dnshostcache.h"
#include "server/adminserver.h"

#include <QJsonArray>
#include <QJsonObject>

namespace dfproxy::admin {
namespace {

// "host:port" / "[v6]:port" / "host" (port 80), host checked to be a DNS name or an IP literal.
QString splitHostPort(const QString &s, QString *host, quint16 *port)
{
    return dns::DnsHostCache::parseHostPort(s, host, port, 80);
}

} // namespace

void registerDnsApi(AdminServer &server, dns::DnsHostCache *cache)
{
    server.addJsonRoute("GET", "/api/v1/dns/cache", [cache](const ApiRequest &) {
        return ApiResponse::json(QJsonObject{{"items", cache->entriesJson()}});
    });
    server.addJsonRoute("DELETE", "/api/v1/dns/cache", [cache](const ApiRequest &) {
        const auto n = cache->entries().size();
        cache->flush();
        return ApiResponse::json(QJsonObject{{"flushed", static_cast<int>(n)}});
    });
    server.addJsonRoute("DELETE", "/api/v1/dns/cache/{hostport}", [cache](const ApiRequest &req) {
        QString host;
        quint16 port = 0;
        const QString err = splitHostPort(req.params.value("hostport"), &host, &port);
        if (!err.isEmpty())
            return ApiResponse::problem(400, err + " (expected host:port, e.g. example.com:443 or [::1]:8080)");
        if (!cache->remove(host, port))
            return ApiResponse::problem(404, QStringLiteral("%1:%2 is not in the DNS cache").arg(host).arg(port));
        return ApiResponse::json(QJsonObject{{"removed", dns::DnsHostCache::hostPortKey(host, port)}});
    });
    server.addJsonRoute("POST", "/api/v1/dns/resolve", [cache](const ApiRequest &req) {
        ApiResponse error;
        const auto body = decodeObjectBody(req, &error);
        if (!body)
            return error;
        QList<config::FieldError> fields;
        QString host = body->value("host").toString().trimmed().toLower();
        if (!body->value("host").isString() || host.isEmpty()) {
            fields.append(config::FieldError{"host", "is required (a DNS name or an IP address)"});
        } else {
            quint16 ignored = 0;
            const QString err = dns::DnsHostCache::parseHostPort(
                host.contains(':') && !host.startsWith('[') ? '[' + host + ']' : host, &host, &ignored, 80);
            if (!err.isEmpty())
                fields.append(config::FieldError{"host", err});
        }
        const QJsonValue portValue = body->value("port");
        const int port = portValue.isUndefined() ? 80 : (portValue.isDouble() ? portValue.toInt(-1) : -1);
        if (port < 1 || port > 65535)
            fields.append(config::FieldError{"port", "must be a number between 1 and 65535"});
        auto family = cache->options().lookupFamily;
        if (body->contains("lookupFamily")) {
            const QJsonValue v = body->value("lookupFamily");
            const auto f = dns::lookupFamilyFromString(v.toString());
            if (!f) {
                const QString why = v.isString() ? lookupFamilyChoicesError(v.toString()) : lookupFamilyChoicesError();
                fields.append(config::FieldError{"lookupFamily", why});
            } else {
                family = *f;
            }
        }
        if (!fields.isEmpty())
            return ApiResponse::problem(422, "invalid preresolve request", fields);
        cache->preresolve(host, static_cast<quint16>(port), family);
        return ApiResponse::json(QJsonObject{{"resolving", dns::DnsHostCache::hostPortKey(host, quint16(port))}}, 202);
    });
    server.addJsonRoute("GET", "/api/v1/dns/stats",
                        [cache](const ApiRequest &) { return ApiResponse::json(cache->statsJson()); });
    server.addJsonRoute("GET", "/api/v1/dns/settings",
                        [cache](const ApiRequest &) { return ApiResponse::json(cache->settingsJson()); });
}

} // namespace dfproxy::admin
