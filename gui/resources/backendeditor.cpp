// SPDX-License-Identifier: Apache-2.0
#include "resources/backendeditor.h"

#include "widgets/fieldbox.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QSpinBox>

namespace dfproxy::gui {

namespace {

const QString kPolicies = QStringLiteral("agentgatewaypolicies");
const QString kCredentials = QStringLiteral("dfproxy.dev/tunnel-credentials-file");
const QString kBypass = QStringLiteral("dfproxy.dev/tunnel-bypass");
const QString kPac = QStringLiteral("dfproxy.dev/tunnel-pac-url");

QString upstreamPath(const QString &path)
{
    return QStringLiteral("%1.%2").arg(QLatin1String(BackendEditor::UpstreamPrefix), path);
}

QString annotationPath(const QString &annotation)
{
    return upstreamPath(QStringLiteral("metadata.annotations[%1]").arg(annotation));
}

QString namespaceOf(const QJsonObject &o)
{
    const QString ns = o.value("metadata").toObject().value("namespace").toString();
    return ns.isEmpty() ? QStringLiteral("default") : ns;
}

QString nameOf(const QJsonObject &o)
{
    return o.value("metadata").toObject().value("name").toString();
}

QJsonObject tunnelOf(const QJsonObject &policy)
{
    return policy.value("spec").toObject().value("backend").toObject().value("tunnel").toObject();
}

bool hasTunnel(const QJsonObject &policy)
{
    return policy.value("spec").toObject().value("backend").toObject().value("tunnel").isObject();
}

// The policy's Accepted condition over all its targets; a False one wins (as the Policies page shows it).
QString acceptedText(const QJsonObject &policy)
{
    const QJsonObject status = policy.value("status").toObject();
    QJsonArray conditions = status.value("conditions").toArray();
    for (const auto &a : status.value("ancestors").toArray()) {
        for (const auto &c : a.toObject().value("conditions").toArray())
            conditions.append(c);
    }
    QJsonObject found;
    for (const auto &c : std::as_const(conditions)) {
        const QJsonObject co = c.toObject();
        if (co.value("type").toString() != QLatin1String("Accepted"))
            continue;
        if (found.isEmpty() || found.value("status").toString() == QLatin1String("True"))
            found = co;
    }
    if (found.isEmpty())
        return QObject::tr("no status yet");
    if (found.value("status").toString() == QLatin1String("True"))
        return QObject::tr("Accepted");
    return QObject::tr("not accepted (%1): %2")
        .arg(found.value("reason").toString(), found.value("message").toString());
}

// Errors of the policy, renamed into this editor's upstream fields so that they never land on a backend field.
client::ApiError asUpstreamError(client::ApiError e, const QString &policyLabel)
{
    for (auto &field : e.fields)
        field.first = upstreamPath(field.first);
    e.detail = QObject::tr("The upstream proxy policy %1 was not saved (the backend was): %2")
                   .arg(policyLabel, e.detail);
    return e;
}

} // namespace

ResourceKind BackendEditor::resourceKind()
{
    return {QStringLiteral("backends"), QStringLiteral("AgentgatewayBackend"), QStringLiteral("agentgateway.dev/v1alpha1")};
}

QString BackendEditor::canonicalLookupFamily(const QString &value)
{
    // The service's accepted set (docs/dns.md): the canonical names and Envoy's, in any letter case.
    for (const char *name : {"V4Only", "V6Only", "Auto", "V4Preferred", "All"}) {
        const QString canonical = QString::fromLatin1(name);
        QString envoy = canonical;
        envoy.replace(QLatin1String("Only"), QLatin1String("_Only")).replace(QLatin1String("Preferred"),
                                                                             QLatin1String("_Preferred"));
        if (value.compare(canonical, Qt::CaseInsensitive) == 0 || value.compare(envoy, Qt::CaseInsensitive) == 0)
            return canonical;
    }
    return QString();
}

QJsonObject BackendEditor::newObject()
{
    return QJsonObject{{"apiVersion", resourceKind().apiVersion},
                       {"kind", resourceKind().kind},
                       {"metadata", QJsonObject{{"name", ""}, {"namespace", "default"}}},
                       {"spec", QJsonObject{{"dynamicForwardProxy", QJsonObject{}}}}};
}

BackendEditor::BackendEditor(client::ApiClient *api, QWidget *parent)
    : ResourceEditor(api, resourceKind(), parent),
      m_type(new QComboBox(this)),
      m_host(new QLineEdit(this)),
      m_port(new QSpinBox(this)),
      m_tls(new QGroupBox(tr("Upstream TLS"), this)),
      m_sni(new QLineEdit(this)),
      m_insecure(new QCheckBox(tr("Skip certificate verification (insecure)"), this)),
      m_caFile(new QLineEdit(this)),
      m_family(new QComboBox(this)),
      m_engine(new QComboBox(this)),
      m_apiClient(api),
      m_proxyGroup(new QGroupBox(tr("Upstream proxy"), this)),
      m_proxyMode(new QComboBox(this)),
      m_proxyPolicy(new QLabel(this)),
      m_proxyUrl(new QLineEdit(this)),
      m_proxyCredentials(new QLineEdit(this)),
      m_proxyBypass(new QLineEdit(this)),
      m_proxyPac(new QLineEdit(this)),
      m_proxyNote(new QLabel(this))
{
    setObjectName(QStringLiteral("backendEditor"));
    m_type->setObjectName(QStringLiteral("typeCombo"));
    m_type->addItem(tr("Dynamic forward proxy (resolve each request's host)"), QStringLiteral("dfp"));
    m_type->addItem(tr("Static host and port"), QStringLiteral("static"));
    form()->addRow(tr("Type"), new FieldBox(QStringLiteral("spec"), m_type));

    m_host->setObjectName(QStringLiteral("staticHost"));
    m_host->setPlaceholderText(tr("hostname or IP address"));
    form()->addRow(tr("Static host"), new FieldBox(QStringLiteral("spec.static.host"), m_host));
    m_port->setObjectName(QStringLiteral("staticPort"));
    m_port->setRange(1, 65535);
    m_port->setValue(80);
    form()->addRow(tr("Static port"), new FieldBox(QStringLiteral("spec.static.port"), m_port));

    m_tls->setObjectName(QStringLiteral("tlsGroup"));
    m_tls->setCheckable(true);
    m_tls->setChecked(false);
    auto *tlsForm = new QFormLayout(m_tls);
    m_sni->setObjectName(QStringLiteral("tlsSni"));
    m_sni->setPlaceholderText(tr("default: the request's host"));
    tlsForm->addRow(tr("SNI"), new FieldBox(QStringLiteral("spec.tls.sni"), m_sni));
    m_caFile->setObjectName(QStringLiteral("tlsCaFile"));
    m_caFile->setPlaceholderText(tr("PEM file; default: the system's CAs"));
    auto *caRow = new QWidget;
    auto *caLayout = new QHBoxLayout(caRow);
    caLayout->setContentsMargins(0, 0, 0, 0);
    caLayout->addWidget(m_caFile);
    auto *browse = new QPushButton(tr("Browse…"));
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("CA certificates"), {}, tr("PEM files (*.pem *.crt);;All files (*)"));
        if (!f.isEmpty())
            m_caFile->setText(f);
    });
    caLayout->addWidget(browse);
    tlsForm->addRow(tr("CA file"), new FieldBox(QStringLiteral("spec.tls.caFile"), caRow));
    m_insecure->setObjectName(QStringLiteral("tlsInsecure"));
    tlsForm->addRow(QString(), new FieldBox(QStringLiteral("spec.tls.insecureSkipVerify"), m_insecure));
    form()->addRow(new FieldBox(QStringLiteral("spec.tls"), m_tls));

    m_family->setObjectName(QStringLiteral("lookupFamily"));
    m_family->addItem(tr("Service default"), QString());
    for (const char *f : {"V4Only", "V6Only", "Auto", "V4Preferred", "All"})
        m_family->addItem(QString::fromLatin1(f), QString::fromLatin1(f));
    form()->addRow(tr("DNS lookup family"), new FieldBox(QStringLiteral("spec.dns.lookupFamily"), m_family));

    m_engine->setObjectName(QStringLiteral("engine"));
    m_engine->addItem(tr("native (dfproxy's HTTP/1.1 client)"), QStringLiteral("native"));
    m_engine->addItem(tr("qnam (QNetworkAccessManager)"), QStringLiteral("qnam"));
    form()->addRow(tr("Engine"), new FieldBox(QStringLiteral("spec.engine"), m_engine));

    m_proxyGroup->setObjectName(QStringLiteral("upstreamProxyGroup"));
    auto *proxyForm = new QFormLayout(m_proxyGroup);
    m_proxyMode->setObjectName(QStringLiteral("upstreamMode"));
    m_proxyMode->addItem(tr("None (straight to the origin)"), QStringLiteral("none"));
    m_proxyMode->addItem(tr("Through the proxy at a URL"), QStringLiteral("url"));
    // Errors the fields below do not take (the qnam engine refusal at spec.backend.tunnel) show here.
    proxyForm->addRow(tr("Mode"), new FieldBox(QLatin1String(UpstreamPrefix), m_proxyMode));
    m_proxyPolicy->setObjectName(QStringLiteral("upstreamPolicy"));
    m_proxyPolicy->setWordWrap(true);
    m_proxyPolicy->setTextInteractionFlags(Qt::TextSelectableByMouse);
    proxyForm->addRow(tr("Policy"), m_proxyPolicy);
    m_proxyUrl->setObjectName(QStringLiteral("upstreamUrl"));
    m_proxyUrl->setPlaceholderText(QStringLiteral("http://proxy.corp.example:3128"));
    proxyForm->addRow(tr("URL"), new FieldBox(upstreamPath(QStringLiteral("spec.backend.tunnel.url")), m_proxyUrl));
    m_proxyCredentials->setObjectName(QStringLiteral("upstreamCredentials"));
    m_proxyCredentials->setPlaceholderText(tr("optional: a chmod 600 file with user:password"));
    proxyForm->addRow(tr("Credentials file"), new FieldBox(annotationPath(kCredentials), m_proxyCredentials));
    m_proxyBypass->setObjectName(QStringLiteral("upstreamBypass"));
    m_proxyBypass->setPlaceholderText(QStringLiteral("<local>, *.corp.example, 10.0.0.0/8"));
    proxyForm->addRow(tr("Bypass"), new FieldBox(annotationPath(kBypass), m_proxyBypass));
    m_proxyPac->setObjectName(QStringLiteral("upstreamPac"));
    m_proxyPac->setPlaceholderText(tr("optional: http://wpad.corp.example/wpad.dat"));
    proxyForm->addRow(tr("PAC URL"), new FieldBox(annotationPath(kPac), m_proxyPac));
    m_proxyNote->setObjectName(QStringLiteral("upstreamNote"));
    m_proxyNote->setWordWrap(true);
    m_proxyNote->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_proxyNote->hide();
    proxyForm->addRow(m_proxyNote);
    form()->addRow(m_proxyGroup);

    connect(m_type, &QComboBox::currentIndexChanged, this, &BackendEditor::updateEnabled);
    connect(m_proxyMode, &QComboBox::currentIndexChanged, this, &BackendEditor::updateEnabled);
    // A new backend's policy is named after it: the line follows the name as it is typed.
    auto renamed = [this] {
        if (mode() == Mode::Create && m_policy.isEmpty())
            showNewPolicyName(namespaceEdit()->text().trimmed(), nameEdit()->text().trimmed());
    };
    connect(nameEdit(), &QLineEdit::textChanged, this, renamed);
    connect(namespaceEdit(), &QLineEdit::textChanged, this, renamed);
    load(newObject(), Mode::Create);
}

void BackendEditor::updateEnabled()
{
    const bool isStatic = m_type->currentData().toString() == QLatin1String("static");
    m_host->setEnabled(isStatic);
    m_port->setEnabled(isStatic);
    const bool editable = m_policyLoaded && !m_policyReadOnly;
    m_proxyMode->setEnabled(editable);
    const bool url = editable && m_proxyMode->currentData().toString() == QLatin1String("url");
    for (auto *edit : {m_proxyUrl, m_proxyCredentials, m_proxyBypass, m_proxyPac})
        edit->setEnabled(url);
}

QString BackendEditor::upstreamPolicyText() const
{
    return m_proxyPolicy->text();
}

QString BackendEditor::upstreamNote() const
{
    return m_proxyNote->isHidden() ? QString() : m_proxyNote->text();
}

void BackendEditor::lookupPolicy(const QString &ns, const QString &name)
{
    const int lookup = ++m_lookup;
    m_policyLoaded = false;
    m_proxyPolicy->setText(tr("looking for its policy…"));
    updateEnabled();
    QPointer<BackendEditor> self(this);
    // All namespaces: a Gateway-wide policy lives in the Gateway's namespace.
    m_apiClient->list(kPolicies, {}, [self, lookup, ns, name](const client::ApiResult &r) {
        if (!self || lookup != self->m_lookup)
            return;
        if (!r.ok()) {
            // Without the list the editor cannot know what Save would overwrite: the fields stay read-only.
            self->m_policyReadOnly = true;
            self->m_policyLoaded = true;
            self->m_proxyPolicy->setText(tr("cannot list agentgatewaypolicies: %1").arg(r.error->toString()));
            self->updateEnabled();
            return;
        }
        self->showPolicy(r.object().value("items").toArray(), ns, name);
    });
}

void BackendEditor::showPolicy(const QJsonArray &policies, const QString &ns, const QString &name)
{
    m_policy = {};
    m_policyReadOnly = false;
    QStringList notes;
    for (const auto &v : policies) {
        const QJsonObject p = v.toObject();
        if (!hasTunnel(p))
            continue;
        const QJsonArray targets = p.value("spec").toObject().value("targetRefs").toArray();
        const QString label = QStringLiteral("%1/%2").arg(namespaceOf(p), nameOf(p));
        bool mine = false;
        for (const auto &t : targets) {
            const QJsonObject ref = t.toObject();
            const QString kind = ref.value("kind").toString();
            if (kind == QLatin1String("Gateway"))
                notes.append(tr("AgentgatewayPolicy %1 gives every backend of Gateway %2/%3 the upstream proxy %4 "
                                "(read-only here; this backend's own policy, set above, wins over it).")
                                 .arg(label, namespaceOf(p), ref.value("name").toString(),
                                      tunnelOf(p).value("url").toString()));
            else if (kind == QLatin1String("AgentgatewayBackend") && ref.value("name").toString() == name
                     && namespaceOf(p) == ns)
                mine = true;
        }
        if (!mine)
            continue;
        if (!m_policy.isEmpty()) {
            notes.append(tr("AgentgatewayPolicy %1 also sets an upstream proxy for this backend.").arg(label));
            continue;
        }
        m_policy = p;
        // Changing a policy that other objects share would change them too.
        m_policyReadOnly = targets.size() > 1;
        if (m_policyReadOnly)
            notes.append(tr("AgentgatewayPolicy %1 targets other objects too; change it in its own YAML "
                            "(dfproxyctl edit agentgatewaypolicy %2 -n %3); read-only here.")
                             .arg(label, nameOf(p), namespaceOf(p)));
    }
    m_proxyNote->setText(notes.join(u' '));
    m_proxyNote->setVisible(!notes.isEmpty());
    const QJsonObject ann = m_policy.value("metadata").toObject().value("annotations").toObject();
    m_proxyMode->setCurrentIndex(m_policy.isEmpty() ? 0 : 1);
    m_proxyUrl->setText(tunnelOf(m_policy).value("url").toString());
    m_proxyCredentials->setText(ann.value(kCredentials).toString());
    m_proxyBypass->setText(ann.value(kBypass).toString());
    m_proxyPac->setText(ann.value(kPac).toString());
    if (m_policy.isEmpty())
        showNewPolicyName(ns, name);
    else
        m_proxyPolicy->setText(tr("AgentgatewayPolicy %1/%2: %3")
                                   .arg(namespaceOf(m_policy), nameOf(m_policy), acceptedText(m_policy)));
    m_policyLoaded = true;
    updateEnabled();
}

void BackendEditor::showNewPolicyName(const QString &ns, const QString &name)
{
    m_proxyPolicy->setText(tr("none yet; Save creates AgentgatewayPolicy %1/%2-upstream-proxy")
                               .arg(ns.isEmpty() ? QStringLiteral("default") : ns,
                                    name.isEmpty() ? tr("<name>") : name));
}

QJsonObject BackendEditor::policyFromForm(const QString &ns, const QString &name) const
{
    QJsonObject policy = m_policy;
    if (policy.isEmpty()) {
        policy = QJsonObject{
            {"apiVersion", QStringLiteral("agentgateway.dev/v1alpha1")},
            {"kind", QStringLiteral("AgentgatewayPolicy")},
            {"metadata", QJsonObject{{"name", name + QStringLiteral("-upstream-proxy")}, {"namespace", ns}}},
            {"spec", QJsonObject{{"targetRefs", QJsonArray{QJsonObject{{"group", "agentgateway.dev"},
                                                                       {"kind", "AgentgatewayBackend"},
                                                                       {"name", name}}}}}}};
    }
    policy.remove("status");
    QJsonObject md = policy.value("metadata").toObject();
    QJsonObject ann = md.value("annotations").toObject();
    const QList<QPair<QString, QLineEdit *>> fields = {
        {kCredentials, m_proxyCredentials}, {kBypass, m_proxyBypass}, {kPac, m_proxyPac}};
    for (const auto &[key, edit] : fields) {
        if (edit->text().trimmed().isEmpty())
            ann.remove(key);
        else
            ann.insert(key, edit->text().trimmed());
    }
    if (ann.isEmpty())
        md.remove("annotations");
    else
        md.insert("annotations", ann);
    policy.insert("metadata", md);
    QJsonObject spec = policy.value("spec").toObject();
    QJsonObject backend = spec.value("backend").toObject();
    QJsonObject tunnel = backend.value("tunnel").toObject();
    tunnel.insert("url", m_proxyUrl->text().trimmed());
    backend.insert("tunnel", tunnel);
    spec.insert("backend", backend);
    policy.insert("spec", spec);
    return policy;
}

void BackendEditor::afterSave(const QJsonObject &stored, AfterSaveDone finish)
{
    if (!m_policyLoaded || m_policyReadOnly) {
        finish(std::nullopt);
        return;
    }
    const QString ns = namespaceOf(stored), name = nameOf(stored);
    const bool wanted = m_proxyMode->currentData().toString() == QLatin1String("url");
    if (!wanted && m_policy.isEmpty()) {
        finish(std::nullopt);
        return;
    }
    QPointer<BackendEditor> self(this);
    const QString label = wanted && m_policy.isEmpty() ? QStringLiteral("%1/%2-upstream-proxy").arg(ns, name)
                                                       : QStringLiteral("%1/%2").arg(namespaceOf(m_policy),
                                                                                     nameOf(m_policy));
    auto done = [self, finish, label](const client::ApiResult &r) {
        if (!self)
            return;
        if (!r.ok()) {
            finish(asUpstreamError(*r.error, label));
            return;
        }
        self->m_policy = r.object().value("kind").toString() == QLatin1String("AgentgatewayPolicy")
                             ? r.object()
                             : QJsonObject{};
        finish(std::nullopt);
    };
    if (wanted) {
        const QJsonObject policy = policyFromForm(ns, name);
        if (m_policy.isEmpty())
            m_apiClient->create(kPolicies, policy, done);
        else
            m_apiClient->replace(kPolicies, policy, done);
        return;
    }
    // None: the tunnel goes; the policy too unless it carries other sections (e.g. spec.backend.tls).
    QJsonObject policy = m_policy;
    policy.remove("status");
    QJsonObject spec = policy.value("spec").toObject();
    QJsonObject backend = spec.value("backend").toObject();
    backend.remove("tunnel");
    if (backend.isEmpty())
        spec.remove("backend");
    else
        spec.insert("backend", backend);
    QJsonObject md = policy.value("metadata").toObject();
    QJsonObject ann = md.value("annotations").toObject();
    for (const auto &key : {kCredentials, kBypass, kPac})
        ann.remove(key);
    if (ann.isEmpty())
        md.remove("annotations");
    else
        md.insert("annotations", ann);
    policy.insert("metadata", md);
    policy.insert("spec", spec);
    const QStringList rest = spec.keys();
    if (rest.isEmpty() || rest == QStringList{QStringLiteral("targetRefs")}) {
        m_apiClient->remove(kPolicies, namespaceOf(m_policy), nameOf(m_policy), done);
        return;
    }
    m_apiClient->replace(kPolicies, policy, done);
}

void BackendEditor::setForm(const QJsonObject &object)
{
    const QJsonObject spec = object.value("spec").toObject();
    const bool isStatic = spec.contains("static");
    m_type->setCurrentIndex(isStatic ? 1 : 0);
    const QJsonObject st = spec.value("static").toObject();
    m_host->setText(st.value("host").toString());
    m_port->setValue(st.value("port").toInt(80));
    const QJsonValue tls = spec.value("tls");
    m_tls->setChecked(tls.isObject() || (tls.isBool() && tls.toBool()));
    m_sni->setText(tls.toObject().value("sni").toString());
    m_caFile->setText(tls.toObject().value("caFile").toString());
    m_insecure->setChecked(tls.toObject().value("insecureSkipVerify").toBool());
    // Any accepted spelling selects its item: "Service default" for V4_ONLY would drop the override on save.
    const QString family = canonicalLookupFamily(spec.value("dns").toObject().value("lookupFamily").toString());
    m_family->setCurrentIndex(family.isEmpty() ? 0 : std::max(0, m_family->findData(family)));
    const int ei = m_engine->findData(spec.value("engine").toString(QStringLiteral("native")));
    m_engine->setCurrentIndex(std::max(0, ei));
    // The upstream proxy is another object: looked up once per loaded backend (not again when the tabs change).
    const QString key = mode() == Mode::Edit ? namespaceOf(object) + u'/' + nameOf(object) : QString();
    if (key != m_policyKey || m_proxyPolicy->text().isEmpty()) {
        m_policyKey = key;
        if (key.isEmpty()) {
            ++m_lookup;
            showPolicy({}, nameEdit()->text().trimmed().isEmpty() ? QString() : namespaceEdit()->text().trimmed(),
                       nameEdit()->text().trimmed());
        } else {
            lookupPolicy(namespaceOf(object), nameOf(object));
        }
    }
    updateEnabled();
}

QJsonObject BackendEditor::specFromForm(const QJsonObject &original) const
{
    QJsonObject spec = original;
    spec.remove("dynamicForwardProxy");
    spec.remove("static");
    if (m_type->currentData().toString() == QLatin1String("static"))
        spec.insert("static", QJsonObject{{"host", m_host->text().trimmed()}, {"port", m_port->value()}});
    else
        spec.insert("dynamicForwardProxy", QJsonObject{});
    spec.remove("tls");
    if (m_tls->isChecked()) {
        QJsonObject tls;
        if (!m_sni->text().trimmed().isEmpty())
            tls.insert("sni", m_sni->text().trimmed());
        if (!m_caFile->text().trimmed().isEmpty())
            tls.insert("caFile", m_caFile->text().trimmed());
        if (m_insecure->isChecked())
            tls.insert("insecureSkipVerify", true);
        spec.insert("tls", tls);
    }
    QJsonObject dns = original.value("dns").toObject();
    dns.remove("lookupFamily");
    if (!m_family->currentData().toString().isEmpty())
        dns.insert("lookupFamily", m_family->currentData().toString());
    if (dns.isEmpty())
        spec.remove("dns");
    else
        spec.insert("dns", dns);
    const QString engine = m_engine->currentData().toString();
    if (engine == QLatin1String("native") && !original.contains("engine"))
        spec.remove("engine");
    else
        spec.insert("engine", engine);
    return spec;
}

} // namespace dfproxy::gui
