// SPDX-License-Identifier: Apache-2.0
#include "desktop/systemproxycontroller.h"

#include "app/connection.h"

#include <QCoreApplication>
#include <QFile>

namespace dfproxy::gui {

SystemProxyController *SystemProxyController::of(Connection *connection)
{
    if (auto *c = connection->findChild<SystemProxyController *>(QString(), Qt::FindDirectChildrenOnly))
        return c;
    return new SystemProxyController(connection);
}

SystemProxyController::SystemProxyController(Connection *connection)
    : QObject(connection), m_connection(connection), m_journalPath(desktop::defaultJournalPath())
{
    // A journal's settings go back through the backend that wrote them.
    m_backend = desktop::backendForJournal(m_journalPath, &m_message);
    // Settings left by a dfproxy that crashed: restored when fail-open, kept and reported when fail-closed.
    if (m_backend && QFile::exists(m_journalPath)) {
        desktop::SystemProxySwitch sw(*m_backend, m_journalPath);
        QString error;
        m_message = sw.recoverStale(false, &error);
        if (!error.isEmpty())
            m_message = error;
    }
    connect(connection, &Connection::connected, this, &SystemProxyController::refresh);
    connect(QCoreApplication::instance(), &QCoreApplication::aboutToQuit, this, &SystemProxyController::restoreOwn);
    m_timer.setInterval(10000);
    connect(&m_timer, &QTimer::timeout, this, &SystemProxyController::refresh);
    m_timer.start();
    readLocalState();
    refresh();
}

SystemProxyController::~SystemProxyController()
{
    restoreOwn();
}

QString SystemProxyController::backendName() const
{
    return m_backend ? m_backend->name() : QString();
}

void SystemProxyController::readLocalState()
{
    m_journal.reset();
    m_state = desktop::SwitchState::Off;
    // No journal, no switch: the settings are only read when dfproxy changed them (no gsettings run per poll).
    if (!m_backend || !QFile::exists(m_journalPath))
        return;
    desktop::SystemProxySwitch sw(*m_backend, m_journalPath);
    QString error;
    const auto st = sw.status(&error);
    if (!st) {
        m_message = error;
        return;
    }
    m_state = st->state;
    m_journal = st->journal;
}

void SystemProxyController::refresh()
{
    readLocalState();
    Q_EMIT changed();
    if (!m_connection->isConnected())
        return;
    m_connection->api()->send("GET", "/api/v1/system-proxy", {}, {}, {}, [this](const client::ApiResult &r) {
        QString error;
        m_target = r.ok() ? desktop::ProxyTarget::fromJson(r.object(), &error) : std::nullopt;
        if (!r.ok())
            m_message = r.error->detail;
        Q_EMIT changed();
    });
}

bool SystemProxyController::setOn(bool on, std::optional<desktop::ProxyMode> mode)
{
    if (!m_backend) {
        m_message = tr("This platform has no system-proxy backend.");
        return false;
    }
    desktop::SystemProxySwitch sw(*m_backend, m_journalPath);
    QString error;
    bool ok = false;
    if (on) {
        if (!m_target) {
            error = tr("The service has not said where to point yet (GET /api/v1/system-proxy).");
        } else {
            ok = sw.turnOn(*m_target, mode.value_or(m_target->defaultMode()), QStringLiteral("console"), &error);
        }
    } else {
        ok = sw.restore(&error).has_value();
    }
    m_message = ok ? QString() : error;
    readLocalState();
    Q_EMIT changed();
    return ok;
}

void SystemProxyController::restoreOwn()
{
    if (m_restored || !m_backend || !QFile::exists(m_journalPath))
        return;
    m_restored = true;
    QString error;
    const auto j = desktop::readJournal(m_journalPath, &error);
    if (!j || j->setBy != QLatin1String("console") || j->pid != QCoreApplication::applicationPid())
        return;
    desktop::SystemProxySwitch sw(*m_backend, m_journalPath);
    sw.restore(&error);
}

QString SystemProxyController::summary() const
{
    using desktop::SwitchState;
    if (!m_journal || m_state == SwitchState::Off)
        return tr("Off — the desktop does not use dfproxy");
    const QString how = m_journal->mode == desktop::ProxyMode::Pac ? tr("PAC %1").arg(m_journal->pacUrl)
                                                                   : tr("fixed %1").arg(m_journal->proxy);
    switch (m_state) {
    case SwitchState::On:
        return tr("On — %1, set by %2").arg(how, m_journal->setBy);
    case SwitchState::Stale:
        return tr("Stale — %1 does not answer (set by %2)").arg(how, m_journal->setBy);
    case SwitchState::Overridden:
        return tr("Overridden — the settings were changed since %1 set them").arg(m_journal->setBy);
    case SwitchState::Off:
        break;
    }
    return {};
}

QString SystemProxyController::failModeExplanation() const
{
    if (!m_target)
        return tr("Fail-closed: fixed settings, so programs cannot go online while dfproxy is stopped. Fail-open: "
                  "a PAC URL, so they go direct.");
    return m_target->failClosed
               ? tr("failMode closed: fixed settings — while dfproxy is stopped, programs cannot go online (a PAC "
                    "cannot promise that: a program that cannot fetch it goes direct).")
               : tr("failMode open: the PAC URL — while dfproxy is stopped, programs go direct.");
}

} // namespace dfproxy::gui
