// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace dfproxy::platform {

/// Makes the calling thread give way to the proxy's threads: for background work that must keep up on average
/// but may wait its turn (the access-log writer). Linux: nice +5 for this thread only; macOS: the "utility" QoS
/// class; Windows: below-normal priority. Best effort: false (and nothing changed) when the system refuses.
bool lowerCurrentThreadPriority();

/// Makes the calling thread run only on what the proxy's threads leave: for CPU-heavy work that must not slow other
/// clients down (password hashes under a flood of guesses). Linux: nice 19 for this thread; macOS: the "background"
/// QoS class; Windows: lowest priority. Best effort, like lowerCurrentThreadPriority().
bool useLeftoverCpuOnCurrentThread();

} // namespace dfproxy::platform
