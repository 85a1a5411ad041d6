// SPDX-License-Identifier: Apache-2.0
#include "base/deadlinelist.h"

#include <QTimerEvent>

#include <algorithm>
#include <chrono>

namespace dfproxy {

DeadlineList::DeadlineList(Clock &clock, QObject *parent) : QObject(parent), m_clock(clock) {}

DeadlineList::~DeadlineList()
{
    if (m_timerId)
        killTimer(m_timerId);
}

DeadlineList::Token DeadlineList::start(qint64 ms, std::function<void()> fire)
{
    Token t{m_clock.nowMs() + std::max<qint64>(ms, 0), ++m_seq};
    // Deadlines of one length arrive in order: the hint makes the insertion constant time.
    m_due.emplace_hint(m_due.end(), t, std::move(fire));
    if (!m_timerId || t.due < m_armedFor)
        arm();
    return t;
}

void DeadlineList::cancel(Token *token)
{
    if (*token)
        m_due.erase(*token); // the Qt timer, if armed for it, fires early and re-arms for the rest
    *token = Token();
}

void DeadlineList::runDue()
{
    const qint64 now = m_clock.nowMs();
    const quint64 last = m_seq; // deadlines the callbacks start wait for the next call, even those due already
    Liveness::Guard alive(m_liveness); // a callback may destroy this list (its owner ended with it)
    while (!m_due.empty() && m_due.begin()->first.due <= now && m_due.begin()->first.seq <= last) {
        std::function<void()> fire = std::move(m_due.extract(m_due.begin()).mapped());
        if (fire)
            fire();
        if (!alive)
            return;
    }
    arm();
}

void DeadlineList::arm()
{
    if (m_due.empty()) {
        if (m_timerId)
            killTimer(m_timerId);
        m_timerId = 0;
        m_armedFor = 0;
        return;
    }
    const qint64 due = m_due.begin()->first.due;
    if (m_timerId && m_armedFor <= due)
        return; // fires first, then re-arms for the rest
    if (m_timerId)
        killTimer(m_timerId);
    const qint64 wait = std::max<qint64>(due - m_clock.nowMs(), 0);
    m_timerId = startTimer(std::chrono::milliseconds(wait), Qt::PreciseTimer);
    m_armedFor = m_timerId ? due : 0;
}

void DeadlineList::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_timerId) {
        QObject::timerEvent(event);
        return;
    }
    killTimer(m_timerId); // Qt timers repeat
    m_timerId = 0;
    m_armedFor = 0;
    runDue();
}

} // namespace dfproxy
