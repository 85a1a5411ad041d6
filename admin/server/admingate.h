// SPDX-License-Identifier: Apache-2.0
#pragma once
// The admin API's gate: decides each request on its head (token, Host/Origin, body limit, timeouts, connection
// limits) before QHttpServer reads anything more.

#include "api/apitypes.h"
#include "http/httpparser.h"

#include <QTcpServer>
#include <QTcpSocket>

#include <functional>
#include <optional>

namespace dfproxy::admin {

/// How much an admin client may hold of the proxy process (the `admin` config block sets the first three).
struct GateLimits
{
    int headTimeoutMs = 10000;         ///< from accept, or from a head's first byte, until the head is complete
    int idleTimeoutMs = 60000;         ///< no byte either way for this long closes the connection
    int maxConnections = 32;           ///< further connections get 503 and are closed at once
    qsizetype maxHeadBytes = 16 * 1024; ///< request line and headers (431 beyond)
    qsizetype maxBodyBytes = 1024 * 1024; ///< decoded body (413 beyond)
};

/// Decides a request on its head alone: std::nullopt lets it through, anything else is the answer to give.
using HeadCheck = std::function<std::optional<ApiResponse>(const http::MessageHead &head)>;

/// The admin API's listener: a gate in front of Qt HttpServer 6.4, which reads a request's whole body into memory
/// before any handler (and so before the token check) runs, and never times out a connection.
///
/// The gate keeps each client socket itself and parses the requests on it with the proxy's strict parser. A head
/// is checked (HeadCheck: Host, Origin, token; Content-Length against the body limit) before any body byte is
/// read. A request that passes goes to QHttpServer through a RelaySocket, re-framed with a Content-Length (a
/// chunked body is decoded here, up to the limit); a request that fails reaches QHttpServer as a bodiless stand-in
/// that carries the verdict, so the error answer (problem+json) keeps its place among the responses, and the
/// connection is closed after it without reading the body. Keep-alive works as before: every request on a
/// connection passes the same checks. QAbstractHttpServer::bind() takes this server; its pending connections are
/// the relays. Main thread only.
class AdminGate : public QTcpServer
{
    Q_OBJECT
public:
    AdminGate(const GateLimits &limits, HeadCheck check, QObject *parent = nullptr);
    ~AdminGate() override;

    const GateLimits &limits() const { return m_limits; }
    /// Open gated connections (those refused for the connection limit are not counted).
    int connectionCount() const { return m_connections; }

protected:
    void incomingConnection(qintptr socketDescriptor) override;

private:
    friend class GatedConnection;
    void refuse(qintptr socketDescriptor);
    void lingeringClose(QTcpSocket *socket, bool counted = true);

    GateLimits m_limits;
    HeadCheck m_check;
    int m_connections = 0;
};

} // namespace dfproxy::admin
