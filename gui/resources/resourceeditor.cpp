// SPDX-License-Identifier: Apache-2.0
#include "resources/resourceeditor.h"

#include "widgets/fieldbox.h"
#include "widgets/yamltext.h"

#include <QDialogButtonBox>
#include <QFontDatabase>
#include <QFormLayout>
#include <QHash>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPointer>
#include <QPushButton>
#include <QScrollArea>
#include <QTabWidget>
#include <QTextBlock>
#include <QTextCursor>
#include <QVBoxLayout>

namespace dfproxy::gui {

namespace {
// A name that fits the kind (the seed guide's and docs' examples), for the placeholder.
QString exampleName(const QString &kind)
{
    static const QHash<QString, QString> names = {
        {QStringLiteral("AgentgatewayBackend"), QStringLiteral("dfp-backend")},
        {QStringLiteral("HTTPRoute"), QStringLiteral("dfp-httproute")},
        {QStringLiteral("RateLimitPolicy"), QStringLiteral("per-client")},
        {QStringLiteral("AuthenticationPolicy"), QStringLiteral("api-users")},
        {QStringLiteral("AuthorizationPolicy"), QStringLiteral("egress-rules")},
    };
    return names.value(kind, QStringLiteral("my-object"));
}
} // namespace

ResourceEditor::ResourceEditor(client::ApiClient *api, ResourceKind kind, QWidget *parent)
    : QDialog(parent),
      m_api(api),
      m_kind(std::move(kind)),
      m_tabs(new QTabWidget(this)),
      m_form(new QFormLayout),
      m_name(new QLineEdit(this)),
      m_namespace(new QLineEdit(this)),
      m_yaml(new QPlainTextEdit(this)),
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
    m_name->setPlaceholderText(tr("lower-case name, e.g. %1").arg(exampleName(m_kind.kind)));
    m_namespace->setObjectName(QStringLiteral("namespaceEdit"));
    m_namespace->setPlaceholderText(QStringLiteral("default"));
    m_form->addRow(tr("Name"), new FieldBox(QStringLiteral("metadata.name"), m_name));
    m_form->addRow(tr("Namespace"), new FieldBox(QStringLiteral("metadata.namespace"), m_namespace));
    // Only as a last resort (a very small screen): the editors are laid out to fit 1280x800 with only their lists
    // scrolling (tests/gui/editors_test.cpp, EveryEditorFits1280x800).
    auto *scroll = new QScrollArea;
    scroll->setObjectName(QStringLiteral("formScroll"));
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setWidget(formPage);
    m_formTab = m_tabs->addTab(scroll, tr("Form"));

    m_yaml->setObjectName(QStringLiteral("yamlEdit"));
    m_yaml->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_yaml->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_yaml->setPlaceholderText(tr("The whole object as YAML (JSON reads too); fields without a widget in the form can "
                                  "be edited here."));
    m_yamlTab = m_tabs->addTab(m_yaml, tr("YAML"));
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
    m_yamlErrors.clear();
    setYamlText(object);
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
    if (m_tabs->currentIndex() != m_yamlTab)
        return objectFromForm();
    return objectFromYaml();
}

std::optional<QJsonObject> ResourceEditor::objectFromYaml()
{
    YamlTextError ye;
    auto o = yamlToObject(m_yaml->toPlainText(), &ye);
    if (!o) {
        m_lastError = tr("The YAML does not parse: %1").arg(ye.toString());
        m_error->setText(m_lastError);
        m_error->show();
        m_yamlErrorLines.clear();
        if (ye.line > 0)
            m_yamlErrorLines.insert(ye.line, ye.message);
        markYamlErrors();
        return std::nullopt;
    }
    o->remove("status");
    return o;
}

void ResourceEditor::setYamlText(const QJsonObject &object)
{
    QJsonObject shown = object;
    shown.remove("status"); // server-written; the route editor shows it in its own tab
    m_yaml->setPlainText(objectToYaml(shown));
    remarkYaml();
}

void ResourceEditor::remarkYaml()
{
    m_yamlErrorLines.clear();
    const QString text = m_yaml->toPlainText();
    for (const auto &[path, message] : std::as_const(m_yamlErrors)) {
        const int line = yamlLineOf(text, path);
        if (line <= 0)
            continue;
        QString &shown = m_yamlErrorLines[line];
        if (!shown.isEmpty())
            shown += u'\n';
        shown += QStringLiteral("%1: %2").arg(path, message);
    }
    markYamlErrors();
}

void ResourceEditor::markYamlErrors()
{
    QList<QTextEdit::ExtraSelection> marks;
    for (auto it = m_yamlErrorLines.constBegin(); it != m_yamlErrorLines.constEnd(); ++it) {
        QTextEdit::ExtraSelection sel;
        sel.cursor = QTextCursor(m_yaml->document()->findBlockByNumber(it.key() - 1));
        sel.format.setBackground(QColor(0xfd, 0xe0, 0xe4));
        sel.format.setProperty(QTextFormat::FullWidthSelection, true);
        sel.format.setToolTip(it.value());
        marks.append(sel);
    }
    m_yaml->setExtraSelections(marks);
}

void ResourceEditor::showYaml(bool yaml)
{
    m_tabs->setCurrentIndex(yaml ? m_yamlTab : m_formTab);
}

void ResourceEditor::onTabChanged(int index)
{
    if (m_switching)
        return;
    if (m_lastTab == m_formTab && index == m_yamlTab) {
        setYamlText(objectFromForm());
    } else if (m_lastTab == m_yamlTab && index != m_yamlTab) {
        const auto o = objectFromYaml();
        if (!o) {
            // Stay on the text: the user's edit is not lost, and the marked line says where it broke.
            m_switching = true;
            m_tabs->setCurrentIndex(m_yamlTab);
            m_switching = false;
            return;
        }
        QJsonObject withStatus = *o;
        withStatus.insert("status", m_original.value("status"));
        m_original = withStatus;
        const QJsonObject md = o->value("metadata").toObject();
        m_name->setText(md.value("name").toString());
        m_namespace->setText(md.value("namespace").toString());
        setForm(withStatus);
        m_error->hide();
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
    m_yamlErrors.clear();
    remarkYaml();
    m_saving = true;
    m_lastError.clear();
    m_save->setEnabled(false);
    QPointer<ResourceEditor> self(this);
    auto done = [self](const client::ApiResult &r) {
        if (!self)
            return;
        if (!r.ok()) {
            self->finishSave({}, r.error);
            return;
        }
        const QJsonObject stored = r.object();
        self->afterSave(stored, [self, stored](const std::optional<client::ApiError> &error) {
            if (!self)
                return;
            if (error) {
                // The object itself is stored: a second Save replaces it instead of creating it again.
                self->m_mode = Mode::Edit;
                self->m_original = stored;
                self->m_name->setReadOnly(true);
                self->m_namespace->setReadOnly(true);
            }
            self->finishSave(stored, error);
        });
    };
    m_sent = *obj;
    if (m_mode == Mode::Create)
        m_api->create(m_kind.plural, *obj, done);
    else
        m_api->replace(m_kind.plural, *obj, done);
}

void ResourceEditor::afterSave(const QJsonObject &, AfterSaveDone finish)
{
    finish(std::nullopt);
}

void ResourceEditor::finishSave(const QJsonObject &stored, const std::optional<client::ApiError> &error)
{
    m_saving = false;
    m_save->setEnabled(true);
    if (error) {
        showError(*error);
        return;
    }
    Q_EMIT saved(stored);
    accept();
}

void ResourceEditor::showError(const client::ApiError &e)
{
    const bool fromYaml = m_tabs->currentIndex() == m_yamlTab;
    // FieldBoxes bring the Form tab forward; a user who saved from the YAML text stays there (no re-sync: the
    // text is what was sent, and the marked lines refer to it).
    m_switching = true;
    const auto unmatched = showFieldErrors(this, e.fields);
    if (fromYaml)
        m_tabs->setCurrentIndex(m_yamlTab);
    m_lastTab = m_tabs->currentIndex();
    m_switching = false;
    m_yamlErrors = e.fields;
    if (fromYaml)
        remarkYaml();
    else
        setYamlText(m_sent);
    QStringList lines;
    lines.append(e.fields.isEmpty() ? e.toString()
                                    : tr("The service rejected the object (HTTP %1); see the marked fields and YAML "
                                         "lines.")
                                          .arg(e.status));
    for (const auto &[path, message] : unmatched)
        lines.append(QStringLiteral("%1: %2").arg(path, message));
    for (auto it = m_yamlErrorLines.constBegin(); it != m_yamlErrorLines.constEnd(); ++it)
        lines.append(tr("YAML line %1: %2").arg(it.key()).arg(it.value()));
    m_lastError = e.toString();
    for (const auto &[path, message] : e.fields)
        m_lastError += QStringLiteral("\n%1: %2").arg(path, message);
    m_error->setText(lines.join(u'\n'));
    m_error->show();
}

} // namespace dfproxy::gui
