// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/clock.h"
#include "base/liveness.h"

#include <QObject>

#include <functional>
#include <map>
#include <utility>

namespace dfproxy {

/// Many one-shot deadlines of one thread behind a single Qt timer, ordered by when they are due. A QTimer or
/// QObject::startTimer per deadline costs a timer id, a node in the thread's timer list and, to cancel it, a scan
/// of that list; a DNS query and a resolution each need one, for every name never seen before, and nearly all are
/// cancelled (the answer comes first). Here starting is an insertion into an ordered map (at its end when every
/// deadline has the same length) and cancelling an erase; the Qt timer is only moved when a new deadline is
/// earlier than the one it is armed for, and an early wake-up re-arms it for the rest (as base/lazytimer.h).
///
/// Lives on one thread: start, cancel and the callbacks run there. Times come from a Clock so tests can move them
/// by hand and call runDue().
class DeadlineList final : public QObject
{
public:
    /// Names a deadline that was started; a default one names none.
    struct Token
    {
        qint64 due = 0;
        quint64 seq = 0; ///< 0: none
        explicit operator bool() const { return seq != 0; }
        bool operator<(const Token &o) const { return due != o.due ? due < o.due : seq < o.seq; }
    };

    explicit DeadlineList(Clock &clock = SystemClock::instance(), QObject *parent = nullptr);
    ~DeadlineList() override;

    /// Calls `fire` once, `ms` from now (at the next turn of the event loop when `ms` <= 0). Keep the token to
    /// cancel it.
    Token start(qint64 ms, std::function<void()> fire);
    /// Forgets the deadline; a token that fired or was cancelled already is ignored. Clears `*token`.
    void cancel(Token *token);
    /// Deadlines started and neither fired nor cancelled.
    qsizetype size() const { return qsizetype(m_due.size()); }
    /// When the earliest one is due (Clock milliseconds); 0 when there is none.
    qint64 nextDueMs() const { return m_due.empty() ? 0 : m_due.begin()->first.due; }
    /// Runs the callbacks of every deadline due by the clock, earliest first (a callback may start or cancel
    /// others, or destroy the list), and re-arms the Qt timer for the next one. The Qt timer calls it; tests call
    /// it after moving their ManualClock.
    void runDue();

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    void arm();

    Clock &m_clock;
    std::map<Token, std::function<void()>> m_due;
    quint64 m_seq = 0;
    int m_timerId = 0;   ///< the Qt timer, 0 when none runs
    qint64 m_armedFor = 0; ///< the Clock time it is armed for
    Liveness m_liveness;
};

} // namespace dfproxy
