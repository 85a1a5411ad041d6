// SPDX-License-Identifier: Apache-2.0
#include "net/stream.h"

#include "base/bytes.h"
#include "base/liveness.h"
#include "platform/poller.h"
#include "platform/sendbatch.h"
#include "platform/socket.h"
#include "platform/splice.h"

#include <QEvent>
#include <QPointer>
#include <QSocketNotifier>
#include <QSslSocket>
#include <QTcpSocket>
#include <QVarLengthArray>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

namespace dfproxy::net {

namespace {

/// Input a RawStream takes in on its own while its listener is not reading.
constexpr qint64 kReadAhead = 64 * 1024;
/// Inside a WriteBatch, a write that brings the queue to this size goes out at once (no copy into the queue).
constexpr qint64 kDirectWrite = 16 * 1024;

class RawStream;

/// A socket notifier that calls its stream straight from its event instead of through QSocketNotifier's
/// activated() signals (two emissions and a QPointer per activation, two activations per proxied request).
class StreamNotifier final : public QSocketNotifier
{
public:
    StreamNotifier(qintptr fd, Type type, RawStream *stream)
        : QSocketNotifier(fd, type)
        , m_stream(stream)
    {
    }

protected:
    bool event(QEvent *e) override;

private:
    RawStream *m_stream;
};

/// The raw streams of one thread behind one platform::Poller (epoll on Linux): Qt's event loop watches the
/// poller's descriptor only, and one activation hands over every ready connection, instead of a ppoll() over two
/// notifiers per connection and an event per ready one. Created by the thread's first stream, gone with its last.
/// Where the platform has no poller, streams keep a StreamNotifier pair each.
class ThreadPoller final : public QSocketNotifier
{
public:
    /// This thread's poller, created on first use; nullptr where the platform has none.
    static ThreadPoller *forThisThread();

    /// Registers a stream; the token names it in watch() and detach().
    quint64 attach(RawStream *stream);
    /// Unregisters it (stop watching its descriptor first). The last detach deletes the poller.
    void detach(quint64 token);
    bool watch(qintptr fd, quint64 token, bool read, bool write) { return m_poller->watch(fd, token, read, write); }

protected:
    bool event(QEvent *e) override;

private:
    explicit ThreadPoller(std::unique_ptr<platform::Poller> poller);
    RawStream *streamFor(quint64 token) const;

    struct Slot
    {
        RawStream *stream = nullptr;
        quint32 generation = 0; ///< bumped on detach: a ready event for a reused slot's old stream is ignored
    };
    std::unique_ptr<platform::Poller> m_poller;
    std::vector<Slot> m_slots;
    std::vector<quint32> m_freeSlots;
    int m_streams = 0;
    bool m_dispatching = false;
};

thread_local ThreadPoller *t_poller = nullptr;
/// No poller for new streams of this thread: the platform has none (or it failed; not tried again per stream), or
/// Stream::setPollerAllowedOnThisThread(false).
thread_local bool t_noPoller = false;

/// WriteBatch state of this thread: how deep, and the streams with queued bytes to send when it closes.
thread_local int t_batchDepth = 0;
thread_local QVarLengthArray<RawStream *, 64> t_dirty;
/// WriteBatch::defer: work to run when the outermost batch closes, in the order it was queued.
thread_local QVarLengthArray<WriteBatch::Deferred *, 16> t_deferred;

/// Plain TCP on the descriptor itself.
class RawStream final : public Stream
{
public:
    RawStream(qintptr fd, QByteArray preread, QObject *parent) : RawStream(fd, std::move(preread), false, parent)
    {
        platform::socketPeer(fd, &m_peerAddress, &m_peerPort);
        platform::setNoDelay(fd);
    }
    /// A connect in progress (Stream::connectTo): only its writability is watched until connected() says how it
    /// ended.
    RawStream(qintptr fd, const QHostAddress &peer, quint16 port, QObject *parent)
        : RawStream(fd, QByteArray(), true, parent)
    {
        m_peerAddress = peer;
        m_peerPort = port;
    }

private:
    RawStream(qintptr fd, QByteArray preread, bool connecting, QObject *parent)
        : Stream(parent)
        , m_fd(fd)
        , m_in(std::move(preread))
        , m_readArmed(!connecting)
        , m_connecting(connecting)
    {
        m_spliceable = platform::SplicePipe::supported();
        m_poller = ThreadPoller::forThisThread();
        if (m_poller) {
            m_token = m_poller->attach(this);
            setWatch(!connecting, connecting, nullptr, false);
        } else {
            m_readNotifier = new StreamNotifier(fd, QSocketNotifier::Read, this);
            m_writeNotifier = new StreamNotifier(fd, QSocketNotifier::Write, this);
            m_readNotifier->setParent(this);
            m_writeNotifier->setParent(this);
            m_readNotifier->setEnabled(!connecting);
            m_writeNotifier->setEnabled(connecting);
        }
        if (!m_in.isEmpty())
            QMetaObject::invokeMethod(this, [this] { readable(); }, Qt::QueuedConnection);
    }

public:
    ~RawStream() override
    {
        closeDescriptor();
        if (m_dirty)
            t_dirty.removeOne(this);
    }

    /// What a WriteBatch queued, for a platform::SendBatch to send with other streams' bytes (false: this stream
    /// sends its own, in flushQueued: spliced bytes wait, or the kernel already pushed back).
    bool batchSendable(platform::SendBatch::Send *send) const
    {
        if (m_fd < 0 || m_pipe || m_writeArmed || queuedBytes() <= 0)
            return false;
        *send = {m_fd, m_out.constData() + m_outPos, queuedBytes(), 0};
        return true;
    }
    /// `sent` of those bytes left in a SendBatch; flushQueued() then deals with the rest (or finds out what
    /// failed, with a send of its own).
    void batchSent(qint64 sent)
    {
        if (sent <= 0)
            return;
        m_outPos += sent;
        m_batchSent += sent;
    }

    /// Sends what a WriteBatch queued (called when the batch closes).
    void flushQueued()
    {
        m_dirty = false;
        const qint64 batchSent = std::exchange(m_batchSent, 0);
        if (m_fd < 0 || m_writeArmed || bytesToWrite() + batchSent == 0)
            return;
        const qint64 before = bytesToWrite() + batchSent;
        if (!sendQueued()) {
            closeAndReport(QAbstractSocket::RemoteHostClosedError, true);
            return;
        }
        if (bytesToWrite() > 0) {
            armWrite(true);
        } else if (m_closing) {
            closeAndReport(QAbstractSocket::RemoteHostClosedError, true);
            return;
        } else if (m_shutPending) {
            sendFin();
        }
        // A writer that stopped at its limit while the batch queued waits for this (no notifier will tell it).
        if (bytesToWrite() < before && m_listener) {
            WriteBatch batch;
            m_listener->onStreamWritten();
        }
    }

    qint64 read(char *data, qint64 max) override
    {
        if (max <= 0)
            return 0;
        if (!m_in.isEmpty()) {
            const qint64 n = std::min<qint64>(max, m_in.size());
            memcpy(data, m_in.constData(), size_t(n));
            m_in.remove(0, n);
            if (m_in.isEmpty() && m_eofPending) {
                m_eofPending = false;
                endOfInput(true); // the end of stream the read-ahead saw, now that its bytes are read
            } else if (!m_readArmed && m_in.size() < kReadAhead && m_fd >= 0 && !m_readEnded && !m_closing) {
                m_readArmed = true;
                notifyRead(true);
            }
            return n;
        }
        if (m_fd < 0 || m_readEnded || m_connecting)
            return 0;
        const qint64 n = platform::readSocket(m_fd, data, max);
        if (n > 0) {
            // A short read emptied the kernel's queue: the notifier (level-triggered) tells when more comes.
            if (n < max)
                drained();
            return n;
        }
        inputStopped(n);
        return 0;
    }

    bool unread(const QByteArray &bytes) override
    {
        if (bytes.isEmpty())
            return true;
        m_in.prepend(bytes);
        // Announced from the event loop (whoever reads them may only now be becoming the listener), unless the
        // stream was closed meanwhile.
        QMetaObject::invokeMethod(this, [this] {
            if (m_fd >= 0 && !m_in.isEmpty())
                readable();
        }, Qt::QueuedConnection);
        return true;
    }

    bool hasPendingInput() const override
    {
        return !m_in.isEmpty() || (m_fd >= 0 && !m_readEnded && !m_readArmed && !m_connecting);
    }

    void write(const char *data, qint64 size) override
    {
        if (m_fd < 0 || m_closing || m_shutPending || m_writeShut || size <= 0)
            return;
        if (m_connecting) {
            appendRaw(m_out, data, size); // sent once connected
            return;
        }
        if (pipeBytes() > 0) {
            // Spliced bytes wait in the pipe for room in the kernel (the write notifier is on): these follow them.
            appendRaw(m_out, data, size);
            if (!m_writeArmed)
                armWrite(true);
            return;
        }
        if (t_batchDepth > 0 && bytesToWrite() + size >= kDirectWrite && !m_writeArmed) {
            // A big write: send what the batch queued and this in one call instead of copying it into the queue.
            const qint64 queued = bytesToWrite();
            const qint64 n = platform::writeSocket2(m_fd, m_out.constData() + m_outPos, queued, data, size);
            if (n == platform::SocketFailed) {
                m_error = QStringLiteral("write to a closed connection");
                closeAndReport(QAbstractSocket::RemoteHostClosedError, true);
                return;
            }
            const qint64 sent = std::max<qint64>(n, 0);
            if (sent >= queued) {
                resetOut();
                data += sent - queued;
                size -= sent - queued;
            } else {
                m_outPos += sent;
            }
            if (size > 0) {
                appendRaw(m_out, data, size);
                armWrite(true);
            }
            return;
        }
        if (t_batchDepth > 0) {
            if (bytesToWrite() == 0) {
                resetOut();
            }
            appendRaw(m_out, data, size);
            if (!m_dirty && !m_writeArmed) {
                m_dirty = true;
                t_dirty.append(this);
            }
            return;
        }
        if (bytesToWrite() == 0) {
            const qint64 n = platform::writeSocket(m_fd, data, size);
            if (n == platform::SocketFailed) {
                m_error = QStringLiteral("write to a closed connection");
                closeAndReport(QAbstractSocket::RemoteHostClosedError, true);
                return;
            }
            if (n == size)
                return;
            if (n > 0) {
                data += n;
                size -= n;
            }
            resetOut();
        }
        appendRaw(m_out, data, size);
        armWrite(true);
    }

    qint64 bytesToWrite() const override { return queuedBytes() + pipeBytes(); }

    qint64 spliceTo(Stream *to, qint64 max) override
    {
        if (!canSpliceTo(to) || to == this || max <= 0 || !m_in.isEmpty() || m_fd < 0 || m_readEnded || m_closing
            || m_connecting || static_cast<RawStream *>(to)->m_connecting)
            return -1;
        return static_cast<RawStream *>(to)->spliceFrom(*this, max); // only raw streams are spliceable
    }

    void closeAfterFlush() override
    {
        if (m_fd < 0)
            return;
        if (bytesToWrite() == 0) {
            m_reported = true; // the caller sees isOpen() == false
            closeDescriptor();
            return;
        }
        m_closing = true;
        notifyRead(false);
        if (!m_dirty && !m_writeArmed)
            armWrite(true);
    }

    void abort() override
    {
        m_reported = true;
        closeDescriptor();
    }

    bool inputEnded() const override { return m_atEnd; }

    void shutdownWrite() override
    {
        if (m_fd < 0 || m_closing || m_shutPending || m_writeShut)
            return;
        if (bytesToWrite() == 0) {
            sendFin();
            return;
        }
        m_shutPending = true; // writable() or flushQueued() sends the FIN once the queue is out
        if (!m_dirty && !m_writeArmed)
            armWrite(true);
    }

    bool isOpen() const override { return m_fd >= 0; }
    bool localEndpoint(QHostAddress *address, quint16 *port) const override
    {
        return m_fd >= 0 && platform::socketLocal(m_fd, address, port);
    }

    QTcpSocket *release() override
    {
        if (m_fd < 0)
            return nullptr;
        const qintptr fd = m_fd;
        deleteNotifiers();
        m_fd = -1;
        m_reported = true;
        // Spliced bytes still in the pipe go first, through the socket's buffer like the rest.
        const QByteArray spliced = m_pipe ? m_pipe->takeAll() : QByteArray();
        platform::SplicePipe::giveBack(std::move(m_pipe));
        auto *socket = new QTcpSocket;
        if (!socket->setSocketDescriptor(fd)) {
            platform::closeSocket(fd);
            delete socket;
            resetOut();
            return nullptr;
        }
        if (!spliced.isEmpty())
            socket->write(spliced);
        if (queuedBytes() > 0)
            socket->write(m_out.constData() + m_outPos, queuedBytes());
        resetOut();
        return socket;
    }

    /// A ready event from the thread's poller.
    void pollerReadable()
    {
        if (m_watchRead)
            readable();
    }
    void pollerWritable()
    {
        if (m_watchWrite)
            writable();
    }

private:
    friend class StreamNotifier;

    /// Whether the event loop tells us the descriptor is readable / writable (poller or notifiers).
    void notifyRead(bool on) { setWatch(on, m_watchWrite, m_readNotifier, on); }
    void notifyWrite(bool on) { setWatch(m_watchRead, on, m_writeNotifier, on); }
    void setWatch(bool read, bool write, StreamNotifier *notifier, bool on)
    {
        if (!m_poller) {
            if (notifier)
                notifier->setEnabled(on);
            return;
        }
        if (read == m_watchRead && write == m_watchWrite)
            return;
        m_watchRead = read;
        m_watchWrite = write;
        m_poller->watch(m_fd, m_token, read, write);
    }

    qint64 queuedBytes() const { return m_out.size() - m_outPos; }
    qint64 pipeBytes() const { return m_pipe ? m_pipe->size() : 0; }

    /// The destination half of spliceTo(): moves up to `max` bytes from `src`'s socket through a pipe into ours.
    qint64 spliceFrom(RawStream &src, qint64 max)
    {
        if (m_fd < 0 || m_closing)
            return -1;
        if (queuedBytes() > 0) {
            // Bytes written before (this batch's response head, say) go first.
            if (pipeBytes() > 0 || m_writeArmed) {
                src.holdInput();
                return 0;
            }
            if (!sendQueued()) {
                closeAndReport(QAbstractSocket::RemoteHostClosedError, true);
                return 0;
            }
            if (queuedBytes() > 0) {
                armWrite(true);
                src.holdInput();
                return 0;
            }
        }
        if (!m_pipe) {
            m_pipe = platform::SplicePipe::take();
            if (!m_pipe)
                return -1;
        }
        qint64 moved = 0;
        for (;;) {
            if (m_pipe->size() > 0) {
                if (!drainPipe()) {
                    closeAndReport(QAbstractSocket::RemoteHostClosedError, true);
                    return moved;
                }
                if (m_pipe->size() > 0) {
                    if (!m_writeArmed)
                        armWrite(true);
                    src.holdInput(); // the rest waits for room, and src's input with it
                    return moved;
                }
            }
            if (moved >= max)
                break;
            const qint64 n = m_pipe->fillFrom(src.m_fd, max - moved);
            if (n > 0) {
                moved += n;
                continue;
            }
            src.inputStopped(n);
            break;
        }
        if (moved >= max)
            src.drained(); // took all it was asked for: anything more announces itself (level-triggered)
        platform::SplicePipe::giveBack(std::move(m_pipe)); // empty: idle connections hold no pipe
        return moved;
    }

    /// Sends what the pipe holds, as far as the kernel takes it. False when the connection failed.
    bool drainPipe()
    {
        if (m_pipe->drainTo(m_fd) != platform::SocketFailed)
            return true;
        m_error = QStringLiteral("write to a closed connection");
        return false;
    }

    /// The destination of a splice is full: stop announcing input (and reading ahead into m_in, which would then
    /// have to be copied) until the next spliceTo() or read() looks again — hasPendingInput() says so meanwhile.
    void holdInput()
    {
        m_drained = true; // no read-ahead at the end of the current announcement
        if (m_readArmed && m_in.isEmpty()) {
            m_readArmed = false;
            notifyRead(false);
        }
    }

    /// What a read or a splice out of this stream's socket found instead of bytes: WouldBlock, 0 (the end of the
    /// stream) or SocketFailed.
    void inputStopped(qint64 result)
    {
        if (result == platform::WouldBlock) {
            drained();
            return;
        }
        m_readEnded = true;
        notifyRead(false);
        if (result == 0) {
            endOfInput(true);
        } else {
            m_error = QStringLiteral("connection reset by peer");
            closeAndReport(QAbstractSocket::NetworkError, true);
        }
    }

    void drained()
    {
        m_drained = true;
        if (!m_readArmed && m_fd >= 0 && !m_closing) {
            m_readArmed = true;
            notifyRead(true);
        }
    }

    void readable()
    {
        if ((m_fd < 0 || m_readEnded) && m_in.isEmpty())
            return;
        WriteBatch batch;
        m_drained = false;
        Liveness::Guard guard(m_liveness);
        if (m_listener)
            m_listener->onStreamReadable();
        if (!guard || m_drained || m_fd < 0 || m_readEnded || !m_readArmed)
            return;
        // Not read to the end: the listener is busy with a request or pushing back. Like QAbstractSocket, take in
        // up to kReadAhead bytes (so an end of stream or a reset is still seen at once), then stop the notifier,
        // which would otherwise fire again at once for the same bytes. read() re-arms it.
        if (m_in.size() >= kReadAhead) {
            m_readArmed = false;
            notifyRead(false);
            return;
        }
        const qsizetype old = m_in.size();
        m_in.resize(old + kReadAhead);
        const qint64 n = platform::readSocket(m_fd, m_in.data() + old, kReadAhead);
        m_in.resize(old + std::max<qint64>(n, 0));
        if (n > 0 || n == platform::WouldBlock)
            return;
        m_readEnded = true;
        notifyRead(false);
        if (n != 0) {
            m_error = QStringLiteral("connection reset by peer");
            closeAndReport(QAbstractSocket::NetworkError, false);
        } else if (m_in.isEmpty()) {
            endOfInput(false);
        } else {
            m_eofPending = true; // reported once the listener has read what came before it
        }
    }

    /// The peer ended its side. Like QAbstractSocket, that closes the connection once our output is out, unless
    /// the listener keeps it open (a tunnel: setKeepOpenAtEnd), which is then told that input ended.
    void endOfInput(bool queued)
    {
        if (m_keepOpenAtEnd) {
            m_atEnd = true;
            if (!queued) {
                if (m_listener)
                    m_listener->onStreamReadable();
                return;
            }
            // Inside a call of the listener's (a read or a splice): it sees inputEnded() on return, and is told
            // again from the event loop in case it was not looking.
            QMetaObject::invokeMethod(this, [this] {
                if (m_fd >= 0 && m_listener) {
                    WriteBatch batch;
                    m_listener->onStreamReadable();
                }
            }, Qt::QueuedConnection);
            return;
        }
        if (bytesToWrite() == 0) {
            closeAndReport(QAbstractSocket::RemoteHostClosedError, queued);
            return;
        }
        m_closing = true;
        if (!m_dirty && !m_writeArmed)
            armWrite(true);
    }

    void writable()
    {
        if (m_fd < 0)
            return;
        if (m_connecting) {
            connected();
            return;
        }
        WriteBatch batch;
        const qint64 before = bytesToWrite();
        if (!sendQueued()) {
            closeAndReport(QAbstractSocket::RemoteHostClosedError, false);
            return;
        }
        const bool progress = bytesToWrite() < before;
        if (bytesToWrite() == 0) {
            resetOut();
            armWrite(false);
            if (m_closing) {
                closeAndReport(QAbstractSocket::RemoteHostClosedError, false);
                return;
            }
            if (m_shutPending)
                sendFin();
        } else if (m_outPos > (1 << 20) && m_outPos > m_out.size() / 2) {
            m_out.remove(0, m_outPos);
            m_outPos = 0;
        }
        if (progress && m_listener)
            m_listener->onStreamWritten();
    }

    /// The connect of Stream::connectTo() is over (its socket became writable): reading starts, or it failed.
    void connected()
    {
        QString error;
        if (!platform::connectResult(m_fd, &error)) {
            m_error = error;
            m_readEnded = true;
            closeAndReport(QAbstractSocket::ConnectionRefusedError, false);
            return;
        }
        m_connecting = false;
        m_readArmed = true;
        m_writeArmed = queuedBytes() > 0; // written while connecting
        if (m_poller) {
            setWatch(true, m_writeArmed, nullptr, false);
        } else {
            m_readNotifier->setEnabled(true);
            m_writeNotifier->setEnabled(m_writeArmed);
        }
        WriteBatch batch;
        if (m_listener)
            m_listener->onStreamConnected();
    }

    /// The half-close of shutdownWrite(), now that nothing is queued.
    void sendFin()
    {
        m_shutPending = false;
        m_writeShut = true;
        platform::shutdownWrite(m_fd);
    }

    void armWrite(bool on)
    {
        m_writeArmed = on;
        notifyWrite(on);
    }

    /// Empties the output queue; a small buffer is kept for the next response, a big one given back.
    void resetOut()
    {
        if (m_out.capacity() > 16 * 1024)
            m_out = QByteArray();
        else
            m_out.resize(0);
        m_outPos = 0;
    }

    /// Sends queued bytes (spliced ones first) until the kernel pushes back. False when the connection failed.
    bool sendQueued()
    {
        if (m_pipe) {
            if (!drainPipe())
                return false;
            if (m_pipe->size() > 0)
                return true;
            platform::SplicePipe::giveBack(std::move(m_pipe));
        }
        while (queuedBytes() > 0) {
            const qint64 n = platform::writeSocket(m_fd, m_out.constData() + m_outPos, queuedBytes());
            if (n == platform::WouldBlock)
                break;
            if (n == platform::SocketFailed) {
                m_error = QStringLiteral("write to a closed connection");
                return false;
            }
            m_outPos += n;
        }
        if (queuedBytes() == 0) {
            resetOut();
        }
        return true;
    }

    /// Closes the descriptor and tells the listener, from the event loop when `queued` (inside a call).
    void closeAndReport(QAbstractSocket::SocketError error, bool queued)
    {
        closeDescriptor();
        if (m_reported)
            return;
        if (!queued) {
            m_reported = true;
            if (m_listener)
                m_listener->onStreamClosed(error);
            return;
        }
        QMetaObject::invokeMethod(
            this,
            [this, error] {
                if (m_reported)
                    return;
                m_reported = true;
                if (m_listener)
                    m_listener->onStreamClosed(error);
            },
            Qt::QueuedConnection);
    }

    void deleteNotifiers()
    {
        // Before the descriptor closes: a notifier on a closed descriptor makes poll() report it forever, and
        // an epoll set keeps a closed descriptor's registration while a duplicate of it lives (release()).
        if (m_poller) {
            m_poller->watch(m_fd, m_token, false, false);
            std::exchange(m_poller, nullptr)->detach(m_token);
            m_watchRead = m_watchWrite = false;
        }
        delete std::exchange(m_readNotifier, nullptr);
        delete std::exchange(m_writeNotifier, nullptr);
    }

    void closeDescriptor()
    {
        if (m_fd < 0)
            return;
        deleteNotifiers();
        platform::closeSocket(m_fd);
        m_fd = -1;
        resetOut();
        platform::SplicePipe::giveBack(std::move(m_pipe)); // closed with what it holds, kept if empty
    }

    qintptr m_fd;
    QByteArray m_in; ///< bytes read before the stream took over (from a dissolved QTcpSocket)
    StreamNotifier *m_readNotifier = nullptr;
    StreamNotifier *m_writeNotifier = nullptr;
    ThreadPoller *m_poller = nullptr; ///< instead of the notifiers, where the platform has a poller
    quint64 m_token = 0;
    bool m_watchRead = false;  ///< the poller reports readability
    bool m_watchWrite = false; ///< the poller reports writability
    QByteArray m_out;
    qsizetype m_outPos = 0;
    /// Spliced bytes on their way to our socket (spliceFrom), sent before m_out; only while they wait for room.
    std::unique_ptr<platform::SplicePipe> m_pipe;
    bool m_readArmed = true; ///< the read notifier is enabled
    bool m_drained = true;   ///< since the last announcement, a read found the kernel's queue empty
    bool m_readEnded = false;
    bool m_closing = false;  ///< close once the queued output is out
    bool m_reported = false; ///< onStreamClosed was sent (or must not be)
    bool m_dirty = false;    ///< in t_dirty: a WriteBatch queued bytes
    qint64 m_batchSent = 0;  ///< of those, sent by a SendBatch (flushQueued() counts them as its own)
    bool m_writeArmed = false; ///< the write notifier is enabled (queued bytes wait for the kernel)
    bool m_eofPending = false; ///< the read-ahead met the end of stream behind the bytes in m_in
    bool m_atEnd = false;       ///< the peer's end of stream, read and kept open (setKeepOpenAtEnd)
    bool m_shutPending = false; ///< shutdownWrite() waits for the queue to go out
    bool m_writeShut = false;   ///< the FIN was sent
    bool m_connecting = false;  ///< Stream::connectTo(): the connect is not over yet (only writability is watched)
    Liveness m_liveness;       ///< "was I deleted by my listener?" without QPointer's shared block per call
};

/// TLS (and anything else QTcpSocket-shaped) through Qt.
class QtStream final : public Stream
{
public:
    QtStream(QTcpSocket *socket, QObject *parent)
        : Stream(parent)
        , m_socket(socket)
    {
        m_socket->setParent(this);
        m_peerAddress = m_socket->peerAddress();
        m_peerPort = m_socket->peerPort();
        connect(m_socket, &QIODevice::readyRead, this, [this] {
            WriteBatch batch;
            if (m_listener && !m_quiet)
                m_listener->onStreamReadable();
        });
        connect(m_socket, &QIODevice::bytesWritten, this, [this] {
            if (m_listener && !m_quiet)
                m_listener->onStreamWritten();
        });
        connect(m_socket, &QAbstractSocket::disconnected, this,
                [this] { report(QAbstractSocket::RemoteHostClosedError); });
        connect(m_socket, &QAbstractSocket::errorOccurred, this, [this](QAbstractSocket::SocketError e) {
            if (e != QAbstractSocket::RemoteHostClosedError) // disconnected() follows that one
                report(e);
        });
    }

    qint64 read(char *data, qint64 max) override
    {
        if (!m_socket)
            return 0;
        const qint64 n = m_socket->read(data, max);
        return n > 0 ? n : 0;
    }
    bool hasPendingInput() const override { return m_socket && m_socket->bytesAvailable() > 0; }
    void write(const char *data, qint64 size) override
    {
        if (m_socket && m_socket->state() == QAbstractSocket::ConnectedState)
            m_socket->write(data, size);
    }
    void flush() override
    {
        if (m_socket) {
            m_quiet = true; // flush() may report an error or a close at once
            m_socket->flush();
            m_quiet = false;
        }
    }
    qint64 bytesToWrite() const override { return m_socket ? m_socket->bytesToWrite() : 0; }
    void closeAfterFlush() override
    {
        if (!m_socket)
            return;
        m_quiet = true;
        m_socket->disconnectFromHost(); // emits disconnected() at once when nothing is queued
        m_quiet = false;
        if (m_socket->state() == QAbstractSocket::UnconnectedState)
            m_reported = true;
    }
    void abort() override
    {
        m_reported = true;
        if (m_socket)
            m_socket->abort();
    }
    bool localEndpoint(QHostAddress *address, quint16 *port) const override
    {
        if (!m_socket || m_socket->state() != QAbstractSocket::ConnectedState)
            return false;
        *address = m_socket->localAddress();
        *port = m_socket->localPort();
        return true;
    }
    bool isOpen() const override
    {
        return m_socket && !m_reported && m_socket->state() != QAbstractSocket::UnconnectedState;
    }
    QString errorString() const override { return m_socket ? m_socket->errorString() : m_error; }
    QTcpSocket *release() override
    {
        if (!m_socket)
            return nullptr;
        m_reported = true;
        QObject::disconnect(m_socket, nullptr, this, nullptr);
        QTcpSocket *s = std::exchange(m_socket, nullptr);
        s->setParent(nullptr);
        return s;
    }

private:
    void report(QAbstractSocket::SocketError error)
    {
        if (m_reported)
            return;
        if (m_quiet) {
            // Inside one of our calls: the caller checks isOpen(); tell the listener from the event loop.
            QMetaObject::invokeMethod(this, [this, error] { report(error); }, Qt::QueuedConnection);
            return;
        }
        m_reported = true;
        if (m_listener)
            m_listener->onStreamClosed(error);
    }

    QTcpSocket *m_socket;
    bool m_quiet = false;
    bool m_reported = false;
};

bool StreamNotifier::event(QEvent *e)
{
    // SockClose: what the Windows dispatcher sends for a peer's close instead of a read activation.
    if (e->type() != QEvent::SockAct && e->type() != QEvent::SockClose)
        return QSocketNotifier::event(e);
    if (type() == QSocketNotifier::Read)
        m_stream->readable();
    else
        m_stream->writable();
    return true;
}

ThreadPoller *ThreadPoller::forThisThread()
{
    if (t_noPoller)
        return nullptr;
    if (t_poller)
        return t_poller;
    auto poller = platform::Poller::create();
    if (!poller) {
        t_noPoller = true;
        return nullptr;
    }
    t_poller = new ThreadPoller(std::move(poller));
    return t_poller;
}

ThreadPoller::ThreadPoller(std::unique_ptr<platform::Poller> poller)
    : QSocketNotifier(poller->descriptor(), QSocketNotifier::Read)
    , m_poller(std::move(poller))
{
}

quint64 ThreadPoller::attach(RawStream *stream)
{
    quint32 index;
    if (!m_freeSlots.empty()) {
        index = m_freeSlots.back();
        m_freeSlots.pop_back();
    } else {
        index = quint32(m_slots.size());
        m_slots.push_back({});
    }
    m_slots[index].stream = stream;
    ++m_streams;
    return (quint64(m_slots[index].generation) << 32) | index;
}

void ThreadPoller::detach(quint64 token)
{
    const quint32 index = quint32(token);
    if (index < m_slots.size() && m_slots[index].stream) {
        m_slots[index].stream = nullptr;
        ++m_slots[index].generation;
        m_freeSlots.push_back(index);
        --m_streams;
    }
    if (m_streams > 0)
        return;
    // The thread's last stream: the next one makes a fresh poller. Not deleted under its own event().
    if (t_poller == this)
        t_poller = nullptr;
    setEnabled(false);
    if (m_dispatching)
        deleteLater();
    else
        delete this;
}

RawStream *ThreadPoller::streamFor(quint64 token) const
{
    const quint32 index = quint32(token);
    if (index >= m_slots.size() || m_slots[index].generation != quint32(token >> 32))
        return nullptr;
    return m_slots[index].stream;
}

bool ThreadPoller::event(QEvent *e)
{
    if (e->type() != QEvent::SockAct)
        return QSocketNotifier::event(e);
    // One batch per activation: anything left keeps the poller's descriptor readable, so Qt comes back after
    // its timers and posted events had their turn.
    platform::Poller::Event events[64];
    const int n = m_poller->poll(events, 64);
    m_dispatching = true;
    // What the batch's callbacks write goes out when the whole batch has been read and handled, in the order it was
    // written, not after each callback — as HAProxy sends (its reads of a poll first, then its sends). Interleaved
    // runs of scenario A (docs/benchmarks.md): more requests/s and a lower p99 at c=100, the same at c=10.
    WriteBatch writes;
    for (int i = 0; i < n; ++i) {
        // A stream an earlier event of this batch closed (or replaced) is skipped: its slot no longer matches.
        if (events[i].readable) {
            if (RawStream *s = streamFor(events[i].token))
                s->pollerReadable();
        }
        if (events[i].writable) {
            if (RawStream *s = streamFor(events[i].token))
                s->pollerWritable();
        }
    }
    m_dispatching = false;
    return true;
}

} // namespace

WriteBatch::WriteBatch()
{
    ++t_batchDepth;
}

bool WriteBatch::defer(Deferred *work)
{
    if (t_batchDepth == 0)
        return false;
    t_deferred.append(work);
    return true;
}

void WriteBatch::cancel(Deferred *work)
{
    t_deferred.removeAll(work);
}

WriteBatch::~WriteBatch()
{
    // Deferred work runs while the batch is still open, so what it writes joins the batch's sends; work it queues
    // in turn runs here too.
    while (t_batchDepth == 1 && !t_deferred.isEmpty()) {
        Deferred *work = t_deferred.front();
        t_deferred.remove(0);
        work->runDeferred();
    }
    if (--t_batchDepth > 0)
        return;
    // Two or more streams to send to: one kernel call for all of them where the platform can (see
    // platform/sendbatch.h: sent one by one, the first peer woken preempts this thread and the rest wait). Nothing
    // here calls back into a listener, so the streams stay alive.
    if (t_dirty.size() >= 2) {
        if (platform::SendBatch *sender = platform::SendBatch::forThisThread()) {
            QVarLengthArray<platform::SendBatch::Send, 64> sends;
            QVarLengthArray<RawStream *, 64> streams;
            for (RawStream *s : t_dirty) {
                platform::SendBatch::Send send;
                if (s->batchSendable(&send)) {
                    sends.append(send);
                    streams.append(s);
                }
            }
            if (sends.size() >= 2) {
                sender->send(sends.data(), int(sends.size()));
                for (qsizetype i = 0; i < sends.size(); ++i)
                    streams[i]->batchSent(sends[i].result);
            }
        }
    }
    // Flushing can close a stream (which leaves t_dirty): take them one at a time, in the order they were written
    // to, so the connection served first in a poller batch is sent first.
    while (!t_dirty.isEmpty()) {
        RawStream *s = t_dirty.front();
        t_dirty.remove(0);
        s->flushQueued();
    }
}

Stream *Stream::fromDescriptor(qintptr fd, QObject *parent)
{
    if (fd < 0)
        return nullptr;
    if (!platform::prepareSocket(fd)) {
        platform::closeSocket(fd);
        return nullptr;
    }
    return new RawStream(fd, QByteArray(), parent);
}

Stream *Stream::connectTo(const QHostAddress &address, quint16 port, QString *error, QObject *parent)
{
    const qintptr fd = platform::startConnect(address, port, error);
    if (fd < 0)
        return nullptr;
    return new RawStream(fd, address, port, parent);
}

void Stream::setPollerAllowedOnThisThread(bool allowed)
{
    t_noPoller = !allowed; // allowed again: the next stream tries to create one (and notes if there is none)
}

Stream *Stream::adopt(QTcpSocket *socket, QObject *parent)
{
    if (!socket)
        return nullptr;
    if (socket->state() != QAbstractSocket::ConnectedState) {
        socket->deleteLater();
        return nullptr;
    }
    // TLS, and sockets without a descriptor of their own (TLS inside a TLS tunnel: forward/tlslayer.h), stay in Qt.
    if (qobject_cast<QSslSocket *>(socket) || socket->socketDescriptor() < 0)
        return new QtStream(socket, parent);
    // Plain TCP: flush what the socket still holds, then keep a duplicate of its descriptor and let it go.
    socket->flush();
    const qintptr fd = socket->bytesToWrite() == 0 ? platform::duplicateSocket(socket->socketDescriptor()) : -1;
    if (fd < 0 || !platform::prepareSocket(fd)) {
        platform::closeSocket(fd);
        return new QtStream(socket, parent); // keep what works
    }
    const QByteArray unread = socket->readAll();
    QObject::disconnect(socket, nullptr, nullptr, nullptr);
    socket->abort(); // closes Qt's descriptor only: the duplicate keeps the connection
    socket->deleteLater();
    return new RawStream(fd, unread, parent);
}

} // namespace dfproxy::net
