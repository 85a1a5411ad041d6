// SPDX-License-Identifier: Apache-2.0
#pragma once
// Which object uses which, computed in the console from the lists it fetches (the service has no reference API):
// route -> backends (backendRefs), route -> Gateways (parentRefs), policy -> targets (targetRefs).

#include "client/apiclient.h"

#include <QHash>
#include <QJsonObject>
#include <QList>

#include <functional>

namespace dfproxy::gui {

/// One object by kind, namespace and name.
struct ObjectKey
{
    QString kind;
    QString ns;
    QString name;
    /// "HTTPRoute httpbin/dfp-httproute"
    QString label() const;
    bool operator==(const ObjectKey &o) const { return kind == o.kind && ns == o.ns && name == o.name; }
    static ObjectKey of(const QJsonObject &object);
};

/// `from` points at `to` (which may not exist).
struct Reference
{
    ObjectKey from;
    ObjectKey to;
};

class ReferenceIndex
{
public:
    /// Indexes the objects of every kind (routes, backends, Gateways, policies, in any order).
    void setObjects(const QList<QJsonObject> &objects);

    bool exists(const ObjectKey &key) const;
    /// The stored object (empty if unknown).
    QJsonObject object(const ObjectKey &key) const;
    /// References from other objects to `key`.
    QList<Reference> usedBy(const ObjectKey &key) const;
    /// References `key` makes (to objects that exist or not).
    QList<Reference> uses(const ObjectKey &key) const;
    /// What `key` references that does not exist.
    QList<ObjectKey> missing(const ObjectKey &key) const;
    /// Completed loads (tests wait on it).
    int generation() const { return m_generation; }

private:
    QHash<QString, QJsonObject> m_objects; ///< by label
    QList<Reference> m_refs;
    int m_generation = 0;
};

/// The references an object makes (route backendRefs and parentRefs, policy targetRefs).
QList<Reference> referencesOf(const QJsonObject &object);
/// `object` without its references to `to` (policies keep at least the fields they had; the server judges the
/// result). Status is dropped, so the result can be PUT back.
QJsonObject withoutReferencesTo(const QJsonObject &object, const ObjectKey &to);
/// The API collection of a kind ("AgentgatewayBackend" -> "backends"); empty for kinds the console does not know.
QString pluralOf(const QString &kind);
/// "HTTPRoute a/b, RateLimitPolicy a/c"
QString referenceLabels(const QList<Reference> &refs, bool from);

/// Lists backends, routes, Gateways and the policy kinds (a kind the service lacks, 404, is skipped) and calls `done`
/// with all objects; `complete` is false when a list failed otherwise (then nothing should be called missing). `done`
/// runs once, on the client's thread.
void loadReferencedObjects(client::ApiClient *api,
                           std::function<void(const QList<QJsonObject> &objects, bool complete)> done);

} // namespace dfproxy::gui
