// SPDX-License-Identifier: Apache-2.0
#include "app/connection.h"

namespace dfproxy::gui {

Connection::Connection(QObject *parent) : QObject(parent), m_api(new client::ApiClient(this))
{
    m_api->setTimeoutMs(5000);
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, &Connection::check);
    // Every call of every screen tells us about the link, not only our own health checks.
    connect(m_api, &client::ApiClient::finished, this, &Connection::onResult);
}

void Connection::connectTo(const QUrl &url, const QByteArray &token)
{
    ++m_generation;
    m_api->setBaseUrl(url);
    m_api->setToken(token);
    m_serverInfo = {};
    m_failures = 0;
    m_checking = false;
    setState(ConnectionState::Connecting, {});
    check();
}

void Connection::retryNow()
{
    m_failures = 0;
    if (!m_checking)
        check();
}

QString Connection::stateName(ConnectionState s)
{
    switch (s) {
    case ConnectionState::Connecting:
        return tr("Connecting");
    case ConnectionState::Connected:
        return tr("Connected");
    case ConnectionState::ServiceDown:
        return tr("Service down");
    case ConnectionState::Unreachable:
        return tr("Unreachable");
    case ConnectionState::Unauthorized:
        return tr("Wrong token");
    case ConnectionState::Failing:
        return tr("Error");
    }
    return {};
}

QString Connection::summary() const
{
    const QString url = m_api->baseUrl().toString(QUrl::StripTrailingSlash);
    switch (m_state) {
    case ConnectionState::Connected:
        return tr("Connected to %1 — dfproxy %2").arg(url, m_serverInfo.value("version").toString());
    case ConnectionState::Connecting:
        return tr("Connecting to %1…").arg(url);
    default:
        return tr("%1: %2").arg(stateName(m_state), url);
    }
}

void Connection::check()
{
    m_timer.stop();
    m_checking = true;
    m_nextRetryMs = 0;
    const quint64 gen = m_generation;
    m_api->serverInfo([this, gen](const client::ApiResult &r) {
        if (gen != m_generation)
            return; // an answer from before connectTo()
        m_checking = false;
        if (r.ok()) {
            m_serverInfo = r.object();
            m_failures = 0;
            setState(ConnectionState::Connected, {});
            Q_EMIT serverInfoChanged(m_serverInfo);
        } else {
            ++m_failures;
            classify(r, true);
        }
        scheduleNext();
    });
}

void Connection::scheduleNext()
{
    if (m_state == ConnectionState::Connected) {
        m_nextRetryMs = 0;
        m_timer.start(m_pollMs);
        return;
    }
    const int exp = std::min(m_failures, 10);
    m_nextRetryMs = std::min(m_maxBackoffMs, 500 * (1 << std::max(0, exp - 1)));
    m_timer.start(m_nextRetryMs);
}

void Connection::onResult(const client::ApiResult &r)
{
    if (classify(r, false) && m_state != ConnectionState::Connected && !m_checking)
        scheduleNext();
}

bool Connection::classify(const client::ApiResult &r, bool healthCheck)
{
    if (r.ok() || !r.error)
        return false;
    const client::ApiError &e = *r.error;
    if (e.isConnectionError()) {
        const bool refused = e.networkError == QNetworkReply::ConnectionRefusedError
                             || e.networkError == QNetworkReply::RemoteHostClosedError;
        setState(refused ? ConnectionState::ServiceDown : ConnectionState::Unreachable,
                 refused ? (m_startCommand.isEmpty()
                                ? tr("The dfproxy service is not running at %1 (connection refused). Start it on "
                                     "that machine; the console reconnects by itself.")
                                      .arg(m_api->baseUrl().toString())
                                : tr("The dfproxy service is not running at %1 (connection refused). Start it with "
                                     "`%2`; the console reconnects by itself.")
                                      .arg(m_api->baseUrl().toString(), m_startCommand))
                         : tr("Cannot reach %1: %2").arg(m_api->baseUrl().toString(), e.title));
    } else if (e.status == 401) {
        setState(ConnectionState::Unauthorized,
                 tr("The admin token was refused (%1). Use File → Connect… with the token from the admin-token file "
                    "next to the service's config file.")
                     .arg(e.detail));
    } else if (e.status == 421 || e.status == 403 || e.status >= 500) {
        // Only the health check decides about these: one failing endpoint must not mark the whole link bad.
        if (!healthCheck)
            return false;
        setState(ConnectionState::Failing, e.toString());
    } else {
        return false; // 404, 409, 422…: answers of a healthy service
    }
    return true;
}

void Connection::setState(ConnectionState s, const QString &problem)
{
    const bool changed = s != m_state || problem != m_problem;
    const bool becameConnected = s == ConnectionState::Connected && m_state != ConnectionState::Connected;
    m_state = s;
    m_problem = problem;
    if (changed)
        Q_EMIT stateChanged(s);
    if (becameConnected)
        Q_EMIT connected();
}

} // namespace dfproxy::gui
