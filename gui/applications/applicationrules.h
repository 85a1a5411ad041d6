// SPDX-License-Identifier: Apache-2.0
#pragma once
// The AuthorizationPolicy the console's Applications page keeps ("console-applications", defaultAction Allow, one
// or two rules per program; docs/applications.md): pure functions from the policy as it is to the policy to send.

#include <QJsonArray>
#include <QJsonObject>
#include <QString>
#include <QStringList>

namespace dfproxy::gui {

struct ApplicationRules
{
    static QString policyName() { return QStringLiteral("console-applications"); }

    /// `existing`: the policy as GET returned it ({} when there is none yet); `targetRefs` used for a new one.
    /// Adds "deny `program` to `host`" in front (nothing changes when that rule is there already).
    static QJsonObject denyHost(const QJsonObject &existing, const QString &ns, const QJsonArray &targetRefs,
                                const QString &programPath, const QString &host);
    /// Replaces the program's rules with "allow it `hosts`, deny it everything else".
    static QJsonObject allowOnly(const QJsonObject &existing, const QString &ns, const QJsonArray &targetRefs,
                                 const QString &programPath, const QStringList &hosts);
    /// Why the policy (as GET returns it, with its status) is not applied, "" when every ancestor accepted it
    /// (e.g. "Conflicted: ..." when an older AuthorizationPolicy on the same Gateway wins).
    static QString notInForce(const QJsonObject &policy);
    /// The hosts an `applications` rule may name (IPv6 literals cannot be AuthorizationPolicy hosts).
    static QStringList usableHosts(const QStringList &hosts);
};

} // namespace dfproxy::gui
