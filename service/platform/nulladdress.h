// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QHostAddress>

namespace dfproxy::platform {

/// A null QHostAddress to initialise members from. QHostAddress's default constructor allocates its private data
/// (Qt 6.4), five times per proxied request in the records and attributes that are assigned a real address right
/// after; a copy of this one only counts a reference. One per thread, so workers do not share the count.
inline const QHostAddress &nullAddress()
{
    thread_local const QHostAddress address;
    return address;
}

} // namespace dfproxy::platform
