// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QtGlobal>

class QObject;
class QTimerEvent;

namespace dfproxy {

/// A one-shot timeout on a QObject that is cheap to re-arm and to cancel. QObject::startTimer / killTimer each
/// walk the thread's whole timer list, and a keep-alive connection re-arms its idle, read and response timeouts
/// on every request: with a few hundred connections per worker that was a visible share of the CPU per request.
/// A LazyTimer keeps one Qt timer and only moves a deadline: start() and stop() touch Qt only when the new
/// deadline is earlier than the running timer; an early wake-up re-arms for the rest.
///
///   void Conn::timerEvent(QTimerEvent *ev) { if (m_idle.fired(this, ev)) onIdle(); }
class LazyTimer
{
public:
    /// Expires `ms` from now, replacing any earlier deadline; `ms <= 0` stops it.
    void start(QObject *owner, qint64 ms);
    /// Cancels the deadline (the Qt timer, if any, fires later and is then dropped).
    void stop() { m_deadline = 0; }
    bool isActive() const { return m_deadline != 0; }
    /// For the owner's timerEvent: true when `ev` is this timer's and its deadline has passed (it is then
    /// stopped); false for any other event, a cancelled deadline, or an early wake-up (re-armed for the rest).
    bool fired(QObject *owner, QTimerEvent *ev);
    /// Milliseconds on the monotonic clock the deadlines use.
    static qint64 nowMs();

private:
    int m_id = 0;          ///< the Qt timer, 0 when none runs
    qint64 m_due = 0;      ///< when the Qt timer fires
    qint64 m_deadline = 0; ///< 0 = stopped
};

} // namespace dfproxy
