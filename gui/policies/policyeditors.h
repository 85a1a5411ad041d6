// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "policies/policywidgets.h"
#include "resources/resourceeditor.h"

#include <QPointer>

QT_BEGIN_NAMESPACE
class QCheckBox;
class QComboBox;
class QGroupBox;
class QLineEdit;
class QPlainTextEdit;
class QSpinBox;
class QTableWidget;
class QTreeWidget;
QT_END_NAMESPACE

namespace dfproxy::gui {

/// The three policy kinds of group dfproxy.dev (docs/policies.md).
enum class PolicyKind { RateLimit, Authentication, Authorization };

/// Common part of the policy editors: the targetRefs table with a picker of existing targets above the kind's own
/// fields. A picked target in another namespace moves a new policy there (targets must share its namespace).
class PolicyEditor : public ResourceEditor
{
    Q_OBJECT
public:
    static ResourceKind resourceKind(PolicyKind kind);
    static QList<PolicyKind> kinds()
    {
        return {PolicyKind::RateLimit, PolicyKind::Authentication, PolicyKind::Authorization};
    }
    /// "Rate limit", "Authentication", "Authorization".
    static QString displayName(PolicyKind kind);
    /// PolicyKind of an object's `kind`; nullopt for other kinds.
    static std::optional<PolicyKind> kindOf(const QString &kind);
    /// A new policy's starting point.
    static QJsonObject newObject(PolicyKind kind);
    /// The editor for `kind` (not yet shown).
    static PolicyEditor *create(PolicyKind kind, client::ApiClient *api, QWidget *parent = nullptr);

    PolicyKind policyKind() const { return m_policyKind; }
    /// The route editor "Create new route…" opened (nullptr when none is open).
    ResourceEditor *routeCreator() const { return m_creator; }
    TargetRefsEditor *targets() const { return m_targets; }
    /// The Status tab: the Accepted condition per target (GEP-713 status.ancestors).
    QTreeWidget *statusTree() const { return m_status; }
    void setKnownTargets(const QList<KnownTarget> &targets);

protected:
    PolicyEditor(client::ApiClient *api, PolicyKind kind, QWidget *parent);
    void setForm(const QJsonObject &object) final;
    QJsonObject specFromForm(const QJsonObject &original) const final;
    /// The kind's own fields (targetRefs are handled here).
    virtual void loadSpec(const QJsonObject &spec) = 0;
    virtual QJsonObject specFromWidgets(const QJsonObject &original) const = 0;

private:
    void createRoute(int row);

    client::ApiClient *m_api;
    QTreeWidget *m_status;
    PolicyKind m_policyKind;
    TargetRefsEditor *m_targets;
    FieldBox *m_targetsBox;
    QPointer<ResourceEditor> m_creator;
};

/// RateLimitPolicy: one card per limit (name, key, header, tokens, fillInterval, burst, maxKeys).
class RateLimitPolicyEditor : public PolicyEditor
{
    Q_OBJECT
public:
    explicit RateLimitPolicyEditor(client::ApiClient *api, QWidget *parent = nullptr);
    CardList *limits() const { return m_limits; }
    /// The widgets of limit `i` (tests and screenshots).
    QSpinBox *tokensSpin(int i) const;
    QLineEdit *fillIntervalEdit(int i) const;
    QComboBox *keyCombo(int i) const;

protected:
    void loadSpec(const QJsonObject &spec) override;
    QJsonObject specFromWidgets(const QJsonObject &original) const override;

private:
    CardList *m_limits;
};

/// AuthenticationPolicy: optional, basic (realm, users with password hashes computed here, htpasswd file), API keys
/// (header, keys stored as SHA-256) and JWT (issuer, audiences, JWKS file or inline, clock skew, identity claim).
class AuthenticationPolicyEditor : public PolicyEditor
{
    Q_OBJECT
public:
    explicit AuthenticationPolicyEditor(client::ApiClient *api, QWidget *parent = nullptr);

    /// Adds a basic user whose password is hashed here (pbkdf2-sha256); the password itself is never sent.
    void addUser(const QString &name, const QString &password);
    /// Adds an API key, stored as its SHA-256.
    void addApiKey(const QString &name, const QString &key);
    QCheckBox *optionalCheck() const { return m_optional; }
    QGroupBox *basicGroup() const { return m_basic; }
    QGroupBox *apiKeyGroup() const { return m_apiKey; }
    QGroupBox *jwtGroup() const { return m_jwt; }
    QTableWidget *usersTable() const { return m_users; }
    QTableWidget *keysTable() const { return m_keys; }
    QLineEdit *jwtIssuerEdit() const { return m_issuer; }
    QPlainTextEdit *jwksEdit() const { return m_jwks; }

protected:
    void loadSpec(const QJsonObject &spec) override;
    QJsonObject specFromWidgets(const QJsonObject &original) const override;

private:
    void askUser(int row);
    void askKey();

    QCheckBox *m_optional;
    QGroupBox *m_basic;
    QLineEdit *m_realm;
    QTableWidget *m_users;
    QLineEdit *m_htpasswd;
    QGroupBox *m_apiKey;
    QLineEdit *m_keyHeader;
    QTableWidget *m_keys;
    QGroupBox *m_jwt;
    QLineEdit *m_issuer;
    QLineEdit *m_audiences;
    QLineEdit *m_jwksFile;
    QPlainTextEdit *m_jwks;
    QLineEdit *m_clockSkew;
    QLineEdit *m_identityClaim;
};

/// AuthorizationPolicy: default action and one card per rule (action, hosts, ports, methods, path prefixes, client
/// CIDRs, identities; lists comma-separated).
class AuthorizationPolicyEditor : public PolicyEditor
{
    Q_OBJECT
public:
    explicit AuthorizationPolicyEditor(client::ApiClient *api, QWidget *parent = nullptr);
    CardList *rules() const { return m_rules; }
    QComboBox *defaultActionCombo() const { return m_default; }
    /// The widgets of rule `i` by JSON field ("hosts", "clientCIDRs", …; "action" is a QComboBox, not listed here).
    QLineEdit *ruleEdit(int i, const QString &field) const;
    QComboBox *ruleActionCombo(int i) const;

protected:
    void loadSpec(const QJsonObject &spec) override;
    QJsonObject specFromWidgets(const QJsonObject &original) const override;

private:
    QComboBox *m_default;
    CardList *m_rules;
};

/// One-line summary of a policy for the table: "3 per 1m by clientIP", "basic (2 users), JWT", "Deny 1 host; else
/// Allow".
QString policySummary(const QJsonObject &policy);

} // namespace dfproxy::gui
