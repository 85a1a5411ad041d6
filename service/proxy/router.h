// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "routing/routetable.h"

#include <memory>
#include <optional>

namespace dfproxy::proxy {

/// What the proxy asks of a route table. Immutable and shared by every worker; RouteTableRouter adapts
/// routing::RouteTable, tests supply their own.
class Router
{
public:
    virtual ~Router() = default;
    virtual QList<routing::Listener> listeners() const = 0;
    virtual std::optional<routing::RouteMatch> match(const routing::RequestInfo &request, double randomValue) const = 0;
};

/// Wraps a RouteTable snapshot (defined in routetablerouter.cpp, the only place that links RouteTable).
std::shared_ptr<const Router> makeRouteTableRouter(std::shared_ptr<const routing::RouteTable> table);

} // namespace dfproxy::proxy
