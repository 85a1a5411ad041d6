// SPDX-License-Identifier: Apache-2.0
#include "desktop/systemproxypanel.h"

#include "desktop/systemproxycontroller.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace dfproxy::gui {

SystemProxyPanel::SystemProxyPanel(SystemProxyController *controller, QWidget *parent)
    : QGroupBox(tr("System proxy"), parent), m_controller(controller), m_switch(new QCheckBox(tr("Make dfproxy the "
                                                                                                 "desktop's proxy"))),
      m_mode(new QComboBox), m_state(new QLabel), m_explanation(new QLabel), m_message(new QLabel),
      m_preview(new QPushButton(tr("Preview PAC…")))
{
    setObjectName(QStringLiteral("systemProxyPanel"));
    m_switch->setObjectName(QStringLiteral("systemProxySwitch"));
    m_mode->setObjectName(QStringLiteral("systemProxyMode"));
    m_state->setObjectName(QStringLiteral("systemProxyState"));
    m_explanation->setObjectName(QStringLiteral("systemProxyExplanation"));
    m_message->setObjectName(QStringLiteral("systemProxyMessage"));
    m_mode->addItem(tr("By failMode"));
    m_mode->addItem(tr("Fixed host:port"));
    m_mode->addItem(tr("PAC URL"));
    m_mode->setToolTip(tr("By failMode: fixed settings when the Gateway's failMode is closed, the PAC URL when "
                          "open."));
    m_explanation->setStyleSheet(QStringLiteral("color: palette(mid);"));
    m_explanation->setWordWrap(true);
    m_message->setWordWrap(true);
    m_message->setStyleSheet(QStringLiteral("color: #b00020;"));
    m_state->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto *row = new QHBoxLayout;
    row->addWidget(m_switch);
    row->addWidget(m_mode);
    row->addWidget(m_state, 1);
    row->addWidget(m_preview);
    auto *v = new QVBoxLayout(this);
    v->addLayout(row);
    v->addWidget(m_explanation);
    v->addWidget(m_message);

    connect(m_switch, &QCheckBox::clicked, this, &SystemProxyPanel::toggled);
    connect(m_preview, &QPushButton::clicked, this, &SystemProxyPanel::previewPac);
    connect(controller, &SystemProxyController::changed, this, &SystemProxyPanel::update);
    update();
}

void SystemProxyPanel::update()
{
    using desktop::SwitchState;
    const SwitchState s = m_controller->state();
    const bool on = s == SwitchState::On || s == SwitchState::Stale;
    m_switch->setChecked(on);
    m_switch->setEnabled(!m_controller->backendName().isEmpty() && (on || m_controller->target().has_value()));
    m_mode->setEnabled(!on);
    m_preview->setEnabled(m_controller->target().has_value());
    m_state->setText(m_controller->summary());
    m_state->setStyleSheet(s == SwitchState::Stale ? QStringLiteral("color: #b00020; font-weight: bold;")
                                                   : QString());
    m_explanation->setText(m_controller->failModeExplanation());
    m_message->setText(m_controller->message());
    m_message->setVisible(!m_controller->message().isEmpty());
}

void SystemProxyPanel::toggled(bool on)
{
    std::optional<desktop::ProxyMode> mode;
    if (m_mode->currentIndex() == 1)
        mode = desktop::ProxyMode::Fixed;
    else if (m_mode->currentIndex() == 2)
        mode = desktop::ProxyMode::Pac;
    m_controller->setOn(on, mode);
}

void SystemProxyPanel::previewPac()
{
    const auto target = m_controller->target();
    if (!target)
        return;
    auto *nam = new QNetworkAccessManager(this);
    nam->setProxy(QNetworkProxy::NoProxy); // the PAC comes from the listener itself, never through a proxy
    QNetworkRequest request{QUrl(target->pacUrl)};
    request.setTransferTimeout(10000);
    QNetworkReply *reply = nam->get(request);
    connect(reply, &QNetworkReply::finished, this, [this, reply, nam, url = target->pacUrl] {
        const QString text = reply->error() == QNetworkReply::NoError
                                 ? QString::fromUtf8(reply->readAll())
                                 : tr("GET %1 failed: %2").arg(url, reply->errorString());
        reply->deleteLater();
        nam->deleteLater();
        auto *dialog = new QDialog(this);
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        dialog->setObjectName(QStringLiteral("pacPreview"));
        dialog->setWindowTitle(tr("PAC file — %1").arg(url));
        auto *edit = new QPlainTextEdit(text);
        edit->setReadOnly(true);
        edit->setFont(QFont(QStringLiteral("monospace")));
        auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close);
        connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::close);
        auto *v = new QVBoxLayout(dialog);
        v->addWidget(edit);
        v->addWidget(buttons);
        dialog->resize(640, 420);
        dialog->show();
    });
}

void addSystemProxyAction(QMenu *menu, SystemProxyController *controller)
{
    auto *action = menu->addAction(QString());
    action->setObjectName(QStringLiteral("systemProxyAction"));
    action->setCheckable(true);
    const auto update = [action, controller] {
        const auto s = controller->state();
        action->setChecked(s == desktop::SwitchState::On || s == desktop::SwitchState::Stale);
        action->setText(SystemProxyPanel::tr("System proxy: %1").arg(controller->summary()));
        action->setEnabled(!controller->backendName().isEmpty());
    };
    QObject::connect(controller, &SystemProxyController::changed, action, update);
    QObject::connect(action, &QAction::triggered, controller, [controller](bool on) { controller->setOn(on); });
    update();
}

} // namespace dfproxy::gui
