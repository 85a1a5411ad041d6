// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "client/apiclient.h"

#include <QJsonObject>
#include <QObject>
#include <QTimer>
#include <QUrl>

namespace dfproxy::gui {

/// What the console knows about its link to the service.
enum class ConnectionState {
    Connecting,   ///< first check not answered yet
    Connected,    ///< GET /api/v1/server answered 200
    ServiceDown,  ///< nothing listens at the address (connection refused)
    Unreachable,  ///< host not found, timeout or another transport failure
    Unauthorized, ///< the token is missing or wrong (401)
    Failing,      ///< the server answered with another error (e.g. 421, 5xx)
};

/// The console's one link to the service: owns the ApiClient every screen uses, watches GET /api/v1/server and
/// reconnects by itself with exponential backoff. Any call that fails with a transport error or 401 flips the state
/// at once, so screens never have to report problems themselves. Main thread only.
class Connection : public QObject
{
    Q_OBJECT
public:
    explicit Connection(QObject *parent = nullptr);

    /// The shared REST client (owned by this object).
    client::ApiClient *api() const { return m_api; }

    /// Points the client at `url` with `token`, forgets the old state and checks at once.
    void connectTo(const QUrl &url, const QByteArray &token);
    /// Checks now, resetting the backoff (the "Retry now" button).
    void retryNow();

    ConnectionState state() const { return m_state; }
    bool isConnected() const { return m_state == ConnectionState::Connected; }
    /// One short line for the status bar: "Connected to http://127.0.0.1:15000 — dfproxy 0.1.0".
    QString summary() const;
    /// What went wrong and what to do, empty when connected.
    QString problem() const { return m_problem; }
    /// The last body of GET /api/v1/server.
    QJsonObject serverInfo() const { return m_serverInfo; }
    /// Milliseconds until the next reconnect attempt (0 when connected or checking).
    int nextRetryMs() const { return m_nextRetryMs; }

    /// How often a healthy connection is re-checked (default 2000 ms).
    void setPollIntervalMs(int ms) { m_pollMs = std::max(200, ms); }
    /// The longest wait between reconnect attempts (default 8000 ms); attempts start at 500 ms and double.
    void setMaxBackoffMs(int ms) { m_maxBackoffMs = std::max(500, ms); }

    /// The command the "service down" text tells the user to run (startCommand() in servicehint.h); empty: a
    /// service on another machine, and the text says to start it there.
    void setStartCommand(const QString &command) { m_startCommand = command; }
    QString startCommand() const { return m_startCommand; }

    static QString stateName(ConnectionState s);

Q_SIGNALS:
    void stateChanged(dfproxy::gui::ConnectionState state);
    /// Every successful GET /api/v1/server.
    void serverInfoChanged(const QJsonObject &info);
    /// Each time the state becomes Connected (screens reload their data).
    void connected();

private:
    void check();
    void onResult(const client::ApiResult &r);
    /// Sets the state from a failed result; true when it showed a broken link.
    bool classify(const client::ApiResult &r, bool healthCheck);
    void setState(ConnectionState s, const QString &problem);
    void scheduleNext();

    client::ApiClient *m_api;
    QTimer m_timer;
    ConnectionState m_state = ConnectionState::Connecting;
    QString m_problem;
    QJsonObject m_serverInfo;
    QString m_startCommand;
    int m_pollMs = 2000;
    int m_maxBackoffMs = 8000;
    int m_failures = 0;
    int m_nextRetryMs = 0;
    quint64 m_generation = 0;
    bool m_checking = false;
};

} // namespace dfproxy::gui
