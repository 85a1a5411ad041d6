// SPDX-License-Identifier: Apache-2.0
#include "base/lazytimer.h"

#include <QObject>
#include <QTimerEvent>

#include <chrono>

namespace dfproxy {

qint64 LazyTimer::nowMs()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void LazyTimer::start(QObject *owner, qint64 ms)
{
    if (ms <= 0) {
        m_deadline = 0;
        return;
    }
    const qint64 now = nowMs();
    m_deadline = now + ms;
    if (m_id && m_due <= m_deadline)
        return; // fires first, then re-arms for the rest
    if (m_id)
        owner->killTimer(m_id);
    m_id = owner->startTimer(std::chrono::milliseconds(ms), Qt::PreciseTimer);
    m_due = m_id ? m_deadline : 0;
}

bool LazyTimer::fired(QObject *owner, QTimerEvent *ev)
{
    if (!m_id || ev->timerId() != m_id)
        return false;
    owner->killTimer(m_id); // Qt timers repeat
    m_id = 0;
    m_due = 0;
    if (!m_deadline)
        return false;
    const qint64 left = m_deadline - nowMs();
    if (left > 0) {
        m_id = owner->startTimer(std::chrono::milliseconds(left), Qt::PreciseTimer);
        m_due = m_id ? m_deadline : 0;
        return false;
    }
    m_deadline = 0;
    return true;
}

} // namespace dfproxy
