// SPDX-License-Identifier: Apache-2.0
#pragma once
// TLS to an origin inside a connection that is already TLS: the CONNECT tunnel through an https:// upstream proxy
// (#22, docs/upstream-proxy.md). Qt cannot start a QSslSocket over another socket's decrypted bytes, so OpenSSL runs
// the inner client session on two memory BIOs: what the tunnel (the outer QSslSocket) delivers goes in as
// ciphertext, plaintext comes out, and the other way round. No TLS is written here, only the plumbing; the client
// setup (verification, SNI, ALPN, resumption) is forward/tlsclient.h's, shared with TlsClientStream.
//
// Why a QTcpSocket subclass (as QSslSocket is one): the Connector hands every connection to its consumer as a
// QTcpSocket (Connector::Connected). Http1Forwarder and websocket upgrades adopt it as a net::Stream (a QtStream, as
// for any QSslSocket), Http2Forwarder and HTTP/2 CONNECT relays drive the QTcpSocket API itself. Being one keeps that
// single representation: the consumers change only where they ask a QSslSocket for its ALPN result, which
// tlsNegotiatedProtocol() answers for both. It owns no descriptor (socketDescriptor() is -1), so net::Stream::adopt
// wraps it instead of dissolving it into a raw stream.

#include "forward/tlsclient.h"

#include <QByteArray>
#include <QString>
#include <QTcpSocket>

#include <memory>

namespace dfproxy::forward {

/// A client TLS session over `outer`'s bytes. Reports as a QSslSocket would: encrypted() once the handshake is done
/// and the origin verified; errorOccurred(SslHandshakeFailedError) when the handshake or the verification fails
/// (errorString() says why); afterwards readyRead / bytesWritten / disconnected / errorOccurred like any socket.
/// Signals come from the event loop (the outer socket's), never from inside a call. Lives on one thread.
class TlsLayerSocket final : public QTcpSocket
{
    Q_OBJECT
public:
    /// What it verifies and offers: the same as TLS directly to an origin (forward/tlsclient.h).
    using Options = TlsClientOptions;

    /// Takes `outer` (connected, its tunnel open) as a child; bytes it already holds belong to the inner session.
    TlsLayerSocket(QTcpSocket *outer, Options options, QObject *parent = nullptr);
    ~TlsLayerSocket() override;

    /// Sends the ClientHello. Call once.
    void startClientEncryption();
    bool isEncrypted() const { return m_established; }
    /// The handshake resumed an earlier session with the same origin name, CAs, verification and ALPN.
    bool isResumed() const;
    /// The protocol the origin chose by ALPN; empty when none.
    QByteArray negotiatedProtocol() const;

    qint64 bytesAvailable() const override;
    qint64 bytesToWrite() const override;
    bool canReadLine() const override;
    /// Sends close_notify, then closes the tunnel once its queue is out; disconnected() follows.
    void disconnectFromHost() override;
    /// Drops the connection at once (abort() comes here too). No signal follows.
    void close() override;
    bool waitForReadyRead(int) override { return false; }
    bool waitForBytesWritten(int) override { return false; }
    bool waitForConnected(int) override { return false; }
    bool waitForDisconnected(int) override { return false; }

Q_SIGNALS:
    void encrypted();

protected:
    qint64 readData(char *data, qint64 maxlen) override;
    qint64 readLineData(char *data, qint64 maxlen) override;
    qint64 skipData(qint64 maxSize) override;
    qint64 writeData(const char *data, qint64 len) override;

private:
    struct Session;

    void onOuterReadable();
    void onOuterDisconnected();
    void continueHandshake();
    /// Moves ciphertext the session produced to the outer socket.
    void sendPending();
    /// Ends with `error`: errorOccurred(error), and the tunnel is dropped.
    void fail(QAbstractSocket::SocketError error, const QString &message);
    void finish();

    QTcpSocket *m_outer;
    Options m_options;
    std::unique_ptr<Session> m_session;
    QByteArray m_plain;          ///< decrypted, not read yet
    bool m_started = false;
    bool m_established = false;
    bool m_failed = false;
};

/// Whether `socket` speaks TLS it negotiated itself (a QSslSocket that is encrypted, or a TlsLayerSocket); `alpn`
/// (may be null) gets the protocol the peer chose by ALPN.
bool tlsNegotiatedProtocol(const QTcpSocket *socket, QByteArray *alpn);

} // namespace dfproxy::forward
