// SPDX-License-Identifier: Apache-2.0
#include "server/adminserver.h"

#include "base/logcategories.h"
#include "base/version.h"
#include "client/paths.h"
#include "config/yaml.h"
#include "platform/poller.h"
#include "platform/sendbatch.h"
#include "platform/splice.h"
#include "server/admingate.h"
#include "server/admintoken.h"
#include "server/relaysocket.h"

#include <QDateTime>
#include <QFile>
#include <QHttpServer>
#include <QHttpServerRequest>
#include <QHttpServerResponse>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QRegularExpression>
#include <QTcpServer>

// The compiled-in resources live in a static library; make sure its initializer runs (idempotent).
static void initResources()
{
    Q_INIT_RESOURCE(resources);
}

namespace dfproxy::admin {

namespace {

QByteArray methodName(QHttpServerRequest::Method m)
{
    using M = QHttpServerRequest::Method;
    switch (m) {
    case M::Get: return "GET";
    case M::Put: return "PUT";
    case M::Delete: return "DELETE";
    case M::Post: return "POST";
    case M::Head: return "HEAD";
    case M::Options: return "OPTIONS";
    case M::Patch: return "PATCH";
    case M::Connect: return "CONNECT";
    case M::Trace: return "TRACE";
    default: return "UNKNOWN";
    }
}

QByteArray headerOf(const QList<QPair<QByteArray, QByteArray>> &headers, const QByteArray &name)
{
    for (const auto &h : headers) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return h.second;
    }
    return {};
}

QByteArray headerOf(const QHttpServerRequest &req, const QByteArray &name)
{
    return headerOf(req.headers(), name);
}

// Answers `r` with the security headers every response carries; `close` ends the connection after it.
void writeResponse(const ApiResponse &r, QHttpServerResponder &&responder, bool close)
{
    QHttpServerResponse resp(r.contentType, r.body, static_cast<QHttpServerResponder::StatusCode>(r.status));
    for (const auto &h : r.headers)
        resp.addHeader(h.first, h.second);
    resp.addHeader("X-Content-Type-Options", "nosniff");
    resp.addHeader("Cache-Control", "no-store");
    resp.addHeader("X-Frame-Options", "DENY");
    resp.addHeader("Content-Security-Policy", "default-src 'none'");
    if (close)
        resp.addHeader("Connection", "close");
    QTcpSocket *socket = responder.socket();
    resp.write(std::move(responder));
    if (close && socket)
        socket->disconnectFromHost();
}

// An admin-block limit (0 = not set), else `fallback`.
int limitOr(int configured, int fallback)
{
    return configured > 0 ? configured : fallback;
}

// Splits "host:port", "[v6]:port" or "host" and returns the host part without brackets.
QString hostPart(const QString &hostAndPort)
{
    QString h = hostAndPort.trimmed();
    if (h.startsWith('[')) {
        const auto end = h.indexOf(']');
        return end > 0 ? h.mid(1, end - 1) : QString();
    }
    if (h.count(':') == 1)
        h = h.left(h.indexOf(':'));
    return h.toLower();
}

bool isAnyAddress(const QHostAddress &a)
{
    return a == QHostAddress::Any || a == QHostAddress::AnyIPv4 || a == QHostAddress::AnyIPv6;
}

QJsonArray listenersOf(const config::Config &cfg)
{
    QJsonArray out;
    for (const auto *gw : cfg.ofKind(config::kinds::Gateway)) {
        QJsonArray addresses;
        for (const auto &a : gw->spec().value("addresses").toArray())
            addresses.append(a.toObject().value("value"));
        for (const auto &l : gw->spec().value("listeners").toArray()) {
            const auto lo = l.toObject();
            out.append(QJsonObject{{"gateway", gw->ns() + "/" + gw->name()},
                                   {"name", lo.value("name")},
                                   {"protocol", lo.value("protocol")},
                                   {"port", lo.value("port")},
                                   {"addresses", addresses}});
        }
    }
    return out;
}

// QLoggingCategory rules enabling `level` and above for `category` ("dfproxy.*", "default", "dfproxy.dns").
QString rulesFor(const QString &category, const QString &level)
{
    static const QStringList qtTypes{"debug", "info", "warning", "critical"};
    const int min = std::max<qsizetype>(0, qtTypes.indexOf(level == "error" ? QStringLiteral("critical") : level));
    QStringList lines;
    for (int i = 0; i < qtTypes.size(); ++i)
        lines.append(QStringLiteral("%1.%2=%3").arg(category, qtTypes[i], i >= min ? "true" : "false"));
    return lines.join('\n');
}

QString stripQuotes(QByteArray v)
{
    v = v.trimmed();
    if (v.startsWith("W/"))
        v = v.mid(2);
    if (v.size() >= 2 && v.startsWith('"') && v.endsWith('"'))
        v = v.mid(1, v.size() - 2);
    return QString::fromLatin1(v);
}

} // namespace

AdminServer::AdminServer(config::ConfigStore *store, QObject *parent)
    : QObject(parent), m_store(store), m_http(std::make_unique<QHttpServer>()), m_resources(store)
{
    m_uptime.start();
    initResources();
    // One entry point for every request: the checks and 405 handling must cover all paths uniformly, which the
    // per-route handlers of QHttpServer cannot (wrong methods land in the missing handler as 404 there).
    m_http->setMissingHandler([this](const QHttpServerRequest &request, QHttpServerResponder &&responder) {
        // The gate (AdminGate) decided some requests on their heads already; their answer is its verdict.
        if (auto *relay = qobject_cast<RelaySocket *>(responder.socket())) {
            if (auto verdict = relay->takeVerdict()) {
                writeResponse(*verdict, std::move(responder), true);
                return;
            }
        }
        PendingStream stream;
        const ApiResponse r = dispatch(request, &stream);
        if (stream.handler) {
            stream.handler(stream.request, std::move(responder));
            return;
        }
        writeResponse(r, std::move(responder), false);
    });

    m_router.add("GET", "/healthz", [](const ApiRequest &) {
        return ApiResponse::raw("text/plain; charset=utf-8", "ok\n");
    }, false);
    m_router.add("GET", "/readyz", [this](const ApiRequest &) {
        if (!m_ready)
            return ApiResponse::problem(503, m_notReadyReason.isEmpty() ? QStringLiteral("not ready") : m_notReadyReason);
        return ApiResponse::raw("text/plain; charset=utf-8", "ok\n");
    }, false);
    m_router.add("GET", "/api/v1/server", [this](const ApiRequest &) { return serverInfo(); });
    m_router.add("GET", "/api/v1/stats", [this](const ApiRequest &) {
        return ApiResponse::json(m_statsProvider ? m_statsProvider() : QJsonObject{});
    });
    m_router.add("GET", "/api/v1/openapi.json", [](const ApiRequest &) {
        QFile f(QStringLiteral(":/dfproxy/openapi.json"));
        if (!f.open(QIODevice::ReadOnly))
            return ApiResponse::problem(404, QStringLiteral("the OpenAPI document is not built in"));
        return ApiResponse::raw("application/json", f.readAll());
    });
    m_router.add("GET", "/api/v1/config", [this](const ApiRequest &r) { return getConfig(r); });
    m_router.add("PUT", "/api/v1/config", [this](const ApiRequest &r) { return putConfig(r); });
    m_router.add("GET", "/api/v1/logging", [this](const ApiRequest &) { return ApiResponse::json(loggingState()); });
    m_router.add("PUT", "/api/v1/logging", [this](const ApiRequest &r) {
        ApiResponse error;
        const auto body = decodeObjectBody(r, &error);
        if (!body)
            return error;
        if (const auto fields = setLogging(*body); !fields.isEmpty())
            return ApiResponse::problem(422, QStringLiteral("invalid logging settings"), fields);
        return ApiResponse::json(loggingState());
    });
    m_resources.registerRoutes(m_router);
}

void AdminServer::setLogLevel(LogLevel level)
{
    m_logLevel = toString(level);
    QLoggingCategory::setFilterRules(loggingState().value("filterRules").toString());
}

namespace {
QString unknownCategoryHelp()
{
    QStringList names;
    for (const auto &c : knownLogCategories())
        names.append(c.name);
    return QStringLiteral("is not a dfproxy logging category; they are %1 (or a prefix with .*)").arg(names.join(", "));
}
} // namespace

QJsonObject AdminServer::loggingState() const
{
    QJsonObject cats;
    QStringList rules{rulesFor("dfproxy.*", m_logLevel), rulesFor("default", m_logLevel)};
    for (auto it = m_logCategories.begin(); it != m_logCategories.end(); ++it) {
        cats.insert(it.key(), it.value());
        rules.append(rulesFor(it.key(), it.value()));
    }
    QJsonArray known;
    for (const auto &c : knownLogCategories())
        known.append(QJsonObject{{"name", c.name}, {"description", c.description}});
    return QJsonObject{{"level", m_logLevel}, {"categories", cats}, {"filterRules", rules.join('\n')}, {"known", known}};
}

QList<config::FieldError> AdminServer::setLogging(const QJsonObject &request)
{
    QList<config::FieldError> errors;
    static const QRegularExpression categoryName(QStringLiteral("^[A-Za-z0-9_\\-]+(\\.[A-Za-z0-9_\\-]+)*(\\.\\*)?$"));
    const QString levelHelp = QStringLiteral("must be one of %1").arg(logLevelNames().join(", "));
    for (auto it = request.begin(); it != request.end(); ++it) {
        if (it.key() != "level" && it.key() != "categories" && it.key() != "filterRules" && it.key() != "known")
            errors.append(config::FieldError{it.key(), QStringLiteral("unknown field; use level and categories")});
    }
    QString level = m_logLevel;
    if (request.contains("level")) {
        level = request.value("level").toString().toLower();
        if (!logLevelFromString(level))
            errors.append(config::FieldError{"level", levelHelp});
    }
    QMap<QString, QString> cats = m_logCategories;
    if (request.contains("categories")) {
        if (!request.value("categories").isObject()) {
            errors.append(config::FieldError{"categories", "must be an object {\"category\": \"level\"}"});
        } else {
            cats.clear();
            const QJsonObject o = request.value("categories").toObject();
            for (auto it = o.begin(); it != o.end(); ++it) {
                const QString l = it.value().toString().toLower();
                if (!categoryName.match(it.key()).hasMatch())
                    errors.append(config::FieldError{"categories." + it.key(), "is not a logging category name (e.g. dfproxy.dns)"});
                else if (!isKnownLogCategoryPattern(it.key()))
                    errors.append(config::FieldError{"categories." + it.key(), unknownCategoryHelp()});
                else if (!logLevelFromString(l))
                    errors.append(config::FieldError{"categories." + it.key(), levelHelp});
                else
                    cats.insert(it.key(), l);
            }
        }
    }
    if (!errors.isEmpty())
        return errors;
    m_logLevel = level;
    m_logCategories = cats;
    QLoggingCategory::setFilterRules(loggingState().value("filterRules").toString());
    return {};
}

ApiResponse AdminServer::getConfig(const ApiRequest &req) const
{
    const QJsonObject doc = m_store->config().toJson();
    ApiResponse r = req.query.queryItemValue("format") == "yaml" ? ApiResponse::raw("application/yaml", config::toYaml(doc))
                                                                 : ApiResponse::json(doc);
    r.addHeader("ETag", "\"" + m_store->configEtag().toLatin1() + "\"");
    return r;
}

ApiResponse AdminServer::putConfig(const ApiRequest &req)
{
    const QString ifMatch = stripQuotes(req.header("If-Match"));
    if (ifMatch.isEmpty()) {
        // Replacing everything blindly would silently undo a concurrent change: demand the ETag of what was read.
        return ApiResponse::problem(428, QStringLiteral("PUT /api/v1/config needs an If-Match header with the ETag of "
                                                        "GET /api/v1/config (or If-Match: * to overwrite)"));
    }
    ApiResponse error;
    const auto body = decodeObjectBody(req, &error);
    if (!body)
        return error;
    config::WriteOptions opts;
    opts.dryRun = req.dryRun();
    opts.ifMatch = ifMatch;
    auto result = m_store->replaceConfig(*body, opts);
    if (!result)
        return ApiResponse::fromStoreError(result.error);
    ApiResponse r = ApiResponse::json(result.value->toJson());
    if (!opts.dryRun)
        r.addHeader("ETag", "\"" + m_store->configEtag().toLatin1() + "\"");
    return r;
}

AdminServer::~AdminServer() = default;

bool AdminServer::setupTokenFile(QString *error)
{
    const QByteArray token = loadOrCreateAdminToken(adminTokenPath(m_store->path()), error);
    if (token.isEmpty())
        return false;
    m_token = token;
    return true;
}

bool AdminServer::listen(const QHostAddress &address, quint16 port)
{
    close();
    m_limits.maxBodyBytes = kMaxBodyBytes;
    // The gate checks each request head before QHttpServer reads any of the body (see AdminGate).
    auto *tcp = new AdminGate(m_limits, [this](const http::MessageHead &head) -> std::optional<ApiResponse> {
        return checkHead(head.method, QUrl::fromEncoded(head.target).path(), head.headers);
    }, m_http.get());
    if (!tcp->listen(address, port)) {
        m_error = QStringLiteral("cannot listen on %1:%2: %3").arg(address.toString()).arg(port).arg(tcp->errorString());
        delete tcp;
        return false;
    }
    m_http->bind(tcp);
    m_tcp = tcp;
    m_address = address;
    m_port = tcp->serverPort();
    m_error.clear();
    return true;
}

bool AdminServer::listenFromConfig(const config::AdminOptions &admin, const QString &addressOverride,
                                   int portOverride)
{
    const GateLimits defaults;
    m_limits.headTimeoutMs = limitOr(admin.headTimeoutMs, defaults.headTimeoutMs);
    m_limits.idleTimeoutMs = limitOr(admin.idleTimeoutMs, defaults.idleTimeoutMs);
    m_limits.maxConnections = limitOr(admin.maxConnections, defaults.maxConnections);
    const QString addressText = addressOverride.isEmpty() ? admin.address : addressOverride;
    const int port = portOverride >= 0 ? portOverride : admin.port;
    const QHostAddress address = config::AdminOptions::hostAddress(addressText);
    if (address.isNull()) {
        m_error = QStringLiteral("admin.address \"%1\" is not an IP address").arg(addressText);
        return false;
    }
    if (port < 0 || port > 65535) {
        m_error = QStringLiteral("admin.port %1 is out of range").arg(port);
        return false;
    }
    return listen(address, static_cast<quint16>(port));
}

void AdminServer::close()
{
    if (m_tcp) {
        m_tcp->close();
        m_tcp->deleteLater();
        m_tcp = nullptr;
    }
    m_port = 0;
}

bool AdminServer::isListening() const
{
    return m_tcp && m_tcp->isListening();
}

QUrl AdminServer::baseUrl() const
{
    QUrl u;
    u.setScheme("http");
    u.setHost(isAnyAddress(m_address) ? QStringLiteral("127.0.0.1") : m_address.toString());
    u.setPort(m_port);
    return u;
}

void AdminServer::setReady(bool ready, const QString &reason)
{
    m_ready = ready;
    m_notReadyReason = reason;
}

void AdminServer::addJsonRoute(const QByteArray &method, const QString &pattern, ApiHandler handler, bool requireAuth)
{
    m_router.add(method, pattern, std::move(handler), requireAuth);
}

void AdminServer::addStreamRoute(const QString &pattern, StreamHandler handler)
{
    m_streamRoutes.insert("GET " + pattern.split('/', Qt::SkipEmptyParts).join('/'), std::move(handler));
    m_router.add("GET", pattern, [](const ApiRequest &) {
        return ApiResponse::problem(500, QStringLiteral("this streaming endpoint needs a connection"));
    });
}

bool AdminServer::hostAllowed(const QString &hostAndPort) const
{
    const QString host = hostPart(hostAndPort);
    if (host == "localhost" || host == "localhost.")
        return true;
    const QHostAddress a(host);
    if (a.isNull())
        return false;
    if (a.isLoopback())
        return true;
    // Bound to all interfaces: any address literal of this machine is fine; names still are not (DNS rebinding).
    return isAnyAddress(m_address) || a.isEqual(m_address, QHostAddress::TolerantConversion);
}

bool AdminServer::originAllowed(const QByteArray &origin) const
{
    const QUrl u(QString::fromLatin1(origin));
    if (!u.isValid() || u.scheme() != "http" || u.host().isEmpty())
        return false;
    return hostAllowed(u.host().contains(':') ? "[" + u.host() + "]" : u.host()) && u.port(80) == m_port;
}

std::optional<ApiResponse> AdminServer::checkHead(const QByteArray &method, const QString &path,
                                                 const QList<QPair<QByteArray, QByteArray>> &headers) const
{
    const QByteArray host = headerOf(headers, "Host");
    if (!host.isEmpty() && !hostAllowed(QString::fromLatin1(host)))
        return ApiResponse::problem(421, QStringLiteral("the admin API answers only to loopback host names"));
    const QByteArray origin = headerOf(headers, "Origin");
    if (!origin.isEmpty() && !originAllowed(origin))
        return ApiResponse::problem(403, QStringLiteral("cross-origin requests are not allowed"));

    const auto match = m_router.match(method, path);
    const bool needsAuth = !(match.route && !match.route->requireAuth);
    if (needsAuth) {
        const QByteArray auth = headerOf(headers, "Authorization");
        const bool bearer = auth.size() > 7 && auth.left(7).compare("Bearer ", Qt::CaseInsensitive) == 0;
        if (!bearer || m_token.isEmpty() || !constantTimeEquals(auth.mid(7).trimmed(), m_token)) {
            ApiResponse r = ApiResponse::problem(
                401, bearer ? QStringLiteral("the bearer token is not valid")
                            : QStringLiteral("this endpoint needs an Authorization: Bearer <token> header; the token is "
                                             "in the admin-token file next to the config file"));
            r.addHeader("WWW-Authenticate", "Bearer realm=\"dfproxy\"");
            return r;
        }
    }
    return std::nullopt;
}

ApiResponse AdminServer::dispatch(const QHttpServerRequest &request, PendingStream *stream)
{
    ApiRequest req;
    req.method = methodName(request.method());
    req.path = request.url().path();
    req.query = request.query();
    req.headers = request.headers();
    // The gate ran the same checks on the head; they run again on what QHttpServer parsed, so no difference
    // between the two parsers can let a request past them.
    if (auto refused = checkHead(req.method, req.path, req.headers))
        return *refused;
    const auto match = m_router.match(req.method, req.path);
    if (request.body().size() > kMaxBodyBytes)
        return ApiResponse::problem(413, QStringLiteral("the request body is larger than %1 bytes").arg(kMaxBodyBytes));
    if (!match.route) {
        if (!match.allowedMethods.isEmpty()) {
            ApiResponse r = ApiResponse::problem(
                405, QStringLiteral("%1 is not allowed on %2").arg(QString::fromLatin1(req.method), req.path));
            r.addHeader("Allow", match.allowedMethods.join(", ").toLatin1());
            return r;
        }
        return ApiResponse::problem(404, QStringLiteral("no endpoint at %1").arg(req.path));
    }
    req.params = match.params;
    req.body = request.body();
    req.contentType = headerOf(request, "Content-Type").split(';').first().trimmed().toLower();
    if (stream && !m_streamRoutes.isEmpty()) {
        const auto it = m_streamRoutes.constFind(QString::fromLatin1(match.route->method) + ' '
                                                 + match.route->segments.join('/'));
        if (it != m_streamRoutes.constEnd()) {
            stream->handler = *it;
            stream->request = req;
            return {};
        }
    }
    return match.route->handler(req);
}

ApiResponse AdminServer::serverInfo() const
{
    const auto &cfg = m_store->config();
    return ApiResponse::json(QJsonObject{
        {"version", QString::fromLatin1(versionString())},
        {"uptimeSeconds", static_cast<double>(m_uptime.elapsed() / 1000)},
        {"startTime", QDateTime::currentDateTimeUtc().addMSecs(-m_uptime.elapsed()).toString(Qt::ISODate)},
        {"configPath", m_store->path()},
        {"lastError", m_store->lastError()},
        {"configError", m_store->lastError()}, // older name of lastError
        {"watchingConfig", m_store->isWatching()},
        {"usingBackup", m_store->usingBackup()},
        {"usingEmptyConfig", m_store->usingEmptyConfig()},
        {"resourceVersion", m_store->resourceVersion()},
        {"admin", QJsonObject{{"address", m_address.toString()}, {"port", m_port}, {"url", baseUrl().toString()}}},
        {"listeners", listenersOf(cfg)},
        {"ready", m_ready},
        // How plain-TCP bytes move on this machine (docs/proxy.md, "Engines"): what the platform and kernel allow.
        {"dataPath", QJsonObject{
                         {"poller", platform::Poller::available() ? "epoll" : "socket notifiers"},
                         {"splice", platform::SplicePipe::supported()},
                         {"batchedSends", platform::SendBatch::available() ? "io_uring" : "off"},
                     }},
    });
}

} // namespace dfproxy::admin
