// SPDX-License-Identifier: Apache-2.0
#include "logging/loggingpage.h"

#include "app/connection.h"
#include "widgets/fieldbox.h"
#include "widgets/jsonutil.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

namespace dfproxy::gui {

namespace {

const QStringList kLevels = {"debug", "info", "warning", "error", "critical"};

// PUT /api/v1/logging names fields relative to its body ("level", "categories.x"); the form's boxes use the config's
// paths ("logging.level"), so both kinds of error land on the same widgets.
QList<QPair<QString, QString>> underLogging(const QList<QPair<QString, QString>> &fields)
{
    QList<QPair<QString, QString>> out;
    for (const auto &[path, message] : fields)
        out.append({QStringLiteral("logging.") + path, message});
    return out;
}

} // namespace

LoggingPage::LoggingPage(Connection *connection, QWidget *parent)
    : Page(connection, parent), m_level(new QComboBox), m_categories(new QTableWidget(0, 2)),
      m_persistLevel(new QCheckBox(tr("Also start with this level (writes logging.level to the config)"))),
      m_enabled(new QCheckBox(tr("Write the access log (the live-traffic screen works either way)"))),
      m_format(new QComboBox), m_path(new QLineEdit),
      m_stdout(new QCheckBox(tr("Also write every line to the service's standard output"))), m_maxSize(new QLineEdit),
      m_maxFiles(new QSpinBox), m_queue(new QSpinBox), m_recent(new QSpinBox), m_status(new QLabel),
      m_error(new QLabel), m_save(new QPushButton(tr("Save")))
{
    setObjectName(QStringLiteral("loggingPage"));
    auto *outer = new QVBoxLayout(this);
    auto *content = new QWidget;
    content->setMaximumWidth(900); // form rows stretched across a wide window are hard to read
    auto *layout = new QVBoxLayout(content);

    auto *levelGroup = new QGroupBox(tr("Service log level (takes effect at once)"));
    auto *lf = new QFormLayout(levelGroup);
    lf->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    m_level->setObjectName(QStringLiteral("levelCombo"));
    for (const QString &l : kLevels)
        m_level->addItem(l, l);
    lf->addRow(tr("Level"), new FieldBox(QStringLiteral("logging.level"), m_level));
    m_categories->setObjectName(QStringLiteral("categoriesTable"));
    m_categories->setHorizontalHeaderLabels({tr("Category (e.g. dfproxy.dns or dfproxy.proxy.*)"), tr("Level")});
    m_categories->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_categories->verticalHeader()->setVisible(false);
    m_categories->setMinimumHeight(90);
    m_categories->setMaximumHeight(140);
    auto *catBox = new QWidget;
    auto *cv = new QVBoxLayout(catBox);
    cv->setContentsMargins(0, 0, 0, 0);
    cv->addWidget(m_categories);
    auto *cb = new QHBoxLayout;
    auto *addCat = new QPushButton(tr("Add override"));
    addCat->setObjectName(QStringLiteral("addCategoryButton"));
    connect(addCat, &QPushButton::clicked, this, [this] {
        const int row = m_categories->rowCount();
        m_categories->insertRow(row);
        m_categories->setItem(row, 0, new QTableWidgetItem(QStringLiteral("dfproxy.")));
        m_categories->setItem(row, 1, new QTableWidgetItem(QStringLiteral("debug")));
        m_categories->editItem(m_categories->item(row, 0));
    });
    auto *removeCat = new QPushButton(tr("Remove selected"));
    connect(removeCat, &QPushButton::clicked, this, [this] {
        if (m_categories->currentRow() >= 0)
            m_categories->removeRow(m_categories->currentRow());
    });
    cb->addWidget(addCat);
    cb->addWidget(removeCat);
    cb->addStretch(1);
    cv->addLayout(cb);
    lf->addRow(tr("Per category"), new FieldBox(QStringLiteral("logging.categories"), catBox));
    m_persistLevel->setObjectName(QStringLiteral("persistLevelCheck"));
    lf->addRow(QString(), m_persistLevel);
    layout->addWidget(levelGroup);

    auto *accessGroup = new QGroupBox(tr("Access log (logging.accessLog in the config)"));
    auto *af = new QFormLayout(accessGroup);
    af->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    m_enabled->setObjectName(QStringLiteral("enabledCheck"));
    af->addRow(QString(), new FieldBox(QStringLiteral("logging.accessLog.enabled"), m_enabled));
    m_format->setObjectName(QStringLiteral("formatCombo"));
    m_format->addItem(tr("json — JSON Lines, one object per request"), QStringLiteral("json"));
    m_format->addItem(tr("envoy — Envoy's default text format"), QStringLiteral("envoy"));
    m_format->addItem(tr("combined — Apache combined log format"), QStringLiteral("combined"));
    af->addRow(tr("Format"), new FieldBox(QStringLiteral("logging.accessLog.format"), m_format));
    m_path->setObjectName(QStringLiteral("pathEdit"));
    m_path->setPlaceholderText(tr("default: access.log beside the config file"));
    auto *pathRow = new QWidget;
    auto *pr = new QHBoxLayout(pathRow);
    pr->setContentsMargins(0, 0, 0, 0);
    pr->addWidget(m_path);
    auto *browse = new QPushButton(tr("Browse…"));
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getSaveFileName(this, tr("Access log file"), m_path->text());
        if (!f.isEmpty())
            m_path->setText(f);
    });
    pr->addWidget(browse);
    af->addRow(tr("File"), new FieldBox(QStringLiteral("logging.accessLog.path"), pathRow));
    m_stdout->setObjectName(QStringLiteral("stdoutCheck"));
    af->addRow(QString(), new FieldBox(QStringLiteral("logging.accessLog.stdout"), m_stdout));
    m_maxSize->setObjectName(QStringLiteral("maxSizeEdit"));
    m_maxSize->setPlaceholderText(tr("bytes; default 104857600 (100 MiB); 0 = never rotate"));
    auto *sizeRow = new QWidget;
    auto *sr = new QHBoxLayout(sizeRow);
    sr->setContentsMargins(0, 0, 0, 0);
    sr->addWidget(m_maxSize, 1);
    auto *sizeText = new QLabel;
    sizeText->setMinimumWidth(90);
    sr->addWidget(sizeText);
    connect(m_maxSize, &QLineEdit::textChanged, sizeText, [sizeText](const QString &t) {
        bool ok = false;
        const qint64 v = t.trimmed().toLongLong(&ok);
        sizeText->setText(!ok ? QString() : v == 0 ? tr("never rotate") : QStringLiteral("= %1").arg(formatBytes(v)));
    });
    af->addRow(tr("Rotate at (bytes)"), new FieldBox(QStringLiteral("logging.accessLog.maxSizeBytes"), sizeRow));
    m_maxFiles->setObjectName(QStringLiteral("maxFilesSpin"));
    m_maxFiles->setRange(-1, 1000);
    m_maxFiles->setSpecialValueText(tr("default (5)"));
    af->addRow(tr("Rotated files kept"), new FieldBox(QStringLiteral("logging.accessLog.maxFiles"), m_maxFiles));
    m_queue->setObjectName(QStringLiteral("queueSpin"));
    m_queue->setRange(0, 10000000);
    m_queue->setSpecialValueText(tr("default (65536)"));
    af->addRow(tr("Queue capacity"), new FieldBox(QStringLiteral("logging.accessLog.queueCapacity"), m_queue));
    m_recent->setObjectName(QStringLiteral("recentSpin"));
    m_recent->setRange(-1, 100000);
    m_recent->setSpecialValueText(tr("default (1000)"));
    af->addRow(tr("Recent records kept"), new FieldBox(QStringLiteral("logging.accessLog.recentRecords"), m_recent));
    layout->addWidget(accessGroup);
    layout->addStretch(1);

    auto *scroll = new QScrollArea;
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setWidget(content);
    outer->addWidget(scroll, 1);

    m_error->setObjectName(QStringLiteral("generalError"));
    m_error->setWordWrap(true);
    m_error->setStyleSheet(QStringLiteral("color: #b00020;"));
    m_error->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_error->hide();
    outer->addWidget(m_error);
    auto *bar = new QHBoxLayout;
    m_status->setObjectName(QStringLiteral("statusLabel"));
    m_status->setWordWrap(true);
    bar->addWidget(m_status, 1);
    auto *reload = new QPushButton(tr("Reload"));
    reload->setObjectName(QStringLiteral("reloadButton"));
    connect(reload, &QPushButton::clicked, this, &LoggingPage::refresh);
    bar->addWidget(reload);
    m_save->setObjectName(QStringLiteral("saveButton"));
    m_save->setDefault(true);
    connect(m_save, &QPushButton::clicked, this, &LoggingPage::save);
    bar->addWidget(m_save);
    outer->addLayout(bar);
    connect(connection, &Connection::connected, this, [this] {
        if (isActive())
            refresh();
    });
}

void LoggingPage::setActive(bool active)
{
    Page::setActive(active);
    if (active)
        refresh();
}

QString LoggingPage::statusText() const
{
    return m_status->text();
}

QString LoggingPage::fieldError(const QString &path) const
{
    for (auto *box : findChildren<FieldBox *>()) {
        if (box->path() == path)
            return box->errorText();
    }
    return {};
}

void LoggingPage::refresh()
{
    if (!m_connection->isConnected() || m_busy)
        return;
    auto pending = std::make_shared<int>(2);
    QPointer<LoggingPage> self(this);
    auto done = [self, pending] {
        if (--*pending == 0 && self)
            ++self->m_loads;
    };
    m_connection->api()->send("GET", QStringLiteral("/api/v1/logging"), {}, {}, {},
                              [self, done](const client::ApiResult &r) {
                                  if (self) {
                                      if (r.ok())
                                          self->showLogging(r.object());
                                      else
                                          self->m_status->setText(tr("Log level: %1").arg(r.error->toString()));
                                  }
                                  done();
                              });
    m_connection->api()->send("GET", QStringLiteral("/api/v1/config"), {}, {}, {},
                              [self, done](const client::ApiResult &r) {
                                  if (self) {
                                      if (r.ok()) {
                                          self->m_etag = r.etag;
                                          self->showConfig(r.object());
                                          self->m_status->setText(tr("Loaded from the service."));
                                      } else {
                                          self->m_status->setText(tr("Config: %1").arg(r.error->toString()));
                                      }
                                  }
                                  done();
                              });
}

void LoggingPage::showLogging(const QJsonObject &state)
{
    m_level->setCurrentIndex(std::max(0, m_level->findData(state.value("level").toString())));
    m_categories->setRowCount(0);
    const QJsonObject cats = state.value("categories").toObject();
    for (auto it = cats.begin(); it != cats.end(); ++it) {
        const int row = m_categories->rowCount();
        m_categories->insertRow(row);
        m_categories->setItem(row, 0, new QTableWidgetItem(it.key()));
        m_categories->setItem(row, 1, new QTableWidgetItem(it.value().toString()));
    }
}

void LoggingPage::showConfig(const QJsonObject &config)
{
    m_config = config;
    const QJsonObject logging = config.value("logging").toObject();
    m_persistLevel->setChecked(logging.contains("level"));
    const QJsonObject a = logging.value("accessLog").toObject();
    m_enabled->setChecked(a.value("enabled").toBool());
    m_format->setCurrentIndex(std::max(0, m_format->findData(a.value("format").toString(QStringLiteral("json")))));
    m_path->setText(a.value("path").toString());
    m_stdout->setChecked(a.value("stdout").toBool());
    m_maxSize->setText(a.contains("maxSizeBytes") ? QString::number(a.value("maxSizeBytes").toInteger()) : QString());
    m_maxFiles->setValue(a.contains("maxFiles") ? a.value("maxFiles").toInt() : -1);
    m_queue->setValue(a.value("queueCapacity").toInt());
    m_recent->setValue(a.contains("recentRecords") ? a.value("recentRecords").toInt() : -1);
}

QJsonObject LoggingPage::accessLogFromForm() const
{
    QJsonObject a = m_config.value("logging").toObject().value("accessLog").toObject();
    a.insert("enabled", m_enabled->isChecked());
    a.insert("format", m_format->currentData().toString());
    if (m_path->text().trimmed().isEmpty())
        a.remove("path");
    else
        a.insert("path", m_path->text().trimmed());
    if (m_stdout->isChecked())
        a.insert("stdout", true);
    else
        a.remove("stdout");
    const QString size = m_maxSize->text().trimmed();
    bool ok = false;
    const qint64 bytes = size.toLongLong(&ok);
    if (size.isEmpty())
        a.remove("maxSizeBytes");
    else // not a number: sent as typed so the service's message appears beside the field
        a.insert("maxSizeBytes", ok ? QJsonValue(bytes) : QJsonValue(size));
    auto putInt = [&a](const char *key, int value, int unset) {
        if (value == unset)
            a.remove(QLatin1String(key));
        else
            a.insert(QLatin1String(key), value);
    };
    putInt("maxFiles", m_maxFiles->value(), -1);
    putInt("queueCapacity", m_queue->value(), 0);
    putInt("recentRecords", m_recent->value(), -1);
    return a;
}

void LoggingPage::save()
{
    if (m_busy || !m_connection->isConnected())
        return;
    if (m_config.isEmpty()) {
        finishSave(tr("The settings are not loaded yet; click Reload."));
        return;
    }
    m_busy = true;
    m_save->setEnabled(false);
    m_lastError.clear();
    clearFieldErrors(this);
    m_error->hide();
    QJsonObject cats;
    for (int r = 0; r < m_categories->rowCount(); ++r) {
        const QString name = m_categories->item(r, 0) ? m_categories->item(r, 0)->text().trimmed() : QString();
        if (!name.isEmpty())
            cats.insert(name, m_categories->item(r, 1) ? m_categories->item(r, 1)->text().trimmed() : QString());
    }
    const QJsonObject body{{"level", m_level->currentData().toString()}, {"categories", cats}};
    QPointer<LoggingPage> self(this);
    m_connection->api()->send("PUT", QStringLiteral("/api/v1/logging"), {},
                              QJsonDocument(body).toJson(QJsonDocument::Compact), "application/json",
                              [self](const client::ApiResult &r) {
                                  if (!self)
                                      return;
                                  if (!r.ok()) {
                                      const auto unmatched = showFieldErrors(self, underLogging(r.error->fields));
                                      QString text = r.error->toString();
                                      for (const auto &[path, message] : unmatched)
                                          text += QStringLiteral("\n%1: %2").arg(path, message);
                                      self->finishSave(text);
                                      return;
                                  }
                                  self->showLogging(r.object());
                                  self->saveConfig();
                              });
}

void LoggingPage::saveConfig()
{
    QJsonObject config = m_config;
    QJsonObject logging = config.value("logging").toObject();
    logging.insert("accessLog", accessLogFromForm());
    if (m_persistLevel->isChecked())
        logging.insert("level", m_level->currentData().toString());
    else
        logging.remove("level");
    config.insert("logging", logging);
    if (config == m_config) {
        finishSave({});
        return;
    }
    QPointer<LoggingPage> self(this);
    m_connection->api()->sendWithHeaders(
        "PUT", QStringLiteral("/api/v1/config"), {{"If-Match", m_etag.isEmpty() ? QByteArray("*") : m_etag}},
        QJsonDocument(config).toJson(QJsonDocument::Compact), "application/json", [self](const client::ApiResult &r) {
            if (!self)
                return;
            if (!r.ok()) {
                if (r.status == 412) {
                    self->finishSave(tr("The config changed on the service since this page loaded it; nothing was "
                                        "overwritten. Click Reload, then make the change again."));
                    return;
                }
                const auto unmatched = showFieldErrors(self, r.error->fields);
                QString text =
                    r.error->fields.isEmpty()
                        ? r.error->toString()
                        : tr("The service rejected the settings (HTTP %1); see the marked fields.").arg(r.status);
                for (const auto &[path, message] : unmatched)
                    text += QStringLiteral("\n%1: %2").arg(path, message);
                self->finishSave(text);
                return;
            }
            if (!r.etag.isEmpty())
                self->m_etag = r.etag;
            self->showConfig(r.object());
            self->finishSave({});
        });
}

void LoggingPage::finishSave(const QString &error)
{
    m_busy = false;
    m_save->setEnabled(true);
    m_lastError = error;
    ++m_saves;
    if (error.isEmpty()) {
        m_error->hide();
        m_status->setText(tr("Saved."));
    } else {
        m_error->setText(error);
        m_error->show();
        m_status->setText(tr("Not saved."));
    }
}

} // namespace dfproxy::gui
