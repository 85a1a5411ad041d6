// SPDX-License-Identifier: Apache-2.0
// Kept apart so that code paths (and tests) that never touch RouteTable do not link it.
#include "proxy/proxyserver.h"
#include "proxy/router.h"

namespace dfproxy::proxy {

namespace {
class RouteTableRouter final : public Router
{
public:
    explicit RouteTableRouter(std::shared_ptr<const routing::RouteTable> t) : m_table(std::move(t)) {}
    QList<routing::Listener> listeners() const override { return m_table->listeners(); }
    std::optional<routing::RouteMatch> match(const routing::RequestInfo &request, double randomValue) const override
    {
        return m_table->match(request, randomValue);
    }

private:
    std::shared_ptr<const routing::RouteTable> m_table;
};
} // namespace

std::shared_ptr<const Router> makeRouteTableRouter(std::shared_ptr<const routing::RouteTable> table)
{
    if (!table)
        return nullptr;
    return std::make_shared<RouteTableRouter>(std::move(table));
}

void ProxyServer::setRouteTable(std::shared_ptr<const routing::RouteTable> table)
{
    setRouter(makeRouteTableRouter(std::move(table)));
}

} // namespace dfproxy::proxy
