// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "desktop/systemproxy.h"

#include <QObject>
#include <QTimer>

namespace dfproxy::gui {

class Connection;

/// The console's system-proxy switch (docs/desktop.md): one per Connection, shared by the dashboard's panel and the
/// tray menu (of()). Reads the target from GET /api/v1/system-proxy and changes the desktop's settings in the
/// console's own process (desktop/). At start it restores settings a crashed dfproxy left behind (failMode open) or
/// reports them as stale (failMode closed); at exit it restores what the console itself turned on.
/// Main thread only; the switch calls block for as long as the platform's settings take (a few gsettings runs).
class SystemProxyController : public QObject
{
    Q_OBJECT
public:
    /// The controller of `connection`, created on first use as its child.
    static SystemProxyController *of(Connection *connection);
    ~SystemProxyController() override;

    /// The service's target (empty until GET /api/v1/system-proxy answered).
    std::optional<desktop::ProxyTarget> target() const { return m_target; }
    desktop::SwitchState state() const { return m_state; }
    std::optional<desktop::Journal> journal() const { return m_journal; }
    QString backendName() const;
    /// The last error or warning (a stale fail-closed setting, a refused write), empty when there is none.
    QString message() const { return m_message; }
    /// One line for the dashboard and the tray: "On — fixed 127.0.0.1:15001, set by dfproxyctl".
    QString summary() const;
    /// The one-line explanation of fail-closed / fail-open for the target's failMode.
    QString failModeExplanation() const;

    /// Turns the switch on (mode: std::nullopt = the target's default) or off. False with message() set.
    bool setOn(bool on, std::optional<desktop::ProxyMode> mode = std::nullopt);

public Q_SLOTS:
    /// Re-reads the target, the journal and the settings.
    void refresh();

Q_SIGNALS:
    void changed();

private:
    explicit SystemProxyController(Connection *connection);
    void readLocalState();
    /// Restores what this console turned on (at exit).
    void restoreOwn();

    Connection *m_connection;
    std::unique_ptr<desktop::SystemProxyBackend> m_backend;
    QString m_journalPath;
    std::optional<desktop::ProxyTarget> m_target;
    desktop::SwitchState m_state = desktop::SwitchState::Off;
    std::optional<desktop::Journal> m_journal;
    QString m_message;
    QTimer m_timer;
    bool m_restored = false;
};

} // namespace dfproxy::gui
