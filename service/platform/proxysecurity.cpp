// SPDX-License-Identifier: Apache-2.0
#include "platform/proxysecurity.h"

namespace dfproxy::platform {

namespace {

std::function<QString(ProxySecurityContext::Mechanism)> &fakeAvailability()
{
    static std::function<QString(ProxySecurityContext::Mechanism)> fake;
    return fake;
}

} // namespace

QString ProxySecurityContext::unavailableReason(Mechanism m)
{
    if (const auto &fake = fakeAvailability())
        return fake(m);
    return platformUnavailableReason(m);
}

void ProxySecurityContext::setAvailabilityForTesting(std::function<QString(Mechanism)> fake)
{
    fakeAvailability() = std::move(fake);
}

} // namespace dfproxy::platform
