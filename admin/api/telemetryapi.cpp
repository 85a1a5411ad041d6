// SPDX-License-Identifier: Apache-2.0
#include "api/telemetryapi.h"

#include "server/adminserver.h"
#include "telemetry/accesslogger.h"
#include "telemetry/metrics.h"

#include <QHttpServerResponder>
#include <QJsonArray>
#include <QJsonDocument>
#include <QPointer>
#include <QTcpSocket>
#include <QTimer>

#include <list>

namespace dfproxy::admin {
namespace {

constexpr int kDefaultLimit = 100;
constexpr int kMaxStreamClients = 32;
constexpr int kKeepAliveMs = 15000;
// A client that stops reading is cut off rather than buffered without end.
constexpr qint64 kMaxPendingBytes = 8 * 1024 * 1024;

QJsonArray toJson(const QList<telemetry::AccessLogEntry> &entries)
{
    QJsonArray out;
    for (const auto &e : entries)
        out.append(e.toJson());
    return out;
}

// Parses a non-negative integer query value; `fallback` when absent, std::nullopt when malformed.
std::optional<qint64> queryInt(const ApiRequest &req, const QString &key, qint64 fallback)
{
    if (!req.query.hasQueryItem(key))
        return fallback;
    bool ok = false;
    const qint64 v = req.query.queryItemValue(key).toLongLong(&ok);
    if (!ok || v < 0)
        return std::nullopt;
    return v;
}

/// The server-sent-event subscribers of the access log. Main thread. QHttpServer 6.4 cannot stream a response,
/// so after the headers are written through the responder, records go straight to the socket, always through a
/// QPointer: Qt deletes the socket when the client leaves, and writing to it then would crash.
class AccessLogStream : public QObject
{
public:
    AccessLogStream(telemetry::AccessLogger *logger, QObject *parent) : QObject(parent), m_logger(logger)
    {
        m_keepAlive.setInterval(kKeepAliveMs);
        connect(&m_keepAlive, &QTimer::timeout, this, [this] { broadcast(QByteArrayLiteral(": keep-alive\n\n")); });
    }

    void subscribe(const ApiRequest &req, QHttpServerResponder &&responder)
    {
        prune();
        auto after = queryInt(req, "after", -1);
        const QByteArray lastEventId = req.header("Last-Event-ID");
        if (!lastEventId.isEmpty()) {
            bool ok = false;
            const qint64 id = lastEventId.toLongLong(&ok);
            after = ok && id >= 0 ? std::optional<qint64>(id) : std::nullopt;
        }
        if (!after) {
            respondProblem(std::move(responder), 400, "after (or Last-Event-ID) must be a record sequence number");
            return;
        }
        if (m_clients.size() >= kMaxStreamClients) {
            respondProblem(std::move(responder), 503, "too many access-log streams are open");
            return;
        }
        QTcpSocket *socket = responder.socket();
        if (!socket || socket->state() != QAbstractSocket::ConnectedState)
            return;
        responder.writeStatusLine(QHttpServerResponder::StatusCode::Ok);
        responder.writeHeaders({{"Content-Type", "text/event-stream; charset=utf-8"},
                                {"Cache-Control", "no-store"},
                                {"X-Content-Type-Options", "nosniff"},
                                {"X-Frame-Options", "DENY"},
                                {"Content-Security-Policy", "default-src 'none'"},
                                {"X-Accel-Buffering", "no"},
                                {"Connection", "close"}});
        responder.writeBody(QByteArrayLiteral(": dfproxy access log\n\n"));
        // Without after=, a subscriber sees only what happens from now on.
        const quint64 from = *after < 0 ? m_logger->lastSeq() : quint64(*after);
        // The writer's batch signal is followed only while someone streams: each one would otherwise wake this
        // (main) thread every flush interval for nothing.
        if (m_clients.empty())
            m_feed = connect(m_logger, &telemetry::AccessLogger::recorded, this, &AccessLogStream::publish,
                             Qt::QueuedConnection);
        m_clients.push_back(Client{QPointer<QTcpSocket>(socket), from});
        if (!m_keepAlive.isActive())
            m_keepAlive.start();
        publish();
    }

private:
    struct Client
    {
        QPointer<QTcpSocket> socket;
        quint64 lastSeq = 0;
    };

    static void respondProblem(QHttpServerResponder &&responder, int status, const QString &detail)
    {
        const ApiResponse r = ApiResponse::problem(status, detail);
        responder.write(r.body, r.contentType, static_cast<QHttpServerResponder::StatusCode>(status));
    }

    static bool usable(const Client &c)
    {
        return c.socket && c.socket->state() == QAbstractSocket::ConnectedState
               && c.socket->bytesToWrite() < kMaxPendingBytes;
    }

    void prune()
    {
        for (auto it = m_clients.begin(); it != m_clients.end();) {
            if (usable(*it)) {
                ++it;
                continue;
            }
            if (it->socket)
                it->socket->abort(); // a slow reader: QHttpServer deletes the socket on disconnect
            it = m_clients.erase(it);
        }
        if (m_clients.empty()) {
            m_keepAlive.stop();
            disconnect(m_feed);
        }
    }

    void publish()
    {
        prune();
        for (auto &c : m_clients) {
            QByteArray out;
            for (;;) {
                const auto batch = m_logger->since(c.lastSeq, 500);
                if (batch.isEmpty())
                    break;
                for (const auto &e : batch) {
                    out += "id: " + QByteArray::number(e.seq) + "\ndata: "
                           + QJsonDocument(e.toJson()).toJson(QJsonDocument::Compact) + "\n\n";
                    c.lastSeq = e.seq;
                }
            }
            if (!out.isEmpty() && c.socket)
                c.socket->write(out);
        }
        prune();
    }

    void broadcast(const QByteArray &data)
    {
        prune();
        for (auto &c : m_clients) {
            if (c.socket)
                c.socket->write(data);
        }
    }

    telemetry::AccessLogger *m_logger;
    std::list<Client> m_clients;
    QTimer m_keepAlive;
    QMetaObject::Connection m_feed;
};

} // namespace

void registerTelemetryApi(AdminServer &server, telemetry::AccessLogger *logger, telemetry::MetricsRegistry *metrics)
{
    // Request metrics are fed as the access logger writes its batches: take what is queued first.
    server.addJsonRoute("GET", "/metrics", [metrics, logger](const ApiRequest &) {
        if (logger)
            logger->processPending();
        return ApiResponse::raw("text/plain; version=0.0.4; charset=utf-8", metrics->exposition());
    });
    server.addJsonRoute("GET", "/api/v1/metrics", [metrics, logger](const ApiRequest &) {
        if (logger)
            logger->processPending();
        return ApiResponse::json(metrics->toJson());
    });
    server.addJsonRoute("GET", "/api/v1/accesslog", [logger](const ApiRequest &req) {
        const auto limit = queryInt(req, "limit", kDefaultLimit);
        const auto after = queryInt(req, "after", -1);
        QList<config::FieldError> fields;
        if (!limit || *limit < 1 || *limit > 100000)
            fields.append(config::FieldError{"limit", "must be an integer from 1 to 100000"});
        if (!after)
            fields.append(config::FieldError{"after", "must be a record sequence number (0 or more)"});
        if (!fields.isEmpty())
            return ApiResponse::problem(400, "invalid query", fields);
        // The writer batches records for logging.accessLog.flushIntervalMs; a reader gets what is queued too.
        logger->processPending();
        const auto items = *after >= 0 ? logger->since(quint64(*after), int(*limit)) : logger->recent(int(*limit));
        return ApiResponse::json(QJsonObject{{"items", toJson(items)},
                                             {"lastSeq", qint64(logger->lastSeq())},
                                             {"stats", logger->stats().toJson()}});
    });
    auto *stream = new AccessLogStream(logger, &server);
    server.addStreamRoute("/api/v1/accesslog/stream", [stream](const ApiRequest &req, QHttpServerResponder &&r) {
        stream->subscribe(req, std::move(r));
    });
}

} // namespace dfproxy::admin
