// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>

#include <functional>

class QTcpSocket;

namespace dfproxy::test {

// Spins the calling thread's event loop until pred() is true or timeoutMs passes; returns pred()'s last value.
// Processes deferred deletes too, so objects released with deleteLater() go away while waiting.
bool waitUntil(const std::function<bool()> &pred, int timeoutMs);

// Spins the event loop for ms milliseconds (integration tests only; unit tests inject clocks instead).
void spinFor(int ms);

// Reads `socket` until the peer closes it or maxMs passes (a bound, not an expectation); returns what was read.
QByteArray readUntilClosed(QTcpSocket &socket, int maxMs = 10000);

} // namespace dfproxy::test
