// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QDialog>
#include <QUrl>

QT_BEGIN_NAMESPACE
class QLineEdit;
class QLabel;
QT_END_NAMESPACE

namespace dfproxy::gui {

/// Asks for an admin API address and token, or finds a local service from a config file.
class ConnectDialog : public QDialog
{
    Q_OBJECT
public:
    ConnectDialog(const QUrl &url, const QByteArray &token, const QString &configPath, QWidget *parent = nullptr);

    QUrl url() const;
    QByteArray token() const;

private:
    void discover();

    QLineEdit *m_url;
    QLineEdit *m_token;
    QLineEdit *m_config;
    QLabel *m_note;
};

} // namespace dfproxy::gui
