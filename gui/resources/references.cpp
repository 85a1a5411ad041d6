// SPDX-License-Identifier: Apache-2.0
#include "resources/references.h"

#include "resources/resourcelistmodel.h"

#include <QJsonArray>

#include <memory>

namespace dfproxy::gui {

namespace {

const QString kBackend = QStringLiteral("AgentgatewayBackend");
const QString kGateway = QStringLiteral("Gateway");
const QString kRoute = QStringLiteral("HTTPRoute");

bool isPolicy(const QString &kind)
{
    return kind.endsWith(QLatin1String("Policy"));
}

// A backendRef without a kind means the route's default backend kind (the seed manifests leave it out too).
ObjectKey backendKey(const QJsonObject &ref, const QString &routeNs)
{
    return {ref.value("kind").toString(kBackend), ref.value("namespace").toString(routeNs),
            ref.value("name").toString()};
}

ObjectKey parentKey(const QJsonObject &ref, const QString &routeNs)
{
    return {ref.value("kind").toString(kGateway), ref.value("namespace").toString(routeNs),
            ref.value("name").toString()};
}

// Policy targets live in the policy's namespace (docs/policies.md).
ObjectKey targetKey(const QJsonObject &ref, const QString &policyNs)
{
    return {ref.value("kind").toString(), policyNs, ref.value("name").toString()};
}

} // namespace

QString ObjectKey::label() const
{
    return QStringLiteral("%1 %2/%3").arg(kind, ns, name);
}

ObjectKey ObjectKey::of(const QJsonObject &object)
{
    return {object.value("kind").toString(), resourceNamespace(object), resourceName(object)};
}

QList<Reference> referencesOf(const QJsonObject &object)
{
    QList<Reference> out;
    const ObjectKey from = ObjectKey::of(object);
    const QJsonObject spec = object.value("spec").toObject();
    auto add = [&](const ObjectKey &to) {
        for (const Reference &r : std::as_const(out)) {
            if (r.to == to)
                return;
        }
        out.append({from, to});
    };
    if (from.kind == kRoute) {
        for (const auto &p : spec.value("parentRefs").toArray())
            add(parentKey(p.toObject(), from.ns));
        for (const auto &rule : spec.value("rules").toArray()) {
            for (const auto &b : rule.toObject().value("backendRefs").toArray())
                add(backendKey(b.toObject(), from.ns));
        }
    } else if (isPolicy(from.kind)) {
        for (const auto &t : spec.value("targetRefs").toArray())
            add(targetKey(t.toObject(), from.ns));
    }
    return out;
}

QJsonObject withoutReferencesTo(const QJsonObject &object, const ObjectKey &to)
{
    QJsonObject o = object;
    o.remove("status");
    const QString ns = resourceNamespace(object);
    QJsonObject spec = o.value("spec").toObject();
    auto filtered = [&](const QJsonArray &refs, auto keyOf) {
        QJsonArray out;
        for (const auto &r : refs) {
            if (!(keyOf(r.toObject(), ns) == to))
                out.append(r);
        }
        return out;
    };
    if (o.value("kind").toString() == kRoute) {
        spec.insert("parentRefs", filtered(spec.value("parentRefs").toArray(), parentKey));
        QJsonArray rules;
        for (const auto &rv : spec.value("rules").toArray()) {
            QJsonObject rule = rv.toObject();
            if (rule.contains("backendRefs")) {
                const QJsonArray left = filtered(rule.value("backendRefs").toArray(), backendKey);
                if (left.isEmpty())
                    rule.remove("backendRefs");
                else
                    rule.insert("backendRefs", left);
            }
            rules.append(rule);
        }
        spec.insert("rules", rules);
    } else if (isPolicy(o.value("kind").toString())) {
        spec.insert("targetRefs", filtered(spec.value("targetRefs").toArray(), targetKey));
    }
    o.insert("spec", spec);
    return o;
}

QString pluralOf(const QString &kind)
{
    static const QHash<QString, QString> plurals = {
        {kBackend, QStringLiteral("backends")},
        {kRoute, QStringLiteral("httproutes")},
        {kGateway, QStringLiteral("gateways")},
        {QStringLiteral("RateLimitPolicy"), QStringLiteral("ratelimitpolicies")},
        {QStringLiteral("AuthenticationPolicy"), QStringLiteral("authenticationpolicies")},
        {QStringLiteral("AuthorizationPolicy"), QStringLiteral("authorizationpolicies")},
    };
    return plurals.value(kind);
}

QString referenceLabels(const QList<Reference> &refs, bool from)
{
    QStringList out;
    for (const Reference &r : refs)
        out.append((from ? r.from : r.to).label());
    return out.join(QStringLiteral(", "));
}

void ReferenceIndex::setObjects(const QList<QJsonObject> &objects)
{
    m_objects.clear();
    m_refs.clear();
    for (const QJsonObject &o : objects) {
        m_objects.insert(ObjectKey::of(o).label(), o);
        m_refs += referencesOf(o);
    }
    ++m_generation;
}

bool ReferenceIndex::exists(const ObjectKey &key) const
{
    return m_objects.contains(key.label());
}

QJsonObject ReferenceIndex::object(const ObjectKey &key) const
{
    return m_objects.value(key.label());
}

QList<Reference> ReferenceIndex::usedBy(const ObjectKey &key) const
{
    QList<Reference> out;
    for (const Reference &r : m_refs) {
        if (r.to == key && !(r.from == key))
            out.append(r);
    }
    return out;
}

QList<Reference> ReferenceIndex::uses(const ObjectKey &key) const
{
    QList<Reference> out;
    for (const Reference &r : m_refs) {
        if (r.from == key)
            out.append(r);
    }
    return out;
}

QList<ObjectKey> ReferenceIndex::missing(const ObjectKey &key) const
{
    QList<ObjectKey> out;
    for (const Reference &r : uses(key)) {
        if (!exists(r.to))
            out.append(r.to);
    }
    return out;
}

void loadReferencedObjects(client::ApiClient *api,
                           std::function<void(const QList<QJsonObject> &objects, bool complete)> done)
{
    struct Pending
    {
        int left = 0;
        bool complete = true;
        QList<QJsonObject> objects;
        std::function<void(const QList<QJsonObject> &, bool)> done;
    };
    const QStringList plurals = {QStringLiteral("backends"),
                                 QStringLiteral("httproutes"),
                                 QStringLiteral("gateways"),
                                 QStringLiteral("ratelimitpolicies"),
                                 QStringLiteral("authenticationpolicies"),
                                 QStringLiteral("authorizationpolicies")};
    auto state = std::make_shared<Pending>();
    state->left = int(plurals.size());
    state->done = std::move(done);
    for (const QString &plural : plurals) {
        api->list(plural, {}, [state](const client::ApiResult &r) {
            // A kind this service version lacks (404) contributes nothing; any other failure makes the set partial.
            if (!r.ok() && r.status != 404)
                state->complete = false;
            for (const auto &v : r.object().value("items").toArray())
                state->objects.append(v.toObject());
            if (--state->left == 0)
                state->done(state->objects, state->complete);
        });
    }
}

} // namespace dfproxy::gui
