// SPDX-License-Identifier: Apache-2.0
#include "client/apiclient.h"

#include <QEventLoop>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkRequest>
#include <QPointer>
#include <QTimer>

namespace dfproxy::client {

namespace {

QString transportMessage(QNetworkReply::NetworkError e, const QString &fallback)
{
    switch (e) {
    case QNetworkReply::ConnectionRefusedError:
        return QStringLiteral("connection refused");
    case QNetworkReply::HostNotFoundError:
        return QStringLiteral("host not found");
    case QNetworkReply::TimeoutError:
    case QNetworkReply::OperationCanceledError:
        return QStringLiteral("timed out");
    case QNetworkReply::RemoteHostClosedError:
        return QStringLiteral("the connection was closed");
    default:
        return fallback;
    }
}

} // namespace

QString ApiError::toString() const
{
    if (status == 0)
        return detail;
    const QString text = detail.isEmpty() ? title : detail;
    return QStringLiteral("%1 (HTTP %2)").arg(text).arg(status);
}

ApiClient::ApiClient(QObject *parent) : QObject(parent), m_nam(new QNetworkAccessManager(this))
{
    // The admin API is on this machine: a system proxy must never see the token.
    m_nam->setProxy(QNetworkProxy::NoProxy);
    m_nam->setRedirectPolicy(QNetworkRequest::ManualRedirectPolicy);
}

ApiClient::ApiClient(const QUrl &baseUrl, const QByteArray &token, QObject *parent) : ApiClient(parent)
{
    m_baseUrl = baseUrl;
    m_token = token;
}

ApiClient::~ApiClient() = default;

QString ApiClient::collectionPath(const QString &plural, const QString &ns)
{
    if (ns.isEmpty())
        return QStringLiteral("/api/v1/%1").arg(plural);
    return QStringLiteral("/api/v1/namespaces/%1/%2").arg(ns, plural);
}

QString ApiClient::objectPath(const QString &plural, const QString &ns, const QString &name)
{
    return collectionPath(plural, ns) + "/" + name;
}

ApiResult ApiClient::resultFromReply(QNetworkReply *reply, const QUrl &baseUrl)
{
    ApiResult r;
    r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    r.contentType = reply->header(QNetworkRequest::ContentTypeHeader).toByteArray();
    r.body = reply->readAll();
    r.etag = reply->rawHeader("ETag");
    const QByteArray mediaType = r.contentType.split(';').first().trimmed().toLower();
    if (mediaType.endsWith("json")) {
        const auto doc = QJsonDocument::fromJson(r.body);
        r.json = doc.isArray() ? QJsonValue(doc.array()) : QJsonValue(doc.object());
    }
    if (r.status == 0) {
        ApiError e;
        e.networkError = reply->error();
        e.title = transportMessage(reply->error(), reply->errorString());
        e.detail = QStringLiteral("cannot connect to the dfproxy admin API at %1: %2 — is dfproxy running?")
                       .arg(baseUrl.toString(QUrl::RemovePath | QUrl::StripTrailingSlash), e.title);
        r.error = e;
    } else if (r.status < 200 || r.status >= 300) {
        ApiError e;
        e.status = r.status;
        e.networkError = reply->error();
        const QJsonObject p = r.json.toObject();
        e.type = p.value("type").toString();
        e.title = p.value("title").toString(reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString());
        e.detail = p.value("detail").toString(QString::fromUtf8(r.body.left(500)).trimmed());
        const QJsonObject fields = p.value("fields").toObject();
        for (auto it = fields.begin(); it != fields.end(); ++it)
            e.fields.append({it.key(), it.value().toString()});
        r.error = e;
    }
    return r;
}

void ApiClient::send(const QByteArray &method, const QString &path, const QUrlQuery &query, const QByteArray &body,
                     const QByteArray &contentType, Callback done)
{
    QUrl url = m_baseUrl;
    url.setPath(path);
    url.setQuery(query);
    sendRequest(method, url, {}, body, contentType, std::move(done));
}

void ApiClient::sendWithHeaders(const QByteArray &method, const QString &path,
                                const QList<QPair<QByteArray, QByteArray>> &headers, const QByteArray &body,
                                const QByteArray &contentType, Callback done)
{
    QUrl url = m_baseUrl;
    url.setPath(path);
    sendRequest(method, url, headers, body, contentType, std::move(done));
}

void ApiClient::sendRequest(const QByteArray &method, const QUrl &url,
                            const QList<QPair<QByteArray, QByteArray>> &headers, const QByteArray &body,
                            const QByteArray &contentType, Callback done)
{
    QNetworkRequest req(url);
    req.setTransferTimeout(m_timeoutMs);
    req.setRawHeader("Accept", "application/json");
    if (!m_token.isEmpty())
        req.setRawHeader("Authorization", "Bearer " + m_token);
    if (!contentType.isEmpty())
        req.setHeader(QNetworkRequest::ContentTypeHeader, contentType);
    for (const auto &[name, value] : headers)
        req.setRawHeader(name, value);
    QNetworkReply *reply = m_nam->sendCustomRequest(req, method, body);
    const QUrl base = m_baseUrl;
    connect(reply, &QNetworkReply::finished, this, [this, reply, base, done = std::move(done)]() {
        reply->deleteLater();
        const ApiResult r = resultFromReply(reply, base);
        if (done)
            done(r);
        Q_EMIT finished(r);
    });
}

ApiResult ApiClient::sendBlocking(const QByteArray &method, const QString &path, const QUrlQuery &query,
                                  const QByteArray &body, const QByteArray &contentType)
{
    QEventLoop loop;
    std::optional<ApiResult> result;
    QPointer<QEventLoop> guard(&loop);
    send(method, path, query, body, contentType, [&result, guard](const ApiResult &r) {
        result = r;
        if (guard)
            guard->quit();
    });
    // The transfer timeout ends the reply; this guard only covers a reply that never finishes at all.
    QTimer::singleShot(m_timeoutMs + 5000, &loop, &QEventLoop::quit);
    if (!result)
        loop.exec();
    if (!result) {
        ApiResult r;
        ApiError e;
        e.title = QStringLiteral("timed out");
        e.detail = QStringLiteral("no answer from the dfproxy admin API at %1").arg(m_baseUrl.toString());
        r.error = e;
        return r;
    }
    return *result;
}

void ApiClient::list(const QString &plural, const QString &ns, Callback done)
{
    QUrlQuery q;
    if (!ns.isEmpty())
        q.addQueryItem("namespace", ns);
    send("GET", collectionPath(plural), q, {}, {}, std::move(done));
}

void ApiClient::get(const QString &plural, const QString &ns, const QString &name, Callback done)
{
    send("GET", objectPath(plural, ns, name), {}, {}, {}, std::move(done));
}

void ApiClient::create(const QString &plural, const QJsonObject &object, Callback done)
{
    send("POST", collectionPath(plural), {}, QJsonDocument(object).toJson(QJsonDocument::Compact), "application/json",
         std::move(done));
}

void ApiClient::replace(const QString &plural, const QJsonObject &object, Callback done)
{
    const QJsonObject md = object.value("metadata").toObject();
    const QString ns = md.value("namespace").toString(QStringLiteral("default"));
    send("PUT", objectPath(plural, ns, md.value("name").toString()), {},
         QJsonDocument(object).toJson(QJsonDocument::Compact), "application/json", std::move(done));
}

void ApiClient::remove(const QString &plural, const QString &ns, const QString &name, Callback done)
{
    send("DELETE", objectPath(plural, ns, name), {}, {}, {}, std::move(done));
}

void ApiClient::apply(const QJsonArray &objects, bool dryRun, Callback done)
{
    QUrlQuery q;
    if (dryRun)
        q.addQueryItem("dryRun", "All");
    send("POST", "/api/v1/apply", q, QJsonDocument(objects).toJson(QJsonDocument::Compact), "application/json",
         std::move(done));
}

void ApiClient::serverInfo(Callback done)
{
    send("GET", "/api/v1/server", {}, {}, {}, std::move(done));
}

void ApiClient::stats(Callback done)
{
    send("GET", "/api/v1/stats", {}, {}, {}, std::move(done));
}

QNetworkReply *ApiClient::openStream(const QString &path, const QUrlQuery &query)
{
    QUrl url = m_baseUrl;
    url.setPath(path);
    url.setQuery(query);
    QNetworkRequest req(url);
    req.setTransferTimeout(0);
    req.setRawHeader("Accept", "text/event-stream");
    if (!m_token.isEmpty())
        req.setRawHeader("Authorization", "Bearer " + m_token);
    return m_nam->get(req);
}

namespace {

// The config and the admin token are 0600, private to the account dfproxy runs as (they hold secrets): say so
// rather than leave "permission denied" to be puzzled over.
QString privateFileProblem(const QString &what, const QString &path, const QString &error)
{
    return QStringLiteral("cannot read %1 %2: %3; it is private to the account dfproxy runs as: run this as that "
                          "user or as root/an administrator (sudo dfproxyctl ...)")
        .arg(what, path, error);
}

} // namespace

ApiClient::Discovery ApiClient::discoverLocal(const QString &configPath)
{
    Discovery d;
    d.configPath = configPath;
    d.tokenPath = adminTokenPath(configPath);
    QString address = QString::fromLatin1(kDefaultAdminAddress);
    int port = kDefaultAdminPort;
    QFile f(configPath);
    if (f.open(QIODevice::ReadOnly)) {
        const QJsonObject admin = QJsonDocument::fromJson(f.readAll()).object().value("admin").toObject();
        address = admin.value("address").toString(address);
        port = admin.value("port").toInt(port);
    } else if (QFileInfo::exists(configPath)) {
        d.problem = privateFileProblem(QStringLiteral("the config"), configPath, f.errorString());
    } else {
        d.problem = QStringLiteral("no config file at %1 (is dfproxy installed for this user?)").arg(configPath);
    }
    // A service bound to all interfaces is still reached over loopback.
    if (address == "0.0.0.0" || address.isEmpty())
        address = QStringLiteral("127.0.0.1");
    else if (address == "::")
        address = QStringLiteral("::1");
    d.baseUrl.setScheme("http");
    d.baseUrl.setHost(address);
    d.baseUrl.setPort(port);
    QFile t(d.tokenPath);
    if (t.open(QIODevice::ReadOnly)) {
        d.token = t.readAll().trimmed();
    } else if (d.problem.isEmpty()) {
        d.problem = QFileInfo::exists(d.tokenPath)
            ? privateFileProblem(QStringLiteral("the admin token"), d.tokenPath, t.errorString())
            : QStringLiteral("cannot read the admin token %1: %2").arg(d.tokenPath, t.errorString());
    }
    return d;
}

} // namespace dfproxy::client
