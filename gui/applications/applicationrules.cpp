// SPDX-License-Identifier: Apache-2.0
#include "applications/applicationrules.h"

#include <QFileInfo>

namespace dfproxy::gui {

namespace {

QJsonObject base(const QJsonObject &existing, const QString &ns, const QJsonArray &targetRefs)
{
    if (!existing.isEmpty())
        return existing;
    QJsonObject spec{{"targetRefs", targetRefs}, {"defaultAction", "Allow"}, {"rules", QJsonArray()}};
    return QJsonObject{{"apiVersion", "dfproxy.dev/v1alpha1"},
                       {"kind", "AuthorizationPolicy"},
                       {"metadata", QJsonObject{{"name", ApplicationRules::policyName()}, {"namespace", ns}}},
                       {"spec", spec}};
}

bool namesProgram(const QJsonObject &rule, const QString &path)
{
    const QJsonArray apps = rule.value("applications").toArray();
    return apps.size() == 1 && apps.first().toString() == path;
}

QJsonObject withRules(QJsonObject policy, const QJsonArray &rules)
{
    QJsonObject spec = policy.value("spec").toObject();
    spec.insert("rules", rules);
    policy.insert("spec", spec);
    policy.remove("status");
    return policy;
}

} // namespace

QJsonObject ApplicationRules::denyHost(const QJsonObject &existing, const QString &ns, const QJsonArray &targetRefs,
                                      const QString &programPath, const QString &host)
{
    QJsonObject policy = base(existing, ns, targetRefs);
    const QJsonArray rules = policy.value("spec").toObject().value("rules").toArray();
    for (const auto &v : rules) {
        const QJsonObject r = v.toObject();
        if (r.value("action").toString() == "Deny" && namesProgram(r, programPath)
            && r.value("hosts").toArray() == QJsonArray{host})
            return withRules(policy, rules);
    }
    QJsonArray out{QJsonObject{{"name", QStringLiteral("deny %1 to %2").arg(QFileInfo(programPath).fileName(), host)},
                               {"action", "Deny"},
                               {"hosts", QJsonArray{host}},
                               {"applications", QJsonArray{programPath}}}};
    for (const auto &v : rules)
        out.append(v);
    return withRules(policy, out);
}

QJsonObject ApplicationRules::allowOnly(const QJsonObject &existing, const QString &ns, const QJsonArray &targetRefs,
                                       const QString &programPath, const QStringList &hosts)
{
    QJsonObject policy = base(existing, ns, targetRefs);
    const QString name = QFileInfo(programPath).fileName();
    QJsonArray out;
    const QStringList usable = usableHosts(hosts);
    if (!usable.isEmpty())
        out.append(QJsonObject{{"name", QStringLiteral("allow %1 its hosts").arg(name)},
                               {"action", "Allow"},
                               {"hosts", QJsonArray::fromStringList(usable)},
                               {"applications", QJsonArray{programPath}}});
    out.append(QJsonObject{{"name", QStringLiteral("deny %1 the rest").arg(name)},
                           {"action", "Deny"},
                           {"applications", QJsonArray{programPath}}});
    for (const auto &v : policy.value("spec").toObject().value("rules").toArray()) {
        if (!namesProgram(v.toObject(), programPath)) // the program's earlier rules are replaced
            out.append(v);
    }
    return withRules(policy, out);
}

QString ApplicationRules::notInForce(const QJsonObject &policy)
{
    const QJsonObject status = policy.value("status").toObject();
    QJsonArray conditions = status.value("conditions").toArray();
    for (const auto &a : status.value("ancestors").toArray()) {
        for (const auto &c : a.toObject().value("conditions").toArray())
            conditions.append(c);
    }
    for (const auto &v : conditions) {
        const QJsonObject c = v.toObject();
        if (c.value("type").toString() == "Accepted" && c.value("status").toString() != "True")
            return c.value("reason").toString() + QStringLiteral(": ") + c.value("message").toString();
    }
    return {};
}

QStringList ApplicationRules::usableHosts(const QStringList &hosts)
{
    QStringList out;
    for (const QString &h : hosts) {
        if (!h.isEmpty() && !h.contains(u':') && !out.contains(h.toLower()))
            out.append(h.toLower());
    }
    return out;
}

} // namespace dfproxy::gui
