// SPDX-License-Identifier: Apache-2.0
#include "http2/clientsession.h"

#include <nghttp2/nghttp2.h>

#include <QList>

#include <cstring>

namespace dfproxy::http2 {

namespace {

QByteArray bytes(const uint8_t *p, size_t n)
{
    return QByteArray(reinterpret_cast<const char *>(p), qsizetype(n));
}

/// nghttp2's view of a header list; the values stay owned by `headers`.
QList<nghttp2_nv> toNv(const HeaderList &pseudo, const HeaderList &headers)
{
    QList<nghttp2_nv> nv;
    nv.reserve(pseudo.size() + headers.size());
    for (const HeaderList *list : {&pseudo, &headers}) {
        for (const auto &h : *list)
            nv.append({reinterpret_cast<uint8_t *>(const_cast<char *>(h.first.constData())),
                       reinterpret_cast<uint8_t *>(const_cast<char *>(h.second.constData())), size_t(h.first.size()),
                       size_t(h.second.size()), NGHTTP2_NV_FLAG_NONE});
    }
    return nv;
}

} // namespace

struct ClientSession::Callbacks
{
    static ClientSession *of(void *p) { return static_cast<ClientSession *>(p); }

    static int beginHeaders(nghttp2_session *, const nghttp2_frame *, void *p)
    {
        ClientSession *s = of(p);
        s->m_headers.clear();
        s->m_status = 0;
        return 0;
    }

    static int header(nghttp2_session *, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                      const uint8_t *value, size_t valuelen, uint8_t, void *p)
    {
        ClientSession *s = of(p);
        if (frame->hd.type != NGHTTP2_HEADERS)
            return 0;
        if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
            // nghttp2 checked it is three digits (HTTP messaging); anything else reset the stream already.
            s->m_status = bytes(value, valuelen).toInt();
            return 0;
        }
        if (namelen > 0 && name[0] == ':')
            return 0;
        s->m_headers.append({bytes(name, namelen), bytes(value, valuelen)});
        return 0;
    }

    static int frameRecv(nghttp2_session *, const nghttp2_frame *frame, void *p)
    {
        ClientSession *s = of(p);
        const qint32 id = frame->hd.stream_id;
        const bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
        switch (frame->hd.type) {
        case NGHTTP2_HEADERS:
            if (s->m_status >= 100 && s->m_status < 200)
                return 0; // interim (100 Continue, 103 Early Hints): the final head follows
            if (s->m_status != 0)
                s->m_handler->onResponseHead(id, s->m_status, s->m_headers, end);
            else
                s->m_handler->onResponseTrailers(id, s->m_headers);
            s->m_headers.clear();
            if (end)
                s->m_handler->onResponseEnd(id);
            return 0;
        case NGHTTP2_DATA:
            if (end)
                s->m_handler->onResponseEnd(id);
            return 0;
        case NGHTTP2_GOAWAY:
            s->m_goaway = true;
            s->m_handler->onGoaway(frame->goaway.last_stream_id, frame->goaway.error_code);
            return 0;
        default:
            return 0;
        }
    }

    static int dataChunk(nghttp2_session *session, uint8_t, int32_t id, const uint8_t *data, size_t len, void *p)
    {
        // The connection window opens at once; the stream's only when the handler passed the bytes on.
        nghttp2_session_consume_connection(session, len);
        of(p)->m_handler->onResponseData(id, reinterpret_cast<const char *>(data), qsizetype(len));
        return 0;
    }

    static int streamClose(nghttp2_session *, int32_t id, uint32_t errorCode, void *p)
    {
        ClientSession *s = of(p);
        --s->m_open;
        s->m_handler->onStreamClosed(id, errorCode);
        return 0;
    }

    static ssize_t read(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                        nghttp2_data_source *, void *p)
    {
        ClientSession *s = of(p);
        bool eof = false;
        const qsizetype n =
            s->m_handler->readRequestBody(id, reinterpret_cast<char *>(buf), qsizetype(length), &eof);
        if (n < 0)
            return NGHTTP2_ERR_DEFERRED;
        if (eof) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            const HeaderList trailers = s->m_handler->requestTrailers(id);
            if (!trailers.isEmpty()) {
                const QList<nghttp2_nv> nv = toNv({}, trailers);
                if (nghttp2_submit_trailer(session, id, nv.constData(), size_t(nv.size())) == 0)
                    *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            }
        }
        return ssize_t(n);
    }
};

ClientSession::ClientSession(ClientSessionHandler *handler, quint32 streamWindowBytes) : m_handler(handler)
{
    nghttp2_session_callbacks *cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &Callbacks::beginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cb, &Callbacks::header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &Callbacks::frameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &Callbacks::dataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &Callbacks::streamClose);
    nghttp2_option *opt = nullptr;
    nghttp2_option_new(&opt);
    // Stream windows are opened by consume() only: the origin sends no faster than the client takes it.
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_client_new2(&m_session, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);

    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, streamWindowBytes},
    };
    nghttp2_submit_settings(m_session, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    nghttp2_session_set_local_window_size(m_session, NGHTTP2_FLAG_NONE, 0, 16 * 1024 * 1024);
}

ClientSession::~ClientSession()
{
    nghttp2_session_del(m_session);
}

bool ClientSession::receive(const char *data, qsizetype size)
{
    if (m_dead)
        return false;
    const ssize_t rv = nghttp2_session_mem_recv(m_session, reinterpret_cast<const uint8_t *>(data), size_t(size));
    if (rv < 0) {
        m_lastError = nghttp2_strerror(int(rv));
        m_dead = true;
        nghttp2_session_terminate_session(m_session, NGHTTP2_PROTOCOL_ERROR);
        return false;
    }
    return true;
}

qsizetype ClientSession::send(QByteArray &out, qsizetype max)
{
    qsizetype total = 0;
    while (total < max) {
        const uint8_t *data = nullptr;
        const ssize_t n = nghttp2_session_mem_send(m_session, &data);
        if (n <= 0) {
            if (n < 0)
                m_lastError = nghttp2_strerror(int(n));
            break;
        }
        out.append(reinterpret_cast<const char *>(data), qsizetype(n));
        total += qsizetype(n);
    }
    return total;
}

qint32 ClientSession::submitRequest(const HeaderList &pseudo, const HeaderList &headers, bool hasBody)
{
    if (!canOpenStream())
        return -1;
    const QList<nghttp2_nv> nv = toNv(pseudo, headers);
    nghttp2_data_provider provider;
    provider.source.ptr = nullptr;
    provider.read_callback = &Callbacks::read;
    const int32_t id =
        nghttp2_submit_request(m_session, nullptr, nv.constData(), size_t(nv.size()), hasBody ? &provider : nullptr,
                               nullptr);
    if (id < 0) {
        m_lastError = nghttp2_strerror(id);
        return -1;
    }
    ++m_open;
    return id;
}

bool ClientSession::canOpenStream() const
{
    if (m_dead || m_goaway || !nghttp2_session_check_request_allowed(m_session))
        return false;
    return quint32(m_open) < nghttp2_session_get_remote_settings(m_session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

void ClientSession::resumeData(qint32 stream)
{
    nghttp2_session_resume_data(m_session, stream);
}

void ClientSession::consume(qint32 stream, qsizetype n)
{
    if (n > 0)
        nghttp2_session_consume_stream(m_session, stream, size_t(n));
}

void ClientSession::resetStream(qint32 stream, quint32 errorCode)
{
    nghttp2_submit_rst_stream(m_session, NGHTTP2_FLAG_NONE, stream, errorCode);
}

void ClientSession::shutdown()
{
    // GOAWAY with last stream 0 (an origin opens none): the streams in flight finish, no new one is opened.
    m_goaway = true;
    nghttp2_submit_goaway(m_session, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr, 0);
}

bool ClientSession::finished() const
{
    return !nghttp2_session_want_read(m_session) && !nghttp2_session_want_write(m_session);
}

} // namespace dfproxy::http2
