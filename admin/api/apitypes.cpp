// SPDX-License-Identifier: Apache-2.0
#include "api/apitypes.h"

#include "config/yaml.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>

namespace dfproxy::admin {

namespace {

QString problemSlug(int status)
{
    return reasonPhrase(status).toLower().replace(' ', '-');
}

bool isJsonContentType(const QByteArray &t)
{
    return t.isEmpty() || t == "application/json" || t == "application/merge-patch+json";
}

std::optional<QJsonArray> parseBody(const ApiRequest &request, ApiResponse *error)
{
    const QByteArray &t = request.contentType;
    if (isYamlContentType(t)) {
        config::YamlError ye;
        auto docs = config::parseYamlDocuments(request.body, &ye);
        if (!docs) {
            *error = ApiResponse::problem(400, QStringLiteral("invalid YAML: %1").arg(ye.toString()));
            return std::nullopt;
        }
        return docs;
    }
    if (!isJsonContentType(t)) {
        *error = ApiResponse::problem(
            415, QStringLiteral("unsupported content type \"%1\"; use application/json or application/yaml")
                     .arg(QString::fromLatin1(t)));
        return std::nullopt;
    }
    QJsonParseError pe;
    const auto doc = QJsonDocument::fromJson(request.body, &pe);
    if (pe.error != QJsonParseError::NoError) {
        *error = ApiResponse::problem(
            400, QStringLiteral("invalid JSON at offset %1: %2").arg(pe.offset).arg(pe.errorString()));
        return std::nullopt;
    }
    if (doc.isArray())
        return doc.array();
    return QJsonArray{doc.object()};
}

} // namespace

QByteArray ApiRequest::header(const QByteArray &name) const
{
    for (const auto &h : headers) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return h.second;
    }
    return {};
}

bool ApiRequest::dryRun() const
{
    const QString v = query.queryItemValue("dryRun");
    return v.compare("All", Qt::CaseInsensitive) == 0 || v == "true";
}

ApiResponse ApiResponse::json(const QJsonValue &value, int status)
{
    ApiResponse r;
    r.status = status;
    r.body = value.isArray() ? QJsonDocument(value.toArray()).toJson(QJsonDocument::Compact)
                             : QJsonDocument(value.toObject()).toJson(QJsonDocument::Compact);
    return r;
}

ApiResponse ApiResponse::raw(const QByteArray &contentType, const QByteArray &body, int status)
{
    ApiResponse r;
    r.status = status;
    r.contentType = contentType;
    r.body = body;
    return r;
}

ApiResponse ApiResponse::problem(int status, const QString &detail, const QList<config::FieldError> &fields)
{
    QJsonObject p{{"type", QStringLiteral("https://dfproxy.dev/problems/%1").arg(problemSlug(status))},
                  {"title", reasonPhrase(status)},
                  {"status", status},
                  {"detail", detail}};
    if (!fields.isEmpty()) {
        QJsonObject f;
        for (const auto &e : fields) {
            const QString key = e.path.isEmpty() ? QStringLiteral("(object)") : e.path;
            const QString prev = f.value(key).toString();
            f.insert(key, prev.isEmpty() ? e.message : prev + "; " + e.message);
        }
        p.insert("fields", f);
    }
    ApiResponse r = json(p, status);
    r.contentType = "application/problem+json";
    return r;
}

int ApiResponse::httpStatus(config::StoreErrorCode code)
{
    using C = config::StoreErrorCode;
    switch (code) {
    case C::BadRequest:
        return 400;
    case C::NotFound:
        return 404;
    case C::Conflict:
        return 409;
    case C::PreconditionFailed:
        return 412;
    case C::Invalid:
        return 422;
    case C::Internal:
        return 500;
    }
    return 500;
}

ApiResponse ApiResponse::fromStoreError(const config::StoreError &error)
{
    return problem(httpStatus(error.code), error.message, error.fields);
}

QString reasonPhrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return QStringLiteral("HTTP %1").arg(status);
    }
}

bool isYamlContentType(const QByteArray &t)
{
    return t == "application/yaml" || t == "text/yaml" || t == "application/x-yaml" || t == "text/x-yaml";
}

std::optional<QJsonObject> decodeObjectBody(const ApiRequest &request, ApiResponse *error)
{
    auto docs = parseBody(request, error);
    if (!docs)
        return std::nullopt;
    if (docs->size() != 1 || !docs->at(0).isObject()) {
        *error = ApiResponse::problem(400, QStringLiteral("the body must hold exactly one object"));
        return std::nullopt;
    }
    return docs->at(0).toObject();
}

std::optional<QJsonArray> decodeObjectsBody(const ApiRequest &request, ApiResponse *error)
{
    auto docs = parseBody(request, error);
    if (!docs)
        return std::nullopt;
    QJsonArray out;
    for (const auto &d : *docs) {
        const auto obj = d.toObject();
        // A Kubernetes List (kind "List" or "<Kind>List") carries its objects in items.
        if (d.isObject() && obj.value("items").isArray() && obj.value("kind").toString().endsWith("List")) {
            for (const auto &item : obj.value("items").toArray())
                out.append(item);
        } else {
            out.append(d);
        }
    }
    if (out.isEmpty()) {
        *error = ApiResponse::problem(400, QStringLiteral("the body holds no objects"));
        return std::nullopt;
    }
    return out;
}

} // namespace dfproxy::admin
