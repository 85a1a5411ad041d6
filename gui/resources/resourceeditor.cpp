// SPDX-License-Identifier: Apache-2.0
#include "resources/resourceeditor.h"

#include "widgets/fieldbox.h"

#include <QDialogButtonBox>
#include <QFontDatabase>
#include <QFormLayout>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPointer>
#include <QPushButton>
#include <QScrollArea>
#include <QTabWidget>
#include <QVBoxLayout>

namespace dfproxy::gui {

ResourceEditor::ResourceEditor(client::ApiClient *api, ResourceKind kind, QWidget *parent)
    : QDialog(parent),
      m_api(api),
      m_kind(std::move(kind)),
      m_tabs(new QTabWidget(this)),
      m_form(new QFormLayout),
      m_name(new QLineEdit(this)),
      m_namespace(new QLineEdit(this)),
      m_json(new QPlainTextEdit(this)),
      m_error(new QLabel(this)),
      m_save(nullptr)
{
    setObjectName(QStringLiteral("resourceEditor"));
    resize(760, 680);
    auto *layout = new QVBoxLayout(this);

    auto *formPage = new QWidget;
    formPage->setObjectName(QStringLiteral("formPage"));
    formPage->setLayout(m_form);
    m_form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    m_name->setObjectName(QStringLiteral("nameEdit"));
    m_name->setPlaceholderText(tr("lower-case name, e.g. dfp-%1").arg(m_kind.kind.toLower().remove("agentgateway")));
    m_namespace->setObjectName(QStringLiteral("namespaceEdit"));
    m_namespace->setPlaceholderText(QStringLiteral("default"));
    m_form->addRow(tr("Name"), new FieldBox(QStringLiteral("metadata.name"), m_name));
    m_form->addRow(tr("Namespace"), new FieldBox(QStringLiteral("metadata.namespace"), m_namespace));
    auto *scroll = new QScrollArea;
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setWidget(formPage);
    m_formTab = m_tabs->addTab(scroll, tr("Form"));

    m_json->setObjectName(QStringLiteral("jsonEdit"));
    m_json->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_json->setPlaceholderText(tr("The whole object as JSON; fields without a widget in the form can be edited here."));
    m_jsonTab = m_tabs->addTab(m_json, tr("JSON"));
    m_tabs->setObjectName(QStringLiteral("editorTabs"));
    connect(m_tabs, &QTabWidget::currentChanged, this, &ResourceEditor::onTabChanged);
    layout->addWidget(m_tabs);

    m_error->setObjectName(QStringLiteral("generalError"));
    m_error->setWordWrap(true);
    m_error->setStyleSheet(QStringLiteral("color: #b00020;"));
    m_error->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_error->hide();
    layout->addWidget(m_error);

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel, this);
    m_save = buttons->button(QDialogButtonBox::Save);
    m_save->setObjectName(QStringLiteral("saveButton"));
    connect(m_save, &QPushButton::clicked, this, &ResourceEditor::save);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
}

void ResourceEditor::addExtraTab(QWidget *w, const QString &title)
{
    m_tabs->addTab(w, title);
}

void ResourceEditor::load(const QJsonObject &object, Mode mode)
{
    m_mode = mode;
    m_original = object;
    const QJsonObject md = object.value("metadata").toObject();
    m_name->setText(md.value("name").toString());
    m_namespace->setText(md.value("namespace").toString());
    m_name->setReadOnly(mode == Mode::Edit);
    m_namespace->setReadOnly(mode == Mode::Edit);
    setForm(object);
    m_json->setPlainText(QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Indented)));
    clearFieldErrors(this);
    m_error->hide();
    const QString title = md.value("name").toString();
    setWindowTitle(mode == Mode::Edit ? tr("Edit %1 %2/%3").arg(m_kind.kind, resourceNamespaceOr(md), title)
                                      : tr("New %1").arg(m_kind.kind));
}

QString ResourceEditor::resourceNamespaceOr(const QJsonObject &metadata)
{
    const QString ns = metadata.value("namespace").toString();
    return ns.isEmpty() ? QStringLiteral("default") : ns;
}

QJsonObject ResourceEditor::objectFromForm() const
{
    QJsonObject o = m_original;
    o.insert("apiVersion", o.value("apiVersion").toString(m_kind.apiVersion));
    o.insert("kind", m_kind.kind);
    QJsonObject md = o.value("metadata").toObject();
    md.insert("name", m_name->text().trimmed());
    if (m_namespace->text().trimmed().isEmpty())
        md.remove("namespace");
    else
        md.insert("namespace", m_namespace->text().trimmed());
    o.insert("metadata", md);
    o.insert("spec", specFromForm(m_original.value("spec").toObject()));
    o.remove("status");
    return o;
}

std::optional<QJsonObject> ResourceEditor::buildObject()
{
    if (m_tabs->currentIndex() != m_jsonTab)
        return objectFromForm();
    QJsonParseError pe;
    const auto doc = QJsonDocument::fromJson(m_json->toPlainText().toUtf8(), &pe);
    if (pe.error != QJsonParseError::NoError || !doc.isObject()) {
        m_lastError = tr("The JSON does not parse: %1 at offset %2")
                          .arg(pe.error == QJsonParseError::NoError ? tr("not an object") : pe.errorString())
                          .arg(pe.offset);
        m_error->setText(m_lastError);
        m_error->show();
        return std::nullopt;
    }
    QJsonObject o = doc.object();
    o.remove("status");
    return o;
}

void ResourceEditor::onTabChanged(int index)
{
    if (m_lastTab == m_formTab && index == m_jsonTab) {
        m_json->setPlainText(QString::fromUtf8(QJsonDocument(objectFromForm()).toJson(QJsonDocument::Indented)));
    } else if (m_lastTab == m_jsonTab && index != m_jsonTab) {
        QJsonParseError pe;
        const auto doc = QJsonDocument::fromJson(m_json->toPlainText().toUtf8(), &pe);
        if (pe.error == QJsonParseError::NoError && doc.isObject()) {
            QJsonObject o = doc.object();
            o.insert("status", m_original.value("status"));
            m_original = o;
            const QJsonObject md = o.value("metadata").toObject();
            m_name->setText(md.value("name").toString());
            m_namespace->setText(md.value("namespace").toString());
            setForm(o);
            m_error->hide();
        } else {
            m_error->setText(tr("The JSON does not parse (%1); the form keeps its previous values.").arg(pe.errorString()));
            m_error->show();
        }
    }
    m_lastTab = index;
}

QString ResourceEditor::fieldError(const QString &path) const
{
    for (auto *box : findChildren<FieldBox *>()) {
        if (box->path() == path)
            return box->errorText();
    }
    return {};
}

void ResourceEditor::save()
{
    if (m_saving)
        return;
    const auto obj = buildObject();
    if (!obj)
        return;
    clearFieldErrors(this);
    m_error->hide();
    m_saving = true;
    m_lastError.clear();
    m_save->setEnabled(false);
    QPointer<ResourceEditor> self(this);
    auto done = [self](const client::ApiResult &r) {
        if (!self)
            return;
        self->m_saving = false;
        self->m_save->setEnabled(true);
        if (!r.ok()) {
            self->showError(*r.error);
            return;
        }
        Q_EMIT self->saved(r.object());
        self->accept();
    };
    if (m_mode == Mode::Create)
        m_api->create(m_kind.plural, *obj, done);
    else
        m_api->replace(m_kind.plural, *obj, done);
}

void ResourceEditor::showError(const client::ApiError &e)
{
    const auto unmatched = showFieldErrors(this, e.fields);
    QStringList lines;
    lines.append(e.fields.isEmpty() ? e.toString()
                                    : tr("The service rejected the object (HTTP %1); see the marked fields.").arg(e.status));
    for (const auto &[path, message] : unmatched)
        lines.append(QStringLiteral("%1: %2").arg(path, message));
    m_lastError = e.toString();
    for (const auto &[path, message] : e.fields)
        m_lastError += QStringLiteral("\n%1: %2").arg(path, message);
    m_error->setText(lines.join(u'\n'));
    m_error->show();
}

} // namespace dfproxy::gui
