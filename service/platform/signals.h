// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>

namespace dfproxy::platform {

/// Routes the OS's stop and reload requests into the Qt event loop of the calling (main) thread:
/// SIGTERM/SIGINT (console Ctrl+C / close on Windows) call `onStop`; SIGHUP calls `onReload` (no equivalent on
/// Windows). The callbacks run on the main thread, never inside a signal handler. Call once, after the
/// QCoreApplication exists.
void installSignalHandlers(std::function<void()> onStop, std::function<void()> onReload);

} // namespace dfproxy::platform
