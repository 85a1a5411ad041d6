// SPDX-License-Identifier: Apache-2.0
#include "app/connectdialog.h"

#include "client/apiclient.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>

namespace dfproxy::gui {

ConnectDialog::ConnectDialog(const QUrl &url, const QByteArray &token, const QString &configPath, QWidget *parent)
    : QDialog(parent),
      m_url(new QLineEdit(url.toString(), this)),
      m_token(new QLineEdit(QString::fromUtf8(token), this)),
      m_config(new QLineEdit(configPath, this)),
      m_note(new QLabel(this))
{
    setObjectName(QStringLiteral("connectDialog"));
    setWindowTitle(tr("Connect to a dfproxy service"));
    auto *form = new QFormLayout(this);
    m_url->setObjectName(QStringLiteral("urlEdit"));
    m_url->setPlaceholderText(QStringLiteral("http://127.0.0.1:15000"));
    m_token->setObjectName(QStringLiteral("tokenEdit"));
    m_token->setEchoMode(QLineEdit::Password);
    m_token->setPlaceholderText(tr("contents of the admin-token file"));
    form->addRow(tr("Admin API URL"), m_url);
    form->addRow(tr("Token"), m_token);
    auto *row = new QHBoxLayout;
    m_config->setObjectName(QStringLiteral("configEdit"));
    row->addWidget(m_config, 1);
    auto *find = new QPushButton(tr("Find local service"));
    find->setObjectName(QStringLiteral("discoverButton"));
    connect(find, &QPushButton::clicked, this, &ConnectDialog::discover);
    row->addWidget(find);
    form->addRow(tr("Config file"), row);
    m_note->setWordWrap(true);
    m_note->setStyleSheet(QStringLiteral("color: palette(mid);"));
    m_note->setText(tr("The admin API listens on loopback by default; its token is in the admin-token file next to "
                       "the service's config file."));
    form->addRow(m_note);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Connect"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    form->addRow(buttons);
    resize(560, sizeHint().height());
}

void ConnectDialog::discover()
{
    const auto d = client::ApiClient::discoverLocal(m_config->text().trimmed());
    m_url->setText(d.baseUrl.toString());
    m_token->setText(QString::fromUtf8(d.token));
    m_note->setText(d.problem.isEmpty() ? tr("Found the service's address and token in %1.").arg(d.configPath)
                                        : d.problem);
}

QUrl ConnectDialog::url() const
{
    return QUrl::fromUserInput(m_url->text().trimmed());
}

QByteArray ConnectDialog::token() const
{
    return m_token->text().trimmed().toUtf8();
}

} // namespace dfproxy::gui
