// SPDX-License-Identifier: Apache-2.0
#include "http2/serversession.h"

#include <nghttp2/nghttp2.h>

#include <QVarLengthArray>

#include <algorithm>
#include <cstring>

namespace dfproxy::http2 {

namespace {

/// RFC 9113 6.5.2: a field counts its name, its value and 32 octets of overhead.
constexpr qint64 kFieldOverhead = 32;
/// Longer fields are copied as they come (a long cookie or token is rarely worth a slot of ServerSession::intern).
constexpr size_t kInternMax = 128;

QByteArray bytes(const uint8_t *p, size_t n)
{
    return QByteArray(reinterpret_cast<const char *>(p), qsizetype(n));
}

} // namespace

void ServerSession::HeaderBlock::reset(qint32 id, qint64 encoded)
{
    stream = id;
    encodedBytes = encoded;
    decodedBytes = 0;
    continuations = 0;
    tooLarge = false;
    pseudo.clear();
    headers.clear();
}

QByteArray ServerSession::intern(const uint8_t *data, size_t size)
{
    if (size == 0)
        return QByteArray();
    if (size > kInternMax)
        return bytes(data, size);
    for (const QByteArray &r : m_recent) {
        if (size_t(r.size()) == size && std::memcmp(r.constData(), data, size) == 0)
            return r;
    }
    QByteArray b = bytes(data, size);
    m_recent[m_recentNext] = b;
    m_recentNext = (m_recentNext + 1) % m_recent.size();
    return b;
}

bool ServerSession::Bucket::take(QElapsedTimer &clock, int burst, int perSecond)
{
    const qint64 now = clock.elapsed();
    tokens = std::min<double>(burst, tokens + double(now - lastMs) * perSecond / 1000.0);
    lastMs = now;
    if (tokens < 1.0)
        return false;
    tokens -= 1.0;
    return true;
}

struct ServerSession::Callbacks
{
    static ServerSession *of(void *p) { return static_cast<ServerSession *>(p); }

    static int beginFrame(nghttp2_session *, const nghttp2_frame_hd *hd, void *p)
    {
        ServerSession *s = of(p);
        if (hd->type == NGHTTP2_HEADERS) {
            s->m_block.reset(hd->stream_id, qint64(hd->length));
        } else if (hd->type == NGHTTP2_CONTINUATION) {
            s->m_block.encodedBytes += qint64(hd->length);
            if (++s->m_block.continuations > s->m_limits.maxContinuations) {
                s->flood(Violation::ContinuationFlood);
                return NGHTTP2_ERR_CALLBACK_FAILURE;
            }
        }
        return 0;
    }

    static int header(nghttp2_session *, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                      const uint8_t *value, size_t valuelen, uint8_t, void *p)
    {
        ServerSession *s = of(p);
        if (frame->hd.type != NGHTTP2_HEADERS)
            return 0;
        // A request head or the request's trailers (HCAT_HEADERS): both count against the header-list limit.
        HeaderBlock &b = s->m_block;
        b.decodedBytes += qint64(namelen + valuelen) + kFieldOverhead;
        if (b.decodedBytes > s->m_limits.maxHeaderListBytes) {
            // Much more decoded than received: the dynamic table is being replayed (an HPACK bomb). End the
            // connection rather than spend CPU decoding the rest.
            if (b.decodedBytes > b.encodedBytes * s->m_limits.bombRatio) {
                s->flood(Violation::HpackBomb);
                return NGHTTP2_ERR_CALLBACK_FAILURE;
            }
            if (!b.tooLarge) {
                b.tooLarge = true;
                b.pseudo.clear();
                b.headers.clear();
            }
        }
        if (b.tooLarge)
            return 0;
        if (namelen > 0 && name[0] == ':') {
            // :path differs from request to request: not worth a slot.
            const bool path = namelen == 5 && name[1] == 'p';
            b.pseudo.append({s->intern(name, namelen), path ? bytes(value, valuelen) : s->intern(value, valuelen)});
        } else {
            b.headers.append({s->intern(name, namelen), s->intern(value, valuelen)});
        }
        return 0;
    }

    static int frameRecv(nghttp2_session *session, const nghttp2_frame *frame, void *p)
    {
        ServerSession *s = of(p);
        const qint32 id = frame->hd.stream_id;
        switch (frame->hd.type) {
        case NGHTTP2_HEADERS:
            if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
                // Request trailers (over the limit: dropped, the head went on already); the body ends here.
                if (!s->m_block.tooLarge && !s->m_block.headers.isEmpty())
                    s->m_handler->onRequestTrailers(id, s->m_block.headers);
                s->m_block.reset(0, 0);
                if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
                    s->m_handler->onRequestEnd(id);
                return 0;
            }
            if (s->m_block.tooLarge) {
                s->m_handler->onViolation(Violation::HeaderListTooLarge);
                s->m_handler->onRequestRefused(id, 431, QByteArrayLiteral("header_list_too_large"));
                return 0;
            }
            s->m_handler->onRequestHead(id, s->m_block.pseudo, s->m_block.headers,
                                        frame->hd.flags & NGHTTP2_FLAG_END_STREAM);
            s->m_block.reset(0, 0);
            return 0;
        case NGHTTP2_DATA:
            if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && nghttp2_session_get_stream_user_data(session, id))
                s->m_handler->onRequestEnd(id);
            return 0;
        case NGHTTP2_RST_STREAM:
            if (!s->m_resets.take(s->m_clock, s->m_limits.resetBurst, s->m_limits.resetsPerSecond)) {
                s->flood(Violation::RapidReset);
                return NGHTTP2_ERR_CALLBACK_FAILURE;
            }
            return 0;
        case NGHTTP2_PING:
            if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) &&
                !s->m_pings.take(s->m_clock, s->m_limits.pingBurst, s->m_limits.pingsPerSecond)) {
                s->flood(Violation::PingFlood);
                return NGHTTP2_ERR_CALLBACK_FAILURE;
            }
            return 0;
        case NGHTTP2_SETTINGS:
            if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) &&
                !s->m_settings.take(s->m_clock, s->m_limits.settingsBurst, s->m_limits.settingsPerSecond)) {
                s->flood(Violation::SettingsFlood);
                return NGHTTP2_ERR_CALLBACK_FAILURE;
            }
            return 0;
        default:
            return 0;
        }
    }

    static int beginHeaders(nghttp2_session *session, const nghttp2_frame *frame, void *)
    {
        // A marker that the stream has a request (DATA before a head is nghttp2's protocol error anyway).
        static int s_marker;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST)
            nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, &s_marker);
        return 0;
    }

    static int dataChunk(nghttp2_session *session, uint8_t, int32_t id, const uint8_t *data, size_t len, void *p)
    {
        ServerSession *s = of(p);
        // The connection window opens at once; the stream's only when the handler passed the bytes on.
        nghttp2_session_consume_connection(session, len);
        s->m_handler->onRequestData(id, reinterpret_cast<const char *>(data), qsizetype(len));
        return 0;
    }

    static int streamClose(nghttp2_session *, int32_t id, uint32_t errorCode, void *p)
    {
        of(p)->m_handler->onStreamClosed(id, errorCode);
        return 0;
    }

    static ssize_t read(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                        nghttp2_data_source *, void *p)
    {
        ServerSession *s = of(p);
        bool eof = false;
        qsizetype n = -1;
        if (s->m_sendOut && s->m_handler->peekResponseBody(id, qsizetype(length), &n, &eof)) {
            // The frame's bytes go from the handler's buffer to the output in sendData (one copy fewer).
            if (n >= 0)
                *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
        } else {
            n = s->m_handler->readResponseBody(id, reinterpret_cast<char *>(buf), qsizetype(length), &eof);
        }
        if (n < 0)
            return NGHTTP2_ERR_DEFERRED;
        if (eof) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            const HeaderList trailers = of(p)->m_handler->responseTrailers(id);
            if (!trailers.isEmpty()) {
                QList<nghttp2_nv> nv;
                for (const auto &h : trailers)
                    nv.append({reinterpret_cast<uint8_t *>(const_cast<char *>(h.first.constData())),
                               reinterpret_cast<uint8_t *>(const_cast<char *>(h.second.constData())),
                               size_t(h.first.size()), size_t(h.second.size()), NGHTTP2_NV_FLAG_NONE});
                if (nghttp2_submit_trailer(session, id, nv.constData(), size_t(nv.size())) == 0)
                    *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            }
        }
        return ssize_t(n);
    }

    /// A DATA frame read() left in the handler's buffer (NGHTTP2_DATA_FLAG_NO_COPY): its header, then its bytes.
    /// No padding: the session has no padding callback.
    static int sendData(nghttp2_session *, nghttp2_frame *frame, const uint8_t *header, size_t length,
                        nghttp2_data_source *, void *p)
    {
        ServerSession *s = of(p);
        if (!s->m_sendOut)
            return NGHTTP2_ERR_CALLBACK_FAILURE; // not reached: read() asks for this only inside send()
        s->m_sendOut->append(reinterpret_cast<const char *>(header), 9);
        s->m_handler->takeResponseBody(frame->hd.stream_id, qsizetype(length), *s->m_sendOut);
        return 0;
    }
};

ServerSession::ServerSession(ServerSessionHandler *handler, const ServerLimits &limits)
    : m_handler(handler), m_limits(limits)
{
    m_clock.start();
    m_resets.tokens = limits.resetBurst;
    m_pings.tokens = limits.pingBurst;
    m_settings.tokens = limits.settingsBurst;

    nghttp2_session_callbacks *cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, &Callbacks::beginFrame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &Callbacks::beginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cb, &Callbacks::header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &Callbacks::frameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &Callbacks::dataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &Callbacks::streamClose);
    nghttp2_session_callbacks_set_send_data_callback(cb, &Callbacks::sendData);
    nghttp2_option *opt = nullptr;
    nghttp2_option_new(&opt);
    // Stream windows are opened by consume() only: the client sends no faster than the origin takes it.
    nghttp2_option_set_no_auto_window_update(opt, 1);
    // nghttp2's own limits stay on behind ours (they end the connection without telling which pattern it was).
    nghttp2_option_set_max_continuations(opt, size_t(limits.maxContinuations) + 1);
    nghttp2_session_server_new2(&m_session, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);

    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.maxConcurrentStreams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits.streamWindowBytes},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits.maxHeaderListBytes},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        // RFC 8441: websockets over a stream (:method CONNECT with :protocol); without it nghttp2 refuses :protocol.
        {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
    };
    nghttp2_submit_settings(m_session, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    nghttp2_session_set_local_window_size(m_session, NGHTTP2_FLAG_NONE, 0, int32_t(limits.connectionWindowBytes));
}

ServerSession::~ServerSession()
{
    nghttp2_session_del(m_session);
}

void ServerSession::flood(Violation v)
{
    if (m_dead)
        return;
    m_dead = true;
    m_handler->onViolation(v);
    nghttp2_session_terminate_session(m_session, NGHTTP2_ENHANCE_YOUR_CALM);
}

bool ServerSession::receive(const char *data, qsizetype size)
{
    if (m_dead)
        return false;
    const ssize_t rv = nghttp2_session_mem_recv(m_session, reinterpret_cast<const uint8_t *>(data), size_t(size));
    if (rv < 0) {
        m_lastError = nghttp2_strerror(int(rv));
        if (!m_dead) {
            m_dead = true;
            if (rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS)
                m_handler->onViolation(Violation::ContinuationFlood);
            else if (rv == NGHTTP2_ERR_FLOODED)
                m_handler->onViolation(Violation::PingFlood); // unanswered PING/SETTINGS ACKs piled up
            // A protocol error: nghttp2 queued its GOAWAY where the error allows one; else say so ourselves.
            nghttp2_session_terminate_session(m_session, NGHTTP2_PROTOCOL_ERROR);
        }
        return false;
    }
    return !m_dead;
}

qsizetype ServerSession::send(QByteArray &out, qsizetype max)
{
    const qsizetype start = out.size();
    m_sendOut = &out;
    while (out.size() - start < max) {
        const qsizetype before = out.size();
        const uint8_t *data = nullptr;
        const ssize_t n = nghttp2_session_mem_send(m_session, &data);
        if (n < 0) {
            m_lastError = nghttp2_strerror(int(n));
            break;
        }
        if (n > 0)
            out.append(reinterpret_cast<const char *>(data), qsizetype(n));
        else if (out.size() == before)
            break; // nothing more now (sendData may have written a frame without nghttp2 returning bytes)
    }
    m_sendOut = nullptr;
    return out.size() - start;
}

bool ServerSession::finished() const
{
    return !nghttp2_session_want_read(m_session) && !nghttp2_session_want_write(m_session);
}

void ServerSession::submitResponse(qint32 stream, int status, const HeaderList &headers, bool hasBody)
{
    // nghttp2 copies the fields before this returns: they may point into this frame.
    char statusText[3];
    const int code = std::clamp(status, 100, 999);
    statusText[0] = char('0' + code / 100);
    statusText[1] = char('0' + code / 10 % 10);
    statusText[2] = char('0' + code % 10);
    QVarLengthArray<nghttp2_nv, 32> nv;
    auto add = [&nv](const char *n, qsizetype nlen, const char *v, qsizetype vlen) {
        nv.append({reinterpret_cast<uint8_t *>(const_cast<char *>(n)),
                   reinterpret_cast<uint8_t *>(const_cast<char *>(v)), size_t(nlen), size_t(vlen),
                   NGHTTP2_NV_FLAG_NONE});
    };
    add(":status", 7, statusText, 3);
    for (const auto &h : headers)
        add(h.first.constData(), h.first.size(), h.second.constData(), h.second.size());
    nghttp2_data_provider provider;
    provider.source.ptr = nullptr;
    provider.read_callback = &Callbacks::read;
    nghttp2_submit_response(m_session, stream, nv.constData(), size_t(nv.size()), hasBody ? &provider : nullptr);
}

void ServerSession::resumeData(qint32 stream)
{
    nghttp2_session_resume_data(m_session, stream);
}

void ServerSession::consume(qint32 stream, qsizetype n)
{
    if (n > 0)
        nghttp2_session_consume_stream(m_session, stream, size_t(n));
}

void ServerSession::resetStream(qint32 stream, quint32 errorCode)
{
    nghttp2_submit_rst_stream(m_session, NGHTTP2_FLAG_NONE, stream, errorCode);
}

void ServerSession::shutdown()
{
    nghttp2_submit_goaway(m_session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(m_session),
                          NGHTTP2_NO_ERROR, nullptr, 0);
}

void ServerSession::terminate(quint32 errorCode)
{
    m_dead = true;
    nghttp2_session_terminate_session(m_session, errorCode);
}

} // namespace dfproxy::http2
