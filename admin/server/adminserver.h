// SPDX-License-Identifier: Apache-2.0
#pragma once
// The admin API server: the gate, QHttpServer, the routes and the security headers every answer carries.

#include "api/resourceapi.h"
#include "api/router.h"
#include "server/admingate.h"

#include "base/logcategories.h"
#include "config/adminoptions.h"

#include <QElapsedTimer>
#include <QHash>
#include <QHostAddress>
#include <QObject>
#include <QUrl>

#include <memory>

QT_BEGIN_NAMESPACE
class QHttpServer;
class QHttpServerRequest;
class QHttpServerResponder;
class QTcpServer;
QT_END_NAMESPACE

namespace dfproxy::admin {

/// The REST admin API on Qt HttpServer.
///
/// Connections are accepted by an AdminGate, which reads and checks every request head before QHttpServer sees any
/// of the body, and closes slow, silent and surplus connections (limits()). Every request passes, in order: the
/// Host check (a loopback name/address or the bound address, else 421 — stops
/// DNS rebinding), the Origin check (absent or our own origin, else 403 — stops cross-site requests), bearer-token
/// authentication (all paths but /healthz and /readyz; 401), the 1 MiB body limit (413), routing (404/405 with
/// Allow), then the handler. Every response carries nosniff, no-store, DENY framing and a `default-src 'none'` CSP.
/// Errors are application/problem+json (RFC 9457).
///
/// Endpoints: GET /healthz, GET /readyz, GET /api/v1/server, GET /api/v1/stats, GET|PUT /api/v1/config (whole config,
/// ETag / If-Match), GET|PUT /api/v1/logging, GET /api/v1/openapi.json, the resource API (ResourceApi) and whatever
/// addRoute() adds. Every route is documented in resources/openapi.json (checked by unit_admin). Lives on the main
/// thread, next to the ConfigStore it serves.
class AdminServer : public QObject
{
    Q_OBJECT
public:
    /// Largest request body accepted.
    static constexpr qsizetype kMaxBodyBytes = 1024 * 1024;

    /// `store` is not owned and must outlive the server.
    explicit AdminServer(config::ConfigStore *store, QObject *parent = nullptr);
    ~AdminServer() override;

    /// The bearer token clients must send. An empty token rejects every authenticated request.
    void setToken(const QByteArray &token) { m_token = token; }
    /// Loads or creates the token file beside the store's config file (dfproxy::adminTokenPath) and uses it.
    bool setupTokenFile(QString *error);

    /// Connection limits used by the next listen(): head and idle timeouts, connection count (the body limit is
    /// always kMaxBodyBytes). listenFromConfig() takes them from the admin block.
    void setLimits(const GateLimits &limits) { m_limits = limits; }
    const GateLimits &limits() const { return m_limits; }

    /// Listens on `address`:`port` (port 0 picks a free one). Returns false (see errorString()) on failure.
    bool listen(const QHostAddress &address, quint16 port);
    /// Listens on the config's admin block (parsed by the service: app::GlobalOptions::admin) with its limits;
    /// non-empty overrides (--admin-address, --admin-port) win.
    bool listenFromConfig(const config::AdminOptions &admin, const QString &addressOverride = {},
                          int portOverride = -1);
    void close();
    bool isListening() const;
    QHostAddress address() const { return m_address; }
    quint16 port() const { return m_port; }
    /// "http://127.0.0.1:15000" ([..] for IPv6; 127.0.0.1 when bound to Any).
    QUrl baseUrl() const;
    QString errorString() const { return m_error; }

    /// Computes `status` of objects on read (the routing area provides route status).
    void setStatusProvider(StatusProvider provider) { m_resources.setStatusProvider(std::move(provider)); }
    /// Serves GET /api/v1/stats (an empty object until set).
    void setStatsProvider(std::function<QJsonObject()> provider) { m_statsProvider = std::move(provider); }
    /// /readyz answers 503 with `reason` until ready (ready by default).
    void setReady(bool ready, const QString &reason = {});

    /// Extension point: adds an endpoint, e.g. addJsonRoute("GET", "/api/v1/dns/cache", ...) or
    /// addJsonRoute("DELETE", "/api/v1/dns/cache/{host}", ...). `{name}` segments land in ApiRequest::params.
    /// Routes need the bearer token unless `requireAuth` is false. Handlers run on the main thread.
    /// Handlers are not limited to JSON: return ApiResponse::raw("text/plain; version=0.0.4", text) for Prometheus
    /// /metrics, for example (same as addRoute()).
    void addJsonRoute(const QByteArray &method, const QString &pattern, ApiHandler handler, bool requireAuth = true);
    /// Same as addJsonRoute(); the name for routes whose answers are not JSON (ApiResponse::raw).
    void addRoute(const QByteArray &method, const QString &pattern, ApiHandler handler, bool requireAuth = true)
    {
        addJsonRoute(method, pattern, std::move(handler), requireAuth);
    }
    /// Every registered route as (method, pattern), built-in ones and those added later; for the OpenAPI check.
    QList<QPair<QByteArray, QString>> routes() const { return m_router.routes(); }

    /// The log level state served by /api/v1/logging: {"level", "categories", "filterRules"}.
    QJsonObject loggingState() const;
    /// Applies {"level": "debug"|"info"|"warning"|"error"|"critical", "categories": {"dfproxy.dns": "debug"}}
    /// through QLoggingCategory::setFilterRules. `level` applies to dfproxy.* and the default category; categories
    /// override it. Returns the field errors (nothing is changed then).
    QList<config::FieldError> setLogging(const QJsonObject &request);
    /// Sets the level of every dfproxy category (the config's logging.level at start; PUT changes it at run time).
    void setLogLevel(LogLevel level);

    /// A handler that writes the response itself (server-sent events, long responses). It runs on the main thread
    /// after the same checks as every route and gets the raw responder: write the status line and headers with
    /// it, then keep only a QPointer to responder.socket() for later writes (the socket is deleted when the
    /// client leaves; the security headers are the handler's job).
    using StreamHandler = std::function<void(const ApiRequest &, QHttpServerResponder &&)>;
    /// Extension point: a GET route answered by `handler` (token required).
    void addStreamRoute(const QString &pattern, StreamHandler handler);

private:
    struct PendingStream
    {
        StreamHandler handler;
        ApiRequest request;
    };
    ApiResponse dispatch(const QHttpServerRequest &request, PendingStream *stream = nullptr);
    /// Host, Origin and token checks, decided on the head alone: std::nullopt when the request may proceed.
    std::optional<ApiResponse> checkHead(const QByteArray &method, const QString &path,
                                         const QList<QPair<QByteArray, QByteArray>> &headers) const;
    ApiResponse serverInfo() const;
    ApiResponse getConfig(const ApiRequest &req) const;
    ApiResponse putConfig(const ApiRequest &req);
    bool hostAllowed(const QString &hostAndPort) const;
    bool originAllowed(const QByteArray &origin) const;

    config::ConfigStore *m_store;
    std::unique_ptr<QHttpServer> m_http;
    QTcpServer *m_tcp = nullptr; // the AdminGate, owned by m_http
    GateLimits m_limits;
    ApiRouter m_router;
    QHash<QString, StreamHandler> m_streamRoutes; // "GET seg/seg" -> handler
    ResourceApi m_resources;
    std::function<QJsonObject()> m_statsProvider;
    QByteArray m_token;
    QHostAddress m_address;
    quint16 m_port = 0;
    QString m_error;
    bool m_ready = true;
    QString m_notReadyReason;
    QElapsedTimer m_uptime;
    QString m_logLevel = QStringLiteral("debug"); // Qt's default: every level of dfproxy.* is on
    QMap<QString, QString> m_logCategories;
};

} // namespace dfproxy::admin
