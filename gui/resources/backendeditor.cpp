// SPDX-License-Identifier: Apache-2.0
#include "resources/backendeditor.h"

#include "widgets/fieldbox.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

namespace dfproxy::gui {

ResourceKind BackendEditor::resourceKind()
{
    return {QStringLiteral("backends"), QStringLiteral("AgentgatewayBackend"), QStringLiteral("agentgateway.dev/v1alpha1")};
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
      m_engine(new QComboBox(this))
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

    connect(m_type, &QComboBox::currentIndexChanged, this, &BackendEditor::updateEnabled);
    load(newObject(), Mode::Create);
}

void BackendEditor::updateEnabled()
{
    const bool isStatic = m_type->currentData().toString() == QLatin1String("static");
    m_host->setEnabled(isStatic);
    m_port->setEnabled(isStatic);
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
    const int fi = m_family->findData(spec.value("dns").toObject().value("lookupFamily").toString());
    m_family->setCurrentIndex(std::max(0, fi));
    const int ei = m_engine->findData(spec.value("engine").toString(QStringLiteral("native")));
    m_engine->setCurrentIndex(std::max(0, ei));
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
