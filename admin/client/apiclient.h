// SPDX-License-Identifier: Apache-2.0
#pragma once
// The REST client of the admin API, shared by dfproxyctl and the console: calls, token, problem+json errors.

#include "client/paths.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QNetworkReply>
#include <QObject>
#include <QUrl>
#include <QUrlQuery>

#include <functional>
#include <optional>

QT_BEGIN_NAMESPACE
class QNetworkAccessManager;
QT_END_NAMESPACE

namespace dfproxy::client {

/// A failed call: an HTTP problem (RFC 9457) from the server, or a transport failure (status 0).
struct ApiError
{
    int status = 0;        ///< HTTP status; 0 when no response arrived
    QString type;          ///< problem type URI
    QString title;         ///< "Unprocessable Content", or a short transport error
    QString detail;        ///< the server's explanation, or the transport error text
    QList<QPair<QString, QString>> fields; ///< validation errors: field path, message
    QNetworkReply::NetworkError networkError = QNetworkReply::NoError;

    /// True when the server could not be reached at all (refused, host not found, timeout).
    bool isConnectionError() const { return status == 0; }
    /// One line: "<detail> (HTTP 422)" or the transport message.
    QString toString() const;
};

/// The outcome of one call.
struct ApiResult
{
    int status = 0;
    QByteArray contentType;
    QByteArray body;
    QJsonValue json;                ///< parsed body when it is JSON
    QByteArray etag;                ///< the ETag response header, quotes included ("" when absent)
    std::optional<ApiError> error;  ///< set when status is not 2xx or the transport failed

    bool ok() const { return !error.has_value(); }
    QJsonObject object() const { return json.toObject(); }
};

/// Client of the dfproxy admin REST API (see resources/openapi.json). Knows the REST contract only.
///
/// Asynchronous calls deliver their ApiResult to a callback on this object's thread (for the GUI); the *Blocking
/// variants spin a local event loop until the reply or the timeout (for the CLI). Never uses a network proxy and
/// never follows redirects.
class ApiClient : public QObject
{
    Q_OBJECT
public:
    using Callback = std::function<void(const ApiResult &)>;

    explicit ApiClient(QObject *parent = nullptr);
    ApiClient(const QUrl &baseUrl, const QByteArray &token, QObject *parent = nullptr);
    ~ApiClient() override;

    void setBaseUrl(const QUrl &url) { m_baseUrl = url; }
    QUrl baseUrl() const { return m_baseUrl; }
    void setToken(const QByteArray &token) { m_token = token; }
    QByteArray token() const { return m_token; }
    /// Per-request timeout (default 15 s).
    void setTimeoutMs(int ms) { m_timeoutMs = ms; }

    /// Sends any request. `path` starts with '/'. `done` may be empty (then only finished() reports the result).
    void send(const QByteArray &method, const QString &path, const QUrlQuery &query = {}, const QByteArray &body = {},
              const QByteArray &contentType = {}, Callback done = {});
    /// Like send(), with extra request headers (e.g. If-Match for PUT /api/v1/config).
    void sendWithHeaders(const QByteArray &method, const QString &path,
                         const QList<QPair<QByteArray, QByteArray>> &headers, const QByteArray &body,
                         const QByteArray &contentType, Callback done);
    /// Same, waiting for the result.
    ApiResult sendBlocking(const QByteArray &method, const QString &path, const QUrlQuery &query = {},
                           const QByteArray &body = {}, const QByteArray &contentType = {});

    /// "/api/v1/<plural>" (all namespaces) or "/api/v1/namespaces/<ns>/<plural>".
    static QString collectionPath(const QString &plural, const QString &ns = {});
    /// "/api/v1/namespaces/<ns>/<plural>/<name>".
    static QString objectPath(const QString &plural, const QString &ns, const QString &name);

    // Convenience calls (async). `ns` empty lists all namespaces.
    void list(const QString &plural, const QString &ns, Callback done);
    void get(const QString &plural, const QString &ns, const QString &name, Callback done);
    void create(const QString &plural, const QJsonObject &object, Callback done);
    void replace(const QString &plural, const QJsonObject &object, Callback done);
    void remove(const QString &plural, const QString &ns, const QString &name, Callback done);
    /// POST /api/v1/apply with a JSON array of objects.
    void apply(const QJsonArray &objects, bool dryRun, Callback done);
    void serverInfo(Callback done);
    void stats(Callback done);

    /// Opens a long-lived GET (e.g. server-sent events) with the token and no transfer timeout. The caller reads the
    /// reply as data arrives (readyRead) and owns it: abort() and deleteLater() it when done. finished() is not
    /// emitted for streams.
    QNetworkReply *openStream(const QString &path, const QUrlQuery &query = {});

    /// Where a local dfproxy's admin API is, read from its config file and the admin-token beside it.
    struct Discovery
    {
        QUrl baseUrl;        ///< from admin.address/admin.port (defaults 127.0.0.1:15000)
        QByteArray token;    ///< empty if the token file is missing or unreadable
        QString configPath;
        QString tokenPath;
        QString problem;     ///< why discovery was partial (no config file, unreadable token), empty if none
    };
    static Discovery discoverLocal(const QString &configPath = defaultConfigPath());

    /// Turns a finished reply into an ApiResult (exposed for tests).
    static ApiResult resultFromReply(QNetworkReply *reply, const QUrl &baseUrl);

Q_SIGNALS:
    /// Every finished call, after its callback.
    void finished(const dfproxy::client::ApiResult &result);

private:
    void sendRequest(const QByteArray &method, const QUrl &url, const QList<QPair<QByteArray, QByteArray>> &headers,
                     const QByteArray &body, const QByteArray &contentType, Callback done);

    QNetworkAccessManager *m_nam;
    QUrl m_baseUrl;
    QByteArray m_token;
    int m_timeoutMs = 15000;
};

} // namespace dfproxy::client
