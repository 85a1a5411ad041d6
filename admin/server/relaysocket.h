// SPDX-License-Identifier: Apache-2.0
#pragma once
// An in-memory socket that hands a gated admin request to QHttpServer without its descriptor.

#include "api/apitypes.h"

#include <QByteArray>
#include <QPointer>
#include <QQueue>
#include <QTcpSocket>

#include <optional>

namespace dfproxy::admin {

/// The QHttpServer end of a gated admin connection: an in-memory QTcpSocket with no descriptor behind it.
///
/// Qt HttpServer 6.4 reads a request's whole body into memory before any handler runs, so the admin listener
/// (AdminGate) keeps the real client socket and gives QHttpServer this stand-in instead. The gate writes only
/// requests it has checked and framed (deliver()); what QHttpServer writes goes out through outgoing() to the
/// client. Each delivered request carries a verdict, taken in order by the server's handler (takeVerdict()):
/// none for a request that passed, or the error the gate decided on the head (401, 413, ...), which the handler
/// answers before the connection is closed. Answering through QHttpServer keeps responses in request order.
/// Main thread only.
class RelaySocket : public QTcpSocket
{
    Q_OBJECT
public:
    /// `client` is the real socket: its address is reported as ours, its write backlog as bytesToWrite().
    explicit RelaySocket(QTcpSocket *client, QObject *parent = nullptr);
    ~RelaySocket() override;

    /// Gate side: appends the bytes of one whole request head (and later its body) for QHttpServer to read;
    /// `verdict` is what takeVerdict() returns for this request.
    void deliverHead(const QByteArray &head, std::optional<ApiResponse> verdict);
    /// Gate side: appends body bytes of the request whose head was delivered last.
    void deliverBody(const char *data, qsizetype size);
    /// Server side: the verdict of the oldest request not yet answered (std::nullopt when it passed).
    std::optional<ApiResponse> takeVerdict();

    qint64 bytesAvailable() const override;
    qint64 bytesToWrite() const override;
    bool isSequential() const override { return true; }
    bool atEnd() const override { return bytesAvailable() == 0; }
    bool canReadLine() const override;
    /// Closing either way ends the stand-in: it becomes Unconnected and emits disconnected() once.
    void close() override;
    void disconnectFromHost() override;

Q_SIGNALS:
    /// QHttpServer wrote these bytes (a response or part of one).
    void outgoing(const QByteArray &data);

protected:
    qint64 readData(char *data, qint64 maxSize) override;
    qint64 writeData(const char *data, qint64 size) override;

private:
    void announce();

    QPointer<QTcpSocket> m_client;
    QByteArray m_in;
    qsizetype m_inPos = 0;
    QQueue<std::optional<ApiResponse>> m_verdicts;
    bool m_readyReadQueued = false;
};

} // namespace dfproxy::admin
