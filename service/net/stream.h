// SPDX-License-Identifier: Apache-2.0
#pragma once
// The byte stream the data path reads and writes: the client side of every proxied connection and the upstream
// side of the native engine. Plain TCP runs on the bare descriptor (RawStream: one recv or send per call, a read
// notifier that stays armed, writes that go to the kernel at once and only queue what it refuses); TLS runs on
// QSslSocket (QtStream), except TLS dialled directly to an HTTP/1.1 origin, which is OpenSSL on a RawStream
// (forward/tlsstream.h). The point is the cost per request: QAbstractSocket copies every byte through its own
// buffers, asks the kernel how much it may read (ioctl FIONREAD) before each read, and sends everything from the
// next event-loop pass through a write notifier.

#include <QAbstractSocket>
#include <QByteArray>
#include <QHostAddress>
#include <QObject>
#include <QString>

class QSocketNotifier;
class QTcpSocket;

namespace dfproxy::net {

/// A body with less than this still to come is not worth starting a splice for (Stream::spliceTo): the pipe's
/// bookkeeping costs more than the copy it saves. Used for response and request bodies alike.
constexpr qint64 kSpliceMinBytes = 8 * 1024;

/// What a Stream reports. Calls come from the event loop, never from inside a call to the Stream.
class StreamListener
{
public:
    /// Input (or the end of it) can be read.
    virtual void onStreamReadable() = 0;
    /// Queued output went out to the kernel (bytesToWrite() went down).
    virtual void onStreamWritten() = 0;
    /// The connection is over: RemoteHostClosedError when the peer ended it (or closeAfterFlush() finished),
    /// another error when it broke. Nothing follows; isOpen() is false.
    virtual void onStreamClosed(QAbstractSocket::SocketError error) = 0;
    /// A stream of Stream::connectTo() is connected: it reads and writes from now on. (A failed connect is
    /// onStreamClosed(ConnectionRefusedError), with errorString() saying why.)
    virtual void onStreamConnected() {}

protected:
    ~StreamListener() = default;
};

/// Coalesces writes: while a WriteBatch is open on a thread, writes to raw streams on that thread only queue, and
/// closing the outermost batch sends each stream's bytes in one call. Every Stream callback runs inside one, so a
/// response head and the body that came with it leave in one send; on a thread with a poller (epoll), one batch
/// spans all the callbacks of one poll, so its reads and its handling come before its sends. Outside a batch,
/// writes go out at once.
class WriteBatch
{
public:
    /// Work that produces a stream's bytes from what several callbacks of a batch gave it (an HTTP/2 connection
    /// framing the responses of its streams): run once when the outermost batch closes, before its sends.
    class Deferred
    {
    public:
        virtual void runDeferred() = 0;

    protected:
        ~Deferred() = default;
    };

    WriteBatch();
    ~WriteBatch();
    WriteBatch(const WriteBatch &) = delete;
    WriteBatch &operator=(const WriteBatch &) = delete;

    /// Queues `work` for the close of this thread's outermost batch (the caller asks once per batch: it keeps
    /// its own flag until runDeferred). False when no batch is open: the caller does the work now.
    static bool defer(Deferred *work);
    /// Drops `work` from the queue (its owner is going away).
    static void cancel(Deferred *work);
};

/// A connected stream socket. Lives on one thread.
class Stream : public QObject
{
public:
    /// Takes an accepted plain TCP descriptor. Returns null (and closes it) when it cannot be used.
    static Stream *fromDescriptor(qintptr fd, QObject *parent = nullptr);
    /// Dials `address`:`port` over plain TCP on a raw non-blocking socket watched by the thread's poller (or a
    /// notifier): the connect goes on in the kernel, and the listener hears onStreamConnected() or
    /// onStreamClosed(ConnectionRefusedError) from the event loop. Nothing is read before it connects; what is
    /// written meanwhile waits. Null, with `error` set, when it failed at once. One descriptor, no QTcpSocket: the
    /// dial of direct tunnels (forward/connector.h).
    static Stream *connectTo(const QHostAddress &address, quint16 port, QString *error, QObject *parent = nullptr);
    /// Takes a connected socket: a plain QTcpSocket is dissolved into a RawStream (its descriptor is duplicated
    /// and the QTcpSocket deleted; what it had read becomes the first input); a QSslSocket is wrapped. Returns
    /// null (the socket deleted) when it is no longer connected.
    static Stream *adopt(QTcpSocket *socket, QObject *parent = nullptr);
    /// Plain-TCP streams created on this thread from now on are watched through the thread's poller (epoll on
    /// Linux; the default) or, with false, through a socket-notifier pair each — what Windows and macOS always
    /// do. For tests, which run both paths on Linux.
    static void setPollerAllowedOnThisThread(bool allowed);

    void setListener(StreamListener *listener) { m_listener = listener; }

    /// Reads up to `max` bytes: > 0 read, 0 nothing now. The end of the stream reads as 0 too and is then
    /// reported through onStreamClosed from the event loop.
    virtual qint64 read(char *data, qint64 max) = 0;
    /// Puts `bytes` back in front of the input: the next reads return them first, and onStreamReadable announces
    /// them from the event loop. Raw streams only (what a handshake on a connectTo() stream read past its end:
    /// forward/connector.h); false elsewhere, when `bytes` is not empty.
    virtual bool unread(const QByteArray &bytes) { return bytes.isEmpty(); }
    /// True when input may be waiting that no onStreamReadable will announce: the last announcement was not read
    /// to its end. Read until read() returns 0 to be told again.
    virtual bool hasPendingInput() const = 0;
    /// Sends bytes; what the kernel does not take now is queued and sent as it can. Dropped once closed.
    virtual void write(const char *data, qint64 size) = 0;
    void write(const QByteArray &bytes) { write(bytes.constData(), bytes.size()); }
    /// Moves up to `max` bytes of this stream's input straight to `to`'s output, without copying them through user
    /// space: splice() on Linux, when both are plain TCP streams of this thread. Returns how many bytes were taken
    /// from this stream (they count in to->bytesToWrite() until the kernel has them); 0 when none could move now:
    /// no input yet (onStreamReadable tells when), or `to` cannot take more (try again on its onStreamWritten; this
    /// stream meanwhile announces no input, and hasPendingInput() is true); -1 when
    /// splicing cannot be used now (bytes already read into user space wait, or the streams cannot splice): then
    /// read() and write(). Takes no byte beyond `max`. End of stream and errors are reported as by read().
    virtual qint64 spliceTo(Stream *to, qint64 max)
    {
        Q_UNUSED(to);
        Q_UNUSED(max);
        return -1;
    }
    /// Whether spliceTo(`to`) can work at all between these two streams (it may still return -1 at times).
    bool canSpliceTo(const Stream *to) const { return m_spliceable && to && to->m_spliceable; }
    /// Pushes queued output to the kernel now where the implementation queues (TLS); a no-op on raw streams.
    virtual void flush() {}
    /// Bytes queued and not yet taken by the kernel.
    virtual qint64 bytesToWrite() const = 0;
    /// Closes once the queued output is out: at once (no onStreamClosed, isOpen() false afterwards) when nothing
    /// is queued, otherwise onStreamClosed(RemoteHostClosedError) follows when done.
    virtual void closeAfterFlush() = 0;
    /// Closes at once, dropping queued output. No callback follows.
    virtual void abort() = 0;
    virtual bool isOpen() const = 0;
    virtual QString errorString() const { return m_error; }
    /// Tunnels: the peer's end of stream no longer closes the connection (what it does by default, as
    /// QAbstractSocket does). It is announced through onStreamReadable, read() then returns 0 and inputEnded() is
    /// true, and this side goes on writing until shutdownWrite() or a close. Only raw streams can; TLS streams
    /// still close at the end of input (onStreamClosed(RemoteHostClosedError)).
    void setKeepOpenAtEnd(bool keep) { m_keepOpenAtEnd = keep; }
    /// The peer ended its side and everything it sent was read (with setKeepOpenAtEnd only).
    virtual bool inputEnded() const { return false; }
    /// Sends the end of stream (FIN: shutdown(SHUT_WR)) once the queued output is out; reading goes on. A TLS
    /// stream cannot half-close: it closes after the flush (closeAfterFlush()). Nothing may be written after it.
    virtual void shutdownWrite() { closeAfterFlush(); }
    /// Hands the connection back as a QTcpSocket (parentless, on this thread, queued output in its write buffer).
    /// Not on the data path, whose tunnels all relay Streams (proxy/tunnel.h for HTTP/1, proxy/http2stream.h for
    /// HTTP/2 CONNECT streams): for tests that talk through a connection with QTcpSocket's blocking calls. The
    /// Stream is closed afterwards and reports nothing more. Null when already closed.
    virtual QTcpSocket *release() = 0;

    /// This end's address and port (one system call; asked once per connection by the application lookup).
    /// False when the stream is closed.
    virtual bool localEndpoint(QHostAddress *address, quint16 *port) const = 0;

    QHostAddress peerAddress() const { return m_peerAddress; }
    quint16 peerPort() const { return m_peerPort; }

protected:
    explicit Stream(QObject *parent) : QObject(parent) {}

    StreamListener *m_listener = nullptr;
    QHostAddress m_peerAddress;
    quint16 m_peerPort = 0;
    QString m_error;
    bool m_spliceable = false; ///< a plain TCP stream on a platform with splice()
    bool m_keepOpenAtEnd = false; ///< setKeepOpenAtEnd()
};

} // namespace dfproxy::net
