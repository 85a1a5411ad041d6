// SPDX-License-Identifier: Apache-2.0
#include "base/clock.h"

#include <QDeadlineTimer>

namespace dfproxy {

qint64 SystemClock::nowMs() const
{
    return QDeadlineTimer::current(Qt::PreciseTimer).deadline();
}

SystemClock &SystemClock::instance()
{
    static SystemClock clock;
    return clock;
}

} // namespace dfproxy
