// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "app/page.h"

#include <QJsonObject>

QT_BEGIN_NAMESPACE
class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;
QT_END_NAMESPACE

namespace dfproxy::gui {

/// Logging: the service's log level and per-category overrides (GET/PUT /api/v1/logging, in effect at once) and the
/// access-log settings of the config (`logging.accessLog` through GET/PUT /api/v1/config with If-Match). Save writes
/// both; the server's validation errors appear beside the field they name; a config changed elsewhere since loading
/// is reported (HTTP 412) instead of overwritten.
class LoggingPage : public Page
{
    Q_OBJECT
public:
    explicit LoggingPage(Connection *connection, QWidget *parent = nullptr);
    QString title() const override { return tr("Logging"); }
    void refresh() override;
    void setActive(bool active) override;

    /// Sends the level, then the config; the outcome goes to statusText() / lastError().
    void save();
    bool isBusy() const { return m_busy; }
    /// Completed loads and saves (tests wait on them).
    int loadCount() const { return m_loads; }
    int saveCount() const { return m_saves; }
    QString statusText() const;
    /// The last save's error ("" after success).
    QString lastError() const { return m_lastError; }
    /// The error shown beside the field with this path ("logging.accessLog.format"), "" if none.
    QString fieldError(const QString &path) const;

    QComboBox *levelCombo() const { return m_level; }
    QTableWidget *categoriesTable() const { return m_categories; }
    QCheckBox *persistLevelCheck() const { return m_persistLevel; }
    QCheckBox *enabledCheck() const { return m_enabled; }
    QComboBox *formatCombo() const { return m_format; }
    QLineEdit *pathEdit() const { return m_path; }
    QCheckBox *stdoutCheck() const { return m_stdout; }
    QLineEdit *maxSizeEdit() const { return m_maxSize; }
    QSpinBox *maxFilesSpin() const { return m_maxFiles; }

private:
    void showLogging(const QJsonObject &state);
    void showConfig(const QJsonObject &config);
    QJsonObject accessLogFromForm() const;
    void saveConfig();
    void finishSave(const QString &error);

    QComboBox *m_level;
    QTableWidget *m_categories;
    QCheckBox *m_persistLevel;
    QCheckBox *m_enabled;
    QComboBox *m_format;
    QLineEdit *m_path;
    QCheckBox *m_stdout;
    QLineEdit *m_maxSize;
    QSpinBox *m_maxFiles;
    QSpinBox *m_queue;
    QSpinBox *m_recent;
    QLabel *m_status;
    QLabel *m_error;
    QPushButton *m_save;
    QJsonObject m_config;
    QByteArray m_etag;
    QString m_lastError;
    bool m_busy = false;
    int m_loads = 0;
    int m_saves = 0;
};

} // namespace dfproxy::gui
