// SPDX-License-Identifier: Apache-2.0
#pragma once
// TLS to an origin on the raw upstream socket: the native engine's direct HTTPS connections (and websocket
// upgrades to wss:// origins) without QSslSocket. The TCP side is a raw stream of net::Stream::connectTo (one
// non-blocking descriptor on the worker's poller, or a notifier pair where there is none), and OpenSSL runs on it
// through a BIO whose reads and writes are that stream's: SSL_read decrypts straight into the caller's buffer (no
// QSslSocket buffers to copy through, no memory BIO), SSL_write's records go to the kernel at once and only what it
// refuses waits in the raw stream's queue. The client setup (verification, SNI, ALPN, session resumption, one
// SSL_CTX per worker) is forward/tlsclient.h's, the same as inside an https:// upstream proxy's tunnel.

#include "base/liveness.h"
#include "forward/tlsclient.h"
#include "net/stream.h"

#include <QHostAddress>

typedef struct bio_st BIO;
typedef struct bio_method_st BIO_METHOD;

namespace dfproxy::forward {

/// How long a closed TlsClientStream waits for the origin to close its side, once its own bytes are out.
constexpr int kLingerMs = 2000;

/// A client TLS connection as a net::Stream. Lives on one thread.
///
/// Dialling: the listener hears onStreamConnected() once the TCP connect and the handshake are done and the origin
/// verified; onStreamClosed(SslHandshakeFailedError) when TLS failed (errorString() says why: "the certificate of
/// NAME does not verify: REASON", or OpenSSL's error); onStreamClosed with the TCP error otherwise (a refused
/// connect, the origin closing during the handshake). Afterwards it behaves as any Stream; a TLS stream cannot
/// half-close, so its end of input closes it (onStreamClosed(RemoteHostClosedError), as QSslSocket's disconnected),
/// and shutdownWrite() is closeAfterFlush(): close_notify and a FIN after the queued bytes, then the descriptor is
/// closed when the origin closed too (or after kLingerMs), not before, lest a reset lose our last bytes; at once
/// (silently) only when the origin's end of stream was already read. release() gives null: no test or data path
/// needs a QTcpSocket of it.
class TlsClientStream final : public net::Stream, private net::StreamListener
{
public:
    /// Dials `address`:`port` and starts TLS with `options` once connected. Null, with `error` set, when the dial
    /// failed at once (no route, no socket).
    static TlsClientStream *connectTo(const QHostAddress &address, quint16 port, TlsClientOptions options,
                                      QString *error, QObject *parent = nullptr);
    ~TlsClientStream() override;

    /// The handshake is done (and not failed since).
    bool isEncrypted() const { return m_state == State::Established; }
    /// The handshake resumed an earlier session with the same origin name, CAs, verification and ALPN.
    bool isResumed() const;
    /// The protocol the origin chose by ALPN; empty when none.
    QByteArray negotiatedProtocol() const;

    // net::Stream
    using net::Stream::write;
    qint64 read(char *data, qint64 max) override;
    bool hasPendingInput() const override;
    void write(const char *data, qint64 size) override;
    qint64 bytesToWrite() const override;
    void closeAfterFlush() override;
    void abort() override;
    bool isOpen() const override;
    QTcpSocket *release() override { return nullptr; }
    bool localEndpoint(QHostAddress *address, quint16 *port) const override;

private:
    enum class State { Connecting, Handshaking, Established, Closed };

    TlsClientStream(net::Stream *raw, TlsClientOptions options, QObject *parent);

    // net::StreamListener, for the raw stream
    void onStreamConnected() override;
    void onStreamReadable() override;
    void onStreamWritten() override;
    void onStreamClosed(QAbstractSocket::SocketError error) override;

    void continueHandshake();
    /// Tells the listener about input when OpenSSL has application data or the end of it (records that carry
    /// neither, such as TLS 1.3 session tickets on an idle pooled connection, must not look like input).
    void announceInput();
    /// The origin's close_notify, or its end of stream: closes once the queued output is out.
    void endOfInput(bool queued);
    /// closeAfterFlush(): drops what the origin sends and, once the queue and the FIN are out, closes when the
    /// origin's end of stream comes or kLingerMs passed. `tell`: the listener hears of the close (false inside
    /// closeAfterFlush(), where closing at once is silent).
    void lingerIfFlushed(bool tell);
    void finishClose(bool tell);
    /// Reads and drops what the raw stream has (while closing).
    void discardInput();
    void timerEvent(QTimerEvent *event) override;
    /// TLS broke: the connection is dropped and the listener told `error`.
    void fail(QAbstractSocket::SocketError error, const QString &message, bool queued);
    /// onStreamClosed(error) to the listener, once; from the event loop when `queued` (inside one of its calls).
    void report(QAbstractSocket::SocketError error, bool queued);
    /// Writes what was written before the handshake finished.
    void writeEarly();

    // the BIO between OpenSSL and the raw stream
    static BIO_METHOD *bioMethod();
    static int bioRead(BIO *bio, char *data, int size);
    static int bioWrite(BIO *bio, const char *data, int size);
    static long bioCtrl(BIO *bio, int cmd, long num, void *ptr);

    net::Stream *m_raw; ///< child: the TCP connection (keeps its end of input open: OpenSSL reads it as EOF)
    TlsClientOptions m_options;
    SSL *m_ssl = nullptr;
    QString m_setupError; ///< newClientSsl failed: reported once connected
    QByteArray m_early;   ///< written before the handshake finished
    State m_state = State::Connecting;
    bool m_inputWaits = false; ///< a read stopped at its size with more records buffered in OpenSSL
    bool m_readEnded = false;  ///< OpenSSL read the end (close_notify, EOF) or failed: reads give 0
    bool m_closing = false;    ///< closeAfterFlush(): waits for the raw stream's queue, dropping input
    int m_lingerTimer = 0;     ///< closeAfterFlush(): the origin's close is waited for this long at most
    bool m_reported = false;   ///< onStreamClosed was sent (or must not be)
    Liveness m_liveness;
};

} // namespace dfproxy::forward
