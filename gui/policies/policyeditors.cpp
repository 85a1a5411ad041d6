// SPDX-License-Identifier: Apache-2.0
#include "policies/policyeditors.h"

#include "resources/resourcelistmodel.h"
#include "resources/routeeditor.h"

#include "widgets/fieldbox.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableWidget>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace dfproxy::gui {

namespace {

QStringList splitList(const QString &text)
{
    QStringList out;
    for (const QString &s : text.split(u',', Qt::SkipEmptyParts)) {
        if (!s.trimmed().isEmpty())
            out.append(s.trimmed());
    }
    return out;
}

QString joinList(const QJsonValue &v)
{
    QStringList out;
    for (const auto &e : v.toArray())
        out.append(e.isDouble() ? QString::number(e.toInteger()) : e.toString());
    return out.join(QStringLiteral(", "));
}

// Sets key to the list, or removes it when empty (an absent list means "any" to the service).
void putList(QJsonObject &o, const char *key, const QJsonArray &list)
{
    if (list.isEmpty())
        o.remove(QLatin1String(key));
    else
        o.insert(QLatin1String(key), list);
}

void putText(QJsonObject &o, const char *key, const QString &text)
{
    if (text.trimmed().isEmpty())
        o.remove(QLatin1String(key));
    else
        o.insert(QLatin1String(key), text.trimmed());
}

QLineEdit *lineEdit(const QString &objectName, const QString &placeholder)
{
    auto *e = new QLineEdit;
    e->setObjectName(objectName);
    e->setPlaceholderText(placeholder);
    return e;
}

QTableWidget *twoColumnTable(const QString &objectName, const QString &first, const QString &second)
{
    auto *t = new QTableWidget(0, 2);
    t->setObjectName(objectName);
    t->setHorizontalHeaderLabels({first, second});
    t->horizontalHeader()->setStretchLastSection(true);
    t->setColumnWidth(0, 140);
    t->verticalHeader()->setVisible(false);
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    t->setMinimumHeight(90);
    t->setMaximumHeight(140);
    return t;
}

void addRow(QTableWidget *t, const QString &a, const QString &b)
{
    const int row = t->rowCount();
    t->insertRow(row);
    t->setItem(row, 0, new QTableWidgetItem(a));
    t->setItem(row, 1, new QTableWidgetItem(b));
}

QString cell(const QTableWidget *t, int row, int col)
{
    return t->item(row, col) ? t->item(row, col)->text().trimmed() : QString();
}

// ---- RateLimitPolicy limit card --------------------------------------------------------------------------------

class LimitCard : public ListCard
{
public:
    LimitCard()
    {
        setObjectName(QStringLiteral("limitCard"));
        m_name = lineEdit(QStringLiteral("limitName"), tr("for logs; default limits[N]"));
        addField(tr("Name"), QStringLiteral(".name"), m_name);
        m_key = new QComboBox;
        m_key->setObjectName(QStringLiteral("limitKey"));
        m_key->addItem(tr("clientIP — one bucket per client address"), QStringLiteral("clientIP"));
        m_key->addItem(tr("destinationHost — per target host"), QStringLiteral("destinationHost"));
        m_key->addItem(tr("route — per route"), QStringLiteral("route"));
        m_key->addItem(tr("identity — per authenticated user"), QStringLiteral("identity"));
        m_key->addItem(tr("header — per value of a request header"), QStringLiteral("header"));
        m_key->addItem(tr("global — one bucket for all"), QStringLiteral("global"));
        addField(tr("Key"), QStringLiteral(".key"), m_key);
        m_header = lineEdit(QStringLiteral("limitHeader"), tr("header name, e.g. x-tenant"));
        addField(tr("Header"), QStringLiteral(".header"), m_header);
        m_tokens = new QSpinBox;
        m_tokens->setObjectName(QStringLiteral("limitTokens"));
        m_tokens->setRange(0, 1000000);
        addField(tr("Tokens"), QStringLiteral(".tokens"), m_tokens);
        m_interval = lineEdit(QStringLiteral("limitFillInterval"), tr("1s, 500ms, 1m, 1h"));
        addField(tr("Per (fill interval)"), QStringLiteral(".fillInterval"), m_interval);
        m_burst = new QSpinBox;
        m_burst->setObjectName(QStringLiteral("limitBurst"));
        m_burst->setRange(0, 1000000);
        m_burst->setSpecialValueText(tr("same as tokens"));
        addField(tr("Burst"), QStringLiteral(".burst"), m_burst);
        m_maxKeys = new QSpinBox;
        m_maxKeys->setObjectName(QStringLiteral("limitMaxKeys"));
        m_maxKeys->setRange(0, 10000000);
        m_maxKeys->setSpecialValueText(tr("default (10000)"));
        addField(tr("Max keys"), QStringLiteral(".maxKeys"), m_maxKeys);
        connect(m_key, &QComboBox::currentIndexChanged, this, [this] { updateEnabled(); });
    }

    void load(const QJsonObject &o) override
    {
        m_original = o;
        m_name->setText(o.value("name").toString());
        m_key->setCurrentIndex(std::max(0, m_key->findData(o.value("key").toString(QStringLiteral("clientIP")))));
        m_header->setText(o.value("header").toString());
        m_tokens->setValue(o.contains("tokens") ? o.value("tokens").toInt() : 10);
        m_interval->setText(o.value("fillInterval").toString(o.isEmpty() ? QStringLiteral("1s") : QString()));
        m_burst->setValue(o.value("burst").toInt());
        m_maxKeys->setValue(o.value("maxKeys").toInt());
        updateEnabled();
    }

    QJsonObject toJson() const override
    {
        QJsonObject o = m_original;
        putText(o, "name", m_name->text());
        o.insert("key", m_key->currentData().toString());
        if (m_key->currentData().toString() == QLatin1String("header"))
            putText(o, "header", m_header->text());
        else
            o.remove("header");
        o.insert("tokens", m_tokens->value());
        putText(o, "fillInterval", m_interval->text());
        if (m_burst->value() > 0)
            o.insert("burst", m_burst->value());
        else
            o.remove("burst");
        if (m_maxKeys->value() > 0)
            o.insert("maxKeys", m_maxKeys->value());
        else
            o.remove("maxKeys");
        return o;
    }

private:
    void updateEnabled() { m_header->setEnabled(m_key->currentData().toString() == QLatin1String("header")); }

    QLineEdit *m_name;
    QComboBox *m_key;
    QLineEdit *m_header;
    QSpinBox *m_tokens;
    QLineEdit *m_interval;
    QSpinBox *m_burst;
    QSpinBox *m_maxKeys;
};

// ---- AuthorizationPolicy rule card -----------------------------------------------------------------------------

struct ListField
{
    const char *key;
    const char *label;
    const char *placeholder;
};

const ListField kRuleLists[] = {
    {"hosts", "Hosts", "example.com, *.example.com, * (empty: any)"},
    {"ports", "Ports", "443, 8080 (empty: any)"},
    {"methods", "Methods", "GET, POST, CONNECT (empty: any)"},
    {"pathPrefixes", "Path prefixes", "/api, /public (empty: any)"},
    {"clientCIDRs", "Client CIDRs", "10.0.0.0/8, 192.168.1.5 (empty: any)"},
    {"identities", "Identities", "alice, bob, * = any authenticated (empty: anyone)"},
};

class RuleCard : public ListCard
{
public:
    RuleCard()
    {
        setObjectName(QStringLiteral("ruleCard"));
        m_name = lineEdit(QStringLiteral("ruleName"), tr("for logs; default rules[N]"));
        addField(tr("Name"), QStringLiteral(".name"), m_name);
        m_action = new QComboBox;
        m_action->setObjectName(QStringLiteral("ruleAction"));
        m_action->addItem(tr("Deny"), QStringLiteral("Deny"));
        m_action->addItem(tr("Allow"), QStringLiteral("Allow"));
        addField(tr("Action"), QStringLiteral(".action"), m_action);
        for (const ListField &f : kRuleLists) {
            auto *e = lineEdit(QStringLiteral("rule_") + QLatin1String(f.key), tr(f.placeholder));
            m_lists.append(e);
            addField(tr(f.label), u'.' + QLatin1String(f.key), e);
        }
    }

    void load(const QJsonObject &o) override
    {
        m_original = o;
        m_name->setText(o.value("name").toString());
        m_action->setCurrentIndex(std::max(0, m_action->findData(o.value("action").toString(QStringLiteral("Deny")))));
        for (int i = 0; i < m_lists.size(); ++i)
            m_lists[i]->setText(joinList(o.value(QLatin1String(kRuleLists[i].key))));
    }

    QJsonObject toJson() const override
    {
        QJsonObject o = m_original;
        putText(o, "name", m_name->text());
        o.insert("action", m_action->currentData().toString());
        for (int i = 0; i < m_lists.size(); ++i) {
            const QString key = QLatin1String(kRuleLists[i].key);
            QJsonArray arr;
            for (const QString &s : splitList(m_lists[i]->text())) {
                bool ok = false;
                const int port = s.toInt(&ok);
                // Ports are numbers; anything else goes as typed so the service names the bad entry.
                arr.append(key == QLatin1String("ports") && ok ? QJsonValue(port) : QJsonValue(s));
            }
            putList(o, kRuleLists[i].key, arr);
        }
        return o;
    }

private:
    QLineEdit *m_name;
    QComboBox *m_action;
    QList<QLineEdit *> m_lists;
};

} // namespace

// ---- PolicyEditor ----------------------------------------------------------------------------------------------

ResourceKind PolicyEditor::resourceKind(PolicyKind kind)
{
    const QString v = QStringLiteral("dfproxy.dev/v1alpha1");
    switch (kind) {
    case PolicyKind::RateLimit:
        return {QStringLiteral("ratelimitpolicies"), QStringLiteral("RateLimitPolicy"), v};
    case PolicyKind::Authentication:
        return {QStringLiteral("authenticationpolicies"), QStringLiteral("AuthenticationPolicy"), v};
    case PolicyKind::Authorization:
        break;
    }
    return {QStringLiteral("authorizationpolicies"), QStringLiteral("AuthorizationPolicy"), v};
}

QString PolicyEditor::displayName(PolicyKind kind)
{
    switch (kind) {
    case PolicyKind::RateLimit:
        return tr("Rate limit");
    case PolicyKind::Authentication:
        return tr("Authentication");
    case PolicyKind::Authorization:
        break;
    }
    return tr("Authorization");
}

std::optional<PolicyKind> PolicyEditor::kindOf(const QString &kind)
{
    for (PolicyKind k : kinds()) {
        if (resourceKind(k).kind == kind)
            return k;
    }
    return std::nullopt;
}

QJsonObject PolicyEditor::newObject(PolicyKind kind)
{
    QJsonObject spec{{"targetRefs", QJsonArray{}}};
    switch (kind) {
    case PolicyKind::RateLimit:
        spec.insert("limits", QJsonArray{QJsonObject{{"key", "clientIP"}, {"tokens", 10}, {"fillInterval", "1s"}}});
        break;
    case PolicyKind::Authentication:
        spec.insert("basic", QJsonObject{{"realm", "dfproxy"}, {"users", QJsonArray{}}});
        break;
    case PolicyKind::Authorization:
        spec.insert("defaultAction", "Allow");
        spec.insert("rules", QJsonArray{QJsonObject{{"action", "Deny"}}});
        break;
    }
    return QJsonObject{{"apiVersion", resourceKind(kind).apiVersion},
                       {"kind", resourceKind(kind).kind},
                       {"metadata", QJsonObject{{"name", ""}, {"namespace", "default"}}},
                       {"spec", spec}};
}

PolicyEditor *PolicyEditor::create(PolicyKind kind, client::ApiClient *api, QWidget *parent)
{
    switch (kind) {
    case PolicyKind::RateLimit:
        return new RateLimitPolicyEditor(api, parent);
    case PolicyKind::Authentication:
        return new AuthenticationPolicyEditor(api, parent);
    case PolicyKind::Authorization:
        break;
    }
    return new AuthorizationPolicyEditor(api, parent);
}

PolicyEditor::PolicyEditor(client::ApiClient *api, PolicyKind kind, QWidget *parent)
    : ResourceEditor(api, resourceKind(kind), parent), m_api(api), m_policyKind(kind),
      m_targets(new TargetRefsEditor(this))
{
    connect(m_targets, &TargetRefsEditor::createRouteRequested, this, &PolicyEditor::createRoute);
    setObjectName(QStringLiteral("policyEditor"));
    m_status = new QTreeWidget;
    m_status->setObjectName(QStringLiteral("statusTree"));
    m_status->setHeaderLabels({tr("Target / condition"), tr("Status"), tr("Reason"), tr("Message")});
    addExtraTab(m_status, tr("Status"));
    // Wide enough for the target table's three columns, low enough for a 1280x800 screen with its title bar.
    resize(900, 720);
    m_targetsBox = new FieldBox(QStringLiteral("spec.targetRefs"), m_targets);
    // The targets keep their height; room left over goes to the kind's own fields below.
    m_targetsBox->setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Maximum);
    form()->addRow(tr("Attached to"), m_targetsBox);
    connect(m_targets, &TargetRefsEditor::targetPicked, this, [this](const KnownTarget &t) {
        // Targets live in the policy's namespace: a new policy follows its first target; an existing one cannot move.
        if (!namespaceEdit()->isReadOnly()) {
            namespaceEdit()->setText(t.ns);
        } else if (t.ns != namespaceEdit()->text()) {
            m_targetsBox->setError(tr("%1 is in namespace %2, but this policy is in %3: it can only attach to targets "
                                      "in its own namespace (duplicate the policy into %2 instead).")
                                       .arg(t.label(), t.ns, namespaceEdit()->text()));
        }
    });
}

void PolicyEditor::createRoute(int row)
{
    if (m_creator)
        m_creator->close();
    auto *editor = new RouteEditor(m_api, this);
    editor->setAttribute(Qt::WA_DeleteOnClose);
    QJsonObject o = RouteEditor::newObject();
    QJsonObject md = o.value("metadata").toObject();
    // Targets share the policy's namespace, so the new route is made there.
    const QString ns = namespaceEdit()->text().trimmed();
    md.insert("namespace", ns.isEmpty() ? QStringLiteral("default") : ns);
    o.insert("metadata", md);
    editor->load(o, Mode::Create);
    connect(editor, &ResourceEditor::saved, this, [this, row](const QJsonObject &saved) {
        m_targets->setRef(row, {QStringLiteral("HTTPRoute"), resourceNamespace(saved), resourceName(saved), {}});
    });
    m_creator = editor;
    editor->open();
}

void PolicyEditor::setKnownTargets(const QList<KnownTarget> &targets)
{
    m_targets->setKnownTargets(targets);
}

void PolicyEditor::setForm(const QJsonObject &object)
{
    const QJsonObject spec = object.value("spec").toObject();
    m_targets->load(spec.value("targetRefs").toArray());
    loadSpec(spec);
    // The route editor's status tree, one item per target (status.ancestors) and one for the policy as a whole.
    const QJsonObject status = object.value("status").toObject();
    QJsonArray entries;
    for (const auto &a : status.value("ancestors").toArray()) {
        entries.append(QJsonObject{{"parentRef", a.toObject().value("ancestorRef")},
                                   {"conditions", a.toObject().value("conditions")}});
    }
    if (!status.value("conditions").toArray().isEmpty()) {
        const QJsonObject md = object.value("metadata").toObject();
        entries.append(QJsonObject{{"parentRef", QJsonObject{{"kind", object.value("kind")},
                                                             {"namespace", md.value("namespace")},
                                                             {"name", md.value("name")}}},
                                   {"conditions", status.value("conditions")}});
    }
    fillRouteStatus(m_status, QJsonObject{{"parents", entries}}, tr("No status reported (save the policy first)"));
}

QJsonObject PolicyEditor::specFromForm(const QJsonObject &original) const
{
    QJsonObject spec = specFromWidgets(original);
    spec.insert("targetRefs", m_targets->toJson());
    return spec;
}

// ---- RateLimitPolicyEditor -------------------------------------------------------------------------------------

RateLimitPolicyEditor::RateLimitPolicyEditor(client::ApiClient *api, QWidget *parent)
    : PolicyEditor(api, PolicyKind::RateLimit, parent),
      m_limits(new CardList(QStringLiteral("spec.limits"), tr("Limit"), tr("Add limit"), [] { return new LimitCard; }))
{
    setObjectName(QStringLiteral("rateLimitPolicyEditor"));
    m_limits->setObjectName(QStringLiteral("limitsList"));
    auto *hint =
        new QLabel(tr("Each limit is a token bucket: <i>tokens</i> are added every <i>fill interval</i>, up to "
                      "<i>burst</i>.<br>A request needs a token from every limit; otherwise it gets 429."));
    // Broken by hand, not word-wrapped: a wrapping label makes the form's height depend on its width, and then the
    // form scrolls as a whole instead of the list of limits.
    form()->addRow(QString(), hint);
    form()->addRow(tr("Limits"), new FieldBox(QStringLiteral("spec.limits"), m_limits));
    load(newObject(PolicyKind::RateLimit), Mode::Create);
}

QSpinBox *RateLimitPolicyEditor::tokensSpin(int i) const
{
    return m_limits->card(i) ? m_limits->card(i)->findChild<QSpinBox *>(QStringLiteral("limitTokens")) : nullptr;
}

QLineEdit *RateLimitPolicyEditor::fillIntervalEdit(int i) const
{
    return m_limits->card(i) ? m_limits->card(i)->findChild<QLineEdit *>(QStringLiteral("limitFillInterval")) : nullptr;
}

QComboBox *RateLimitPolicyEditor::keyCombo(int i) const
{
    return m_limits->card(i) ? m_limits->card(i)->findChild<QComboBox *>(QStringLiteral("limitKey")) : nullptr;
}

void RateLimitPolicyEditor::loadSpec(const QJsonObject &spec)
{
    m_limits->setItems(spec.value("limits").toArray());
}

QJsonObject RateLimitPolicyEditor::specFromWidgets(const QJsonObject &original) const
{
    QJsonObject spec = original;
    spec.insert("limits", m_limits->items());
    return spec;
}

// ---- AuthenticationPolicyEditor --------------------------------------------------------------------------------

AuthenticationPolicyEditor::AuthenticationPolicyEditor(client::ApiClient *api, QWidget *parent)
    : PolicyEditor(api, PolicyKind::Authentication, parent),
      m_optional(new QCheckBox(tr("Optional: requests without credentials pass as anonymous (wrong ones still fail)"))),
      m_basic(new QGroupBox(tr("Basic (user name and password)"))),
      m_realm(lineEdit(QStringLiteral("realmEdit"), QStringLiteral("dfproxy"))),
      m_users(twoColumnTable(QStringLiteral("usersTable"), tr("User"), tr("Password hash"))),
      m_htpasswd(lineEdit(QStringLiteral("htpasswdEdit"), tr("optional: an htpasswd file on the service's machine"))),
      m_apiKey(new QGroupBox(tr("API keys"))),
      m_keyHeader(lineEdit(QStringLiteral("apiKeyHeaderEdit"), QStringLiteral("x-api-key"))),
      m_keys(twoColumnTable(QStringLiteral("keysTable"), tr("Holder"), tr("SHA-256 of the key"))),
      m_jwt(new QGroupBox(tr("JWT bearer tokens"))),
      m_issuer(lineEdit(QStringLiteral("jwtIssuerEdit"), tr("empty: not checked"))),
      m_audiences(lineEdit(QStringLiteral("jwtAudiencesEdit"), tr("comma-separated; empty: not checked"))),
      m_jwksFile(lineEdit(QStringLiteral("jwksFileEdit"), tr("a JWKS file on the service's machine…"))),
      m_jwks(new QPlainTextEdit), m_clockSkew(lineEdit(QStringLiteral("clockSkewEdit"), tr("default 60s"))),
      m_identityClaim(lineEdit(QStringLiteral("identityClaimEdit"), tr("default sub")))
{
    setObjectName(QStringLiteral("authenticationPolicyEditor"));
    m_optional->setObjectName(QStringLiteral("optionalCheck"));
    form()->addRow(QString(), new FieldBox(QStringLiteral("spec.optional"), m_optional));

    m_basic->setObjectName(QStringLiteral("basicGroup"));
    m_basic->setCheckable(true);
    auto *bf = new QFormLayout(m_basic);
    bf->addRow(tr("Realm"), new FieldBox(QStringLiteral("spec.basic.realm"), m_realm));
    auto *usersBox = new QWidget;
    auto *uv = new QVBoxLayout(usersBox);
    uv->setContentsMargins(0, 0, 0, 0);
    uv->addWidget(m_users);
    auto *ub = new QHBoxLayout;
    auto *addUserButton = new QPushButton(tr("Add user…"));
    addUserButton->setObjectName(QStringLiteral("addUserButton"));
    connect(addUserButton, &QPushButton::clicked, this, [this] { askUser(-1); });
    auto *setPassword = new QPushButton(tr("Set password…"));
    setPassword->setObjectName(QStringLiteral("setPasswordButton"));
    connect(setPassword, &QPushButton::clicked, this, [this] {
        if (m_users->currentRow() >= 0)
            askUser(m_users->currentRow());
    });
    auto *removeUser = new QPushButton(tr("Remove selected"));
    connect(removeUser, &QPushButton::clicked, this, [this] {
        if (m_users->currentRow() >= 0)
            m_users->removeRow(m_users->currentRow());
    });
    ub->addWidget(addUserButton);
    ub->addWidget(setPassword);
    ub->addWidget(removeUser);
    ub->addStretch(1);
    uv->addLayout(ub);
    m_users->setToolTip(tr("Passwords are hashed here (pbkdf2-sha256) and only the hash is sent. You can also paste a "
                           "bcrypt ($2y$…), SHA-crypt ($6$…) or pbkdf2-sha256 hash into the cell."));
    bf->addRow(tr("Users"), new FieldBox(QStringLiteral("spec.basic.users"), usersBox));
    auto *htRow = new QWidget;
    auto *hl = new QHBoxLayout(htRow);
    hl->setContentsMargins(0, 0, 0, 0);
    hl->addWidget(m_htpasswd);
    auto *browse = new QPushButton(tr("Browse…"));
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("htpasswd file"));
        if (!f.isEmpty())
            m_htpasswd->setText(f);
    });
    hl->addWidget(browse);
    bf->addRow(tr("htpasswd file"), new FieldBox(QStringLiteral("spec.basic.htpasswdFile"), htRow));
    // The three methods are tabs, not three boxes one under the other: the dialog fits a 1280x800 screen (#28 item 1).
    // A tab's title is ticked when its method is on, so nothing enabled hides behind a tab.
    auto *methods = new QTabWidget;
    methods->setObjectName(QStringLiteral("methodTabs"));
    auto addMethod = [methods](QGroupBox *group, const QString &path, const QString &title) {
        const int i = methods->addTab(new FieldBox(path, group), title);
        auto retitle = [methods, i, title](bool on) {
            methods->setTabText(i, on ? title + QStringLiteral(" ✔") : title);
        };
        QObject::connect(group, &QGroupBox::toggled, methods, retitle);
        retitle(group->isChecked());
    };
    addMethod(m_basic, QStringLiteral("spec.basic"), tr("Basic"));

    m_apiKey->setObjectName(QStringLiteral("apiKeyGroup"));
    m_apiKey->setCheckable(true);
    auto *kf = new QFormLayout(m_apiKey);
    kf->addRow(tr("Header"), new FieldBox(QStringLiteral("spec.apiKey.header"), m_keyHeader));
    auto *keysBox = new QWidget;
    auto *kv = new QVBoxLayout(keysBox);
    kv->setContentsMargins(0, 0, 0, 0);
    kv->addWidget(m_keys);
    auto *kb = new QHBoxLayout;
    auto *addKeyButton = new QPushButton(tr("Add key…"));
    addKeyButton->setObjectName(QStringLiteral("addKeyButton"));
    connect(addKeyButton, &QPushButton::clicked, this, &AuthenticationPolicyEditor::askKey);
    auto *removeKey = new QPushButton(tr("Remove selected"));
    connect(removeKey, &QPushButton::clicked, this, [this] {
        if (m_keys->currentRow() >= 0)
            m_keys->removeRow(m_keys->currentRow());
    });
    kb->addWidget(addKeyButton);
    kb->addWidget(removeKey);
    kb->addStretch(1);
    kv->addLayout(kb);
    kf->addRow(tr("Keys"), new FieldBox(QStringLiteral("spec.apiKey.keys"), keysBox));
    addMethod(m_apiKey, QStringLiteral("spec.apiKey"), tr("API keys"));

    m_jwt->setObjectName(QStringLiteral("jwtGroup"));
    m_jwt->setCheckable(true);
    auto *jf = new QFormLayout(m_jwt);
    jf->addRow(tr("Issuer"), new FieldBox(QStringLiteral("spec.jwt.issuer"), m_issuer));
    jf->addRow(tr("Audiences"), new FieldBox(QStringLiteral("spec.jwt.audiences"), m_audiences));
    jf->addRow(tr("JWKS file"), new FieldBox(QStringLiteral("spec.jwt.jwksFile"), m_jwksFile));
    m_jwks->setObjectName(QStringLiteral("jwksEdit"));
    m_jwks->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_jwks->setPlaceholderText(
        tr("…or the JWKS inline: {\"keys\": [{\"kty\": \"RSA\", \"n\": \"…\", \"e\": \"AQAB\"}]}"));
    m_jwks->setMaximumHeight(90);
    jf->addRow(tr("JWKS inline"), new FieldBox(QStringLiteral("spec.jwt.jwks"), m_jwks));
    jf->addRow(tr("Clock skew"), new FieldBox(QStringLiteral("spec.jwt.clockSkew"), m_clockSkew));
    jf->addRow(tr("Identity claim"), new FieldBox(QStringLiteral("spec.jwt.identityClaim"), m_identityClaim));
    addMethod(m_jwt, QStringLiteral("spec.jwt"), tr("JWT"));
    form()->addRow(tr("Methods"), methods);
    load(newObject(PolicyKind::Authentication), Mode::Create);
}

void AuthenticationPolicyEditor::addUser(const QString &name, const QString &password)
{
    addRow(m_users, name, QString::fromLatin1(hashPasswordPbkdf2(password.toUtf8())));
    m_basic->setChecked(true);
}

void AuthenticationPolicyEditor::addApiKey(const QString &name, const QString &key)
{
    addRow(m_keys, name, QString::fromLatin1(sha256Hex(key.toUtf8())));
    m_apiKey->setChecked(true);
}

void AuthenticationPolicyEditor::askUser(int row)
{
    QDialog d(this);
    d.setWindowTitle(row < 0 ? tr("Add user") : tr("Set password"));
    auto *f = new QFormLayout(&d);
    auto *name = new QLineEdit(row < 0 ? QString() : cell(m_users, row, 0));
    name->setReadOnly(row >= 0);
    auto *password = new QLineEdit;
    password->setEchoMode(QLineEdit::Password);
    auto *again = new QLineEdit;
    again->setEchoMode(QLineEdit::Password);
    f->addRow(tr("User"), name);
    f->addRow(tr("Password"), password);
    f->addRow(tr("Repeat"), again);
    auto *note = new QLabel(tr("Only a pbkdf2-sha256 hash of the password is sent to the service."));
    note->setWordWrap(true);
    f->addRow(note);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    f->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, &d, [&] {
        if (name->text().trimmed().isEmpty() || password->text().isEmpty())
            note->setText(tr("Enter a user name and a password."));
        else if (password->text() != again->text())
            note->setText(tr("The passwords differ."));
        else
            d.accept();
    });
    connect(buttons, &QDialogButtonBox::rejected, &d, &QDialog::reject);
    if (d.exec() != QDialog::Accepted)
        return;
    const QString hash = QString::fromLatin1(hashPasswordPbkdf2(password->text().toUtf8()));
    if (row < 0)
        addRow(m_users, name->text().trimmed(), hash);
    else
        m_users->setItem(row, 1, new QTableWidgetItem(hash));
}

void AuthenticationPolicyEditor::askKey()
{
    QDialog d(this);
    d.setWindowTitle(tr("Add API key"));
    auto *f = new QFormLayout(&d);
    auto *name = new QLineEdit;
    auto *key = new QLineEdit;
    key->setEchoMode(QLineEdit::Password);
    auto *generate = new QPushButton(tr("Generate"));
    auto *keyRow = new QHBoxLayout;
    keyRow->addWidget(key);
    keyRow->addWidget(generate);
    f->addRow(tr("Holder"), name);
    f->addRow(tr("Key"), keyRow);
    auto *note = new QLabel(tr("Only the key's SHA-256 is sent to the service; give the key itself to its holder."));
    note->setWordWrap(true);
    note->setTextInteractionFlags(Qt::TextSelectableByMouse);
    f->addRow(note);
    connect(generate, &QPushButton::clicked, &d, [&] {
        key->setText(QString::fromLatin1(generateApiKey()));
        key->setEchoMode(QLineEdit::Normal);
        key->selectAll();
        note->setText(tr("Copy the key now: after saving, only its SHA-256 is kept."));
    });
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    f->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, &d, [&] {
        if (name->text().trimmed().isEmpty() || key->text().isEmpty())
            note->setText(tr("Enter the holder's name and a key."));
        else
            d.accept();
    });
    connect(buttons, &QDialogButtonBox::rejected, &d, &QDialog::reject);
    if (d.exec() == QDialog::Accepted)
        addApiKey(name->text().trimmed(), key->text());
}

void AuthenticationPolicyEditor::loadSpec(const QJsonObject &spec)
{
    m_optional->setChecked(spec.value("optional").toBool());
    const QJsonObject basic = spec.value("basic").toObject();
    m_basic->setChecked(spec.contains("basic"));
    m_realm->setText(basic.value("realm").toString());
    m_users->setRowCount(0);
    for (const auto &u : basic.value("users").toArray())
        addRow(m_users, u.toObject().value("name").toString(), u.toObject().value("passwordHash").toString());
    m_htpasswd->setText(basic.value("htpasswdFile").toString());
    const QJsonObject ak = spec.value("apiKey").toObject();
    m_apiKey->setChecked(spec.contains("apiKey"));
    m_keyHeader->setText(ak.value("header").toString());
    m_keys->setRowCount(0);
    for (const auto &k : ak.value("keys").toArray())
        addRow(m_keys, k.toObject().value("name").toString(), k.toObject().value("sha256").toString());
    const QJsonObject jwt = spec.value("jwt").toObject();
    m_jwt->setChecked(spec.contains("jwt"));
    m_issuer->setText(jwt.value("issuer").toString());
    m_audiences->setText(joinList(jwt.value("audiences")));
    m_jwksFile->setText(jwt.value("jwksFile").toString());
    m_jwks->setPlainText(
        jwt.contains("jwks")
            ? QString::fromUtf8(QJsonDocument(jwt.value("jwks").toObject()).toJson(QJsonDocument::Indented))
            : QString());
    m_clockSkew->setText(jwt.value("clockSkew").toString());
    m_identityClaim->setText(jwt.value("identityClaim").toString());
}

QJsonObject AuthenticationPolicyEditor::specFromWidgets(const QJsonObject &original) const
{
    QJsonObject spec = original;
    if (m_optional->isChecked())
        spec.insert("optional", true);
    else
        spec.remove("optional");

    spec.remove("basic");
    if (m_basic->isChecked()) {
        QJsonObject b = original.value("basic").toObject();
        putText(b, "realm", m_realm->text());
        QJsonArray users;
        for (int r = 0; r < m_users->rowCount(); ++r)
            users.append(QJsonObject{{"name", cell(m_users, r, 0)}, {"passwordHash", cell(m_users, r, 1)}});
        putList(b, "users", users);
        putText(b, "htpasswdFile", m_htpasswd->text());
        spec.insert("basic", b);
    }

    spec.remove("apiKey");
    if (m_apiKey->isChecked()) {
        QJsonObject a = original.value("apiKey").toObject();
        putText(a, "header", m_keyHeader->text());
        QJsonArray keys;
        for (int r = 0; r < m_keys->rowCount(); ++r)
            keys.append(QJsonObject{{"name", cell(m_keys, r, 0)}, {"sha256", cell(m_keys, r, 1)}});
        a.insert("keys", keys);
        spec.insert("apiKey", a);
    }

    spec.remove("jwt");
    if (m_jwt->isChecked()) {
        QJsonObject j = original.value("jwt").toObject();
        putText(j, "issuer", m_issuer->text());
        QJsonArray aud;
        for (const QString &a : splitList(m_audiences->text()))
            aud.append(a);
        putList(j, "audiences", aud);
        putText(j, "jwksFile", m_jwksFile->text());
        const QString jwks = m_jwks->toPlainText().trimmed();
        if (jwks.isEmpty()) {
            j.remove("jwks");
        } else {
            const auto doc = QJsonDocument::fromJson(jwks.toUtf8());
            // Text that is not a JSON object goes as a string: the service's error then lands beside this box.
            j.insert("jwks", doc.isObject() ? QJsonValue(doc.object()) : QJsonValue(jwks));
        }
        putText(j, "clockSkew", m_clockSkew->text());
        putText(j, "identityClaim", m_identityClaim->text());
        spec.insert("jwt", j);
    }
    return spec;
}

// ---- AuthorizationPolicyEditor ---------------------------------------------------------------------------------

AuthorizationPolicyEditor::AuthorizationPolicyEditor(client::ApiClient *api, QWidget *parent)
    : PolicyEditor(api, PolicyKind::Authorization, parent), m_default(new QComboBox),
      m_rules(new CardList(QStringLiteral("spec.rules"), tr("Rule"), tr("Add rule"), [] { return new RuleCard; }))
{
    setObjectName(QStringLiteral("authorizationPolicyEditor"));
    m_default->setObjectName(QStringLiteral("defaultActionCombo"));
    m_default->addItem(tr("Deny (only what a rule allows passes)"), QStringLiteral("Deny"));
    m_default->addItem(tr("Allow (only what a rule denies is refused)"), QStringLiteral("Allow"));
    form()->addRow(tr("Default action"), new FieldBox(QStringLiteral("spec.defaultAction"), m_default));
    // Two lines by hand, not word-wrapped (see the rate limit editor's hint).
    auto *hint = new QLabel(tr("The first rule whose every condition matches decides; empty conditions match "
                               "anything.<br>Refused requests get 403."));
    form()->addRow(QString(), hint);
    m_rules->setObjectName(QStringLiteral("rulesList"));
    form()->addRow(tr("Rules"), new FieldBox(QStringLiteral("spec.rules"), m_rules));
    load(newObject(PolicyKind::Authorization), Mode::Create);
}

QLineEdit *AuthorizationPolicyEditor::ruleEdit(int i, const QString &field) const
{
    return m_rules->card(i) ? m_rules->card(i)->findChild<QLineEdit *>(QStringLiteral("rule_") + field) : nullptr;
}

QComboBox *AuthorizationPolicyEditor::ruleActionCombo(int i) const
{
    return m_rules->card(i) ? m_rules->card(i)->findChild<QComboBox *>(QStringLiteral("ruleAction")) : nullptr;
}

void AuthorizationPolicyEditor::loadSpec(const QJsonObject &spec)
{
    m_default->setCurrentIndex(std::max(0, m_default->findData(spec.value("defaultAction").toString("Deny"))));
    m_rules->setItems(spec.value("rules").toArray());
}

QJsonObject AuthorizationPolicyEditor::specFromWidgets(const QJsonObject &original) const
{
    QJsonObject spec = original;
    spec.insert("defaultAction", m_default->currentData().toString());
    putList(spec, "rules", m_rules->items());
    return spec;
}

// ---- Summary ---------------------------------------------------------------------------------------------------

QString policySummary(const QJsonObject &policy)
{
    const QJsonObject spec = policy.value("spec").toObject();
    const auto kind = PolicyEditor::kindOf(policy.value("kind").toString());
    QStringList parts;
    if (kind == PolicyKind::RateLimit) {
        for (const auto &v : spec.value("limits").toArray()) {
            const QJsonObject l = v.toObject();
            const QString key = l.value("key").toString(QStringLiteral("clientIP"));
            QString s =
                QObject::tr("%1 per %2 by %3")
                    .arg(l.value("tokens").toInteger())
                    .arg(l.value("fillInterval").toString(QStringLiteral("1s")),
                         key == QLatin1String("header") ? QStringLiteral("header %1").arg(l.value("header").toString())
                                                        : key);
            if (l.contains("burst"))
                s += QObject::tr(" (burst %1)").arg(l.value("burst").toInteger());
            parts.append(s);
        }
    } else if (kind == PolicyKind::Authentication) {
        if (spec.contains("basic")) {
            const QJsonObject b = spec.value("basic").toObject();
            QStringList what;
            if (!b.value("users").toArray().isEmpty())
                what.append(b.value("users").toArray().size() == 1
                                ? QObject::tr("1 user")
                                : QObject::tr("%1 users").arg(b.value("users").toArray().size()));
            if (b.contains("htpasswdFile"))
                what.append(QObject::tr("htpasswd"));
            parts.append(QObject::tr("basic (%1)").arg(what.join(QStringLiteral(", "))));
        }
        if (spec.contains("apiKey"))
            parts.append(
                QObject::tr("API keys (%1)").arg(spec.value("apiKey").toObject().value("keys").toArray().size()));
        if (spec.contains("jwt")) {
            const QString iss = spec.value("jwt").toObject().value("issuer").toString();
            parts.append(iss.isEmpty() ? QObject::tr("JWT") : QObject::tr("JWT from %1").arg(iss));
        }
        if (spec.value("optional").toBool())
            parts.append(QObject::tr("optional"));
    } else if (kind == PolicyKind::Authorization) {
        for (const auto &v : spec.value("rules").toArray()) {
            const QJsonObject r = v.toObject();
            QStringList conds;
            for (const ListField &f : kRuleLists) {
                const QString list = joinList(r.value(QLatin1String(f.key)));
                if (!list.isEmpty())
                    conds.append(list);
            }
            parts.append(QStringLiteral("%1 %2").arg(
                r.value("action").toString(), conds.isEmpty() ? QObject::tr("all") : conds.join(QStringLiteral(" "))));
        }
        parts.append(QObject::tr("else %1").arg(spec.value("defaultAction").toString(QStringLiteral("Deny"))));
    }
    return parts.join(QStringLiteral("; "));
}

} // namespace dfproxy::gui
