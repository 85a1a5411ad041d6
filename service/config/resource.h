// SPDX-License-Identifier: Apache-2.0
#pragma once
// A Kubernetes-shaped resource (apiVersion, kind, metadata, spec) as stored, the kinds dfproxy knows, and the
// field-path errors every parser of config/ reports.

#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <optional>

namespace dfproxy::config {

/// The kinds dfproxy manages, spelled as Kubernetes spells them.
namespace kinds {
inline constexpr auto Gateway = "Gateway";
inline constexpr auto HTTPRoute = "HTTPRoute";
inline constexpr auto Backend = "AgentgatewayBackend";
inline constexpr auto RateLimitPolicy = "RateLimitPolicy";
inline constexpr auto AuthenticationPolicy = "AuthenticationPolicy";
inline constexpr auto AuthorizationPolicy = "AuthorizationPolicy";
} // namespace kinds

/// Describes a kind: its canonical name, apiVersion group, REST plural and the short names the CLI accepts.
struct KindInfo
{
    QString kind;           ///< "HTTPRoute"
    QString group;          ///< "gateway.networking.k8s.io"
    QString defaultVersion; ///< "v1"
    QString plural;         ///< "httproutes" (used in REST paths)
    QStringList aliases;    ///< lower-case names accepted by dfproxyctl ("httproute", "route", ...)
};

/// All kinds known to this build.
const QList<KindInfo> &knownKinds();
/// Finds a kind by canonical name, plural or alias, case-insensitively.
std::optional<KindInfo> findKind(const QString &nameOrAlias);

/// Identifies one object: kind + namespace + name.
struct ResourceKey
{
    QString kind;
    QString ns;
    QString name;
    bool operator==(const ResourceKey &) const = default;
    QString toString() const { return kind + "/" + ns + "/" + name; }
};

/// One field that failed validation. `path` is a JSONPath-like field path: "spec.rules[0].backendRefs[0].name".
struct FieldError
{
    QString path;
    QString message;
};

/// A Kubernetes-shaped object (apiVersion, kind, metadata, spec, status), kept as JSON.
/// Typed views (Gateway, HTTPRoute, backend) are parsed from it by config/model.h.
class Resource
{
public:
    Resource() = default;
    explicit Resource(QJsonObject object) : m_obj(std::move(object)) {}

    QString apiVersion() const { return m_obj.value("apiVersion").toString(); }
    QString kind() const { return m_obj.value("kind").toString(); }
    QJsonObject metadata() const { return m_obj.value("metadata").toObject(); }
    QString name() const { return metadata().value("name").toString(); }
    /// metadata.namespace, "default" when absent (as kubectl does).
    QString ns() const;
    QJsonObject spec() const { return m_obj.value("spec").toObject(); }
    QJsonObject status() const { return m_obj.value("status").toObject(); }
    ResourceKey key() const { return {kind(), ns(), name()}; }

    const QJsonObject &json() const { return m_obj; }
    QJsonObject &json() { return m_obj; }

    /// Checks the envelope only: apiVersion, a known kind, metadata.name and namespace as DNS-1123 labels, spec an
    /// object. The kind's spec is checked by config::validateResource (config/validation.h).
    QList<FieldError> validateEnvelope() const;

private:
    QJsonObject m_obj;
};

/// True for a valid RFC 1123 label (lower-case alphanumerics and '-', 1..63 chars, alphanumeric at both ends).
bool isDns1123Label(const QString &s);
/// True for a valid RFC 1123 subdomain (labels joined by '.', at most 253 chars).
bool isDns1123Subdomain(const QString &s);

} // namespace dfproxy::config
