// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Kubernetes-like resource endpoints of the admin API over the ConfigStore.

#include "api/router.h"

#include <QJsonObject>

namespace dfproxy::admin {

/// Computes an object's `status` on read (e.g. route acceptance). Called on the main thread with the current config.
using StatusProvider = std::function<QJsonObject(const config::Config &, const config::Resource &)>;

/// The Kubernetes-like resource endpoints under /api/v1 (list, get, create, replace, merge-patch, delete, apply,
/// export), backed by a ConfigStore.
class ResourceApi
{
public:
    /// `store` is not owned and must outlive the routes registered by registerRoutes().
    explicit ResourceApi(config::ConfigStore *store) : m_store(store) {}

    void setStatusProvider(StatusProvider provider) { m_statusProvider = std::move(provider); }
    /// Adds this API's routes to `router`. The handlers keep a pointer to this object.
    void registerRoutes(ApiRouter &router);

    /// The object as served: stored JSON plus the computed status (if a provider is set).
    QJsonObject present(const config::Resource &resource) const;

private:
    ApiResponse list(const ApiRequest &req, const QString &ns);
    ApiResponse get(const ApiRequest &req);
    ApiResponse create(const ApiRequest &req, const QString &pathNamespace);
    ApiResponse replace(const ApiRequest &req);
    ApiResponse patch(const ApiRequest &req);
    ApiResponse remove(const ApiRequest &req);
    ApiResponse apply(const ApiRequest &req);
    ApiResponse exportAll(const ApiRequest &req);
    ApiResponse exportForAgentgateway(const ApiRequest &req);

    config::ConfigStore *m_store;
    StatusProvider m_statusProvider;
};

} // namespace dfproxy::admin
