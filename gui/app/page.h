// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QWidget>

namespace dfproxy::gui {

class Connection;

/// One screen of the console. Pages load through the shared Connection; the window tells them when they are shown
/// (pages poll only while visible, except the dashboard, whose charts need continuous history).
class Page : public QWidget
{
    Q_OBJECT
public:
    Page(Connection *connection, QWidget *parent = nullptr) : QWidget(parent), m_connection(connection) {}

    /// Title in the navigation list.
    virtual QString title() const = 0;
    /// Reloads everything from the service.
    virtual void refresh() = 0;
    /// Called when the page becomes visible (true) or hidden (false).
    virtual void setActive(bool active) { m_active = active; }
    bool isActive() const { return m_active; }

protected:
    Connection *m_connection;
    bool m_active = false;
};

} // namespace dfproxy::gui
