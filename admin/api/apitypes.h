// SPDX-License-Identifier: Apache-2.0
#pragma once
// The admin API's request/response types, body decoding (JSON or YAML) and the mapping of store errors to HTTP
// status and problem+json.

#include "config/configstore.h"

#include <QByteArray>
#include <QJsonValue>
#include <QList>
#include <QMap>
#include <QPair>
#include <QString>
#include <QUrlQuery>

#include <functional>
#include <optional>

namespace dfproxy::admin {

/// A request as route handlers see it: already authenticated, Host/Origin checked, body under the size limit.
struct ApiRequest
{
    QByteArray method;             ///< "GET", "POST", ...
    QString path;                  ///< decoded path, e.g. "/api/v1/namespaces/httpbin/httproutes/r1"
    QUrlQuery query;               ///< decoded query
    QMap<QString, QString> params; ///< captures of `{name}` segments of the route pattern
    QList<QPair<QByteArray, QByteArray>> headers;
    QByteArray body;
    /// Media type of the body, lower-case, without parameters ("application/json"); empty if none was sent.
    QByteArray contentType;

    /// A header value, matched case-insensitively; empty if absent.
    QByteArray header(const QByteArray &name) const;
    /// True when the query has `dryRun=All` (Kubernetes spelling; "true" accepted too).
    bool dryRun() const;
};

/// A response. Handlers build it with the static helpers; the server adds the security headers.
struct ApiResponse
{
    int status = 200;
    QByteArray contentType = "application/json";
    QByteArray body;
    QList<QPair<QByteArray, QByteArray>> headers;

    void addHeader(const QByteArray &name, const QByteArray &value) { headers.append(qMakePair(name, value)); }

    /// JSON body (compact).
    static ApiResponse json(const QJsonValue &value, int status = 200);
    /// Any body with its content type.
    static ApiResponse raw(const QByteArray &contentType, const QByteArray &body, int status = 200);
    /// An RFC 9457 problem (application/problem+json): type, title (the reason phrase), status, detail and, for
    /// validation errors, `fields` {path: message}.
    static ApiResponse problem(int status, const QString &detail, const QList<config::FieldError> &fields = {});
    /// Maps a store error to its HTTP status, in one place: BadRequest 400, NotFound 404, Conflict 409,
    /// PreconditionFailed 412, Invalid 422, Internal 500.
    static ApiResponse fromStoreError(const config::StoreError &error);
    /// HTTP status for a store error code.
    static int httpStatus(config::StoreErrorCode code);
};

/// A route handler. Called on the main thread; must not block.
using ApiHandler = std::function<ApiResponse(const ApiRequest &)>;

/// The reason phrase of a status code ("Unprocessable Content").
QString reasonPhrase(int status);

/// Decodes a request body that holds one object: JSON (application/json, application/merge-patch+json, or no
/// content type) or YAML (application/yaml, text/yaml, application/x-yaml; exactly one document). On failure
/// returns std::nullopt and sets `error` to a 400/415 problem.
std::optional<QJsonObject> decodeObjectBody(const ApiRequest &request, ApiResponse *error);
/// Decodes a body that may hold many objects (JSON object, array, a `List` with items, or multi-document YAML)
/// into a flat array of objects. Same errors as decodeObjectBody.
std::optional<QJsonArray> decodeObjectsBody(const ApiRequest &request, ApiResponse *error);
/// True for YAML media types.
bool isYamlContentType(const QByteArray &mediaType);

} // namespace dfproxy::admin
