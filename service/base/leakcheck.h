// SPDX-License-Identifier: Apache-2.0
#pragma once
// LeakSanitizer scopes for third-party code whose memory LeakSanitizer cannot follow (scripts/sanitize asan).
// Without LeakSanitizer the class is empty and costs nothing.

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define DFPROXY_LSAN 1
#endif
#endif
#if !defined(DFPROXY_LSAN) && defined(__SANITIZE_ADDRESS__)
#define DFPROXY_LSAN 1
#endif

#ifdef DFPROXY_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace dfproxy {

/// Allocations this thread makes while an instance lives are never reported as leaks. Only for code we do not own,
/// with the reason at the use: a real leak of ours inside the scope would be hidden too.
class LeakCheckDisabled
{
public:
#ifdef DFPROXY_LSAN
    LeakCheckDisabled() { __lsan_disable(); }
    ~LeakCheckDisabled() { __lsan_enable(); }
#else
    // User-provided, so that a scope object is not an "unused variable" where it does nothing.
    LeakCheckDisabled() {}
    ~LeakCheckDisabled() {}
#endif
    LeakCheckDisabled(const LeakCheckDisabled &) = delete;
    LeakCheckDisabled &operator=(const LeakCheckDisabled &) = delete;
};

} // namespace dfproxy
