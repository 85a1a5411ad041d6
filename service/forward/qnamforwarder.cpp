// SPDX-License-Identifier: Apache-2.0
#include "forward/qnamforwarder.h"

#include "dns/hostcache.h"
#include "http/responserules.h"

#include <cstring>
#include <functional>

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSslConfiguration>
#include <QTimerEvent>
#include <QUrl>

namespace dfproxy::forward {

/// The request body of a QNAM exchange with a known Content-Length, fed as it arrives from the client: a
/// sequential device QNAM reads from (with DoNotBufferUploadDataAttribute it reads only what it can send).
/// `drained` runs (queued) when the buffered bytes fall to half the limit.
class BodyPipe final : public QIODevice
{
public:
    BodyPipe(qint64 limit, std::function<void()> drained, QObject *parent)
        : QIODevice(parent)
        , m_limit(limit)
        , m_drained(std::move(drained))
    {
        open(QIODevice::ReadOnly);
    }
    bool isSequential() const override { return true; }
    qint64 bytesAvailable() const override { return qint64(m_data.size() - m_offset) + QIODevice::bytesAvailable(); }
    bool atEnd() const override { return m_ended && m_data.size() == m_offset && QIODevice::bytesAvailable() == 0; }
    void feed(const char *data, qsizetype size)
    {
        if (m_offset == m_data.size()) {
            m_data.resize(0);
            m_offset = 0;
        } else if (m_offset > 64 * 1024 && m_offset > m_data.size() / 2) {
            m_data.remove(0, m_offset); // drop what QNAM has read, so the buffer holds only what it has not
            m_offset = 0;
        }
        m_data.append(data, size);
        Q_EMIT readyRead();
    }
    void end()
    {
        m_ended = true;
        Q_EMIT readyRead();
        Q_EMIT readChannelFinished();
    }
    qint64 buffered() const { return qint64(m_data.size() - m_offset); }

protected:
    qint64 readData(char *out, qint64 max) override
    {
        const qint64 n = std::min<qint64>(max, m_data.size() - m_offset);
        if (n <= 0)
            return m_ended ? -1 : 0;
        memcpy(out, m_data.constData() + m_offset, size_t(n));
        m_offset += n;
        if (m_blocked && buffered() <= m_limit / 2) {
            m_blocked = false;
            QMetaObject::invokeMethod(this, [this] { m_drained(); }, Qt::QueuedConnection);
        }
        return n;
    }
    qint64 writeData(const char *, qint64) override { return -1; }

public:
    void markBlocked() { m_blocked = true; }

private:
    QByteArray m_data;
    qsizetype m_offset = 0;
    qint64 m_limit;
    std::function<void()> m_drained;
    bool m_ended = false;
    bool m_blocked = false;
};

class QnamExchange final : public QObject, public Exchange
{
public:
    QnamExchange(QnamForwarder *fwd, ForwardRequest &&req, ResponseSink *sink)
        : m_fwd(fwd)
        , m_sink(sink)
        , m_req(std::move(req))
    {
        // A known length streams; an unknown one (chunked) is buffered whole: QNAM cannot send a body of unknown
        // size (QHttpNetworkConnectionPrivate::prepareRequest stops with qFatal when neither the Content-Length nor
        // the device size is known).
        if (m_req.contentLength > 0)
            m_pipe = new BodyPipe(m_fwd->m_options.bodyBufferLimit, [this] { m_sink->onRequestBodyDrained(); }, this);
        if (m_req.contentLength >= 0)
            QMetaObject::invokeMethod(this, [this] { send(); }, Qt::QueuedConnection);
    }
    ~QnamExchange() override { dropReply(); }

    void writeBody(const char *data, qsizetype size) override
    {
        if (m_pipe) {
            m_pipe->feed(data, size);
            if (m_pipe->buffered() > m_fwd->m_options.bodyBufferLimit)
                m_pipe->markBlocked();
        } else if (!m_sent) {
            m_body.append(data, size);
        }
    }
    void endBody() override
    {
        if (m_bodyEnded)
            return;
        m_bodyEnded = true;
        if (m_pipe) {
            m_pipe->end();
            if (m_sent)
                armTimer();
        }
        if (m_req.contentLength < 0)
            QMetaObject::invokeMethod(this, [this] { send(); }, Qt::QueuedConnection);
    }
    // Streamed bodies hold the client back above the limit; buffered (chunked) ones are read whole.
    qint64 bufferedBodyBytes() const override { return m_pipe ? m_pipe->buffered() : 0; }
    void setResponsePaused(bool paused) override
    {
        m_paused = paused;
        if (!paused)
            QMetaObject::invokeMethod(this, [this] { readBody(); }, Qt::QueuedConnection);
    }

protected:
    void timerEvent(QTimerEvent *ev) override
    {
        if (ev->timerId() != m_timer)
            return;
        killTimer(m_timer);
        m_timer = 0;
        fail(m_gotHead ? ForwardError::Reset : ForwardError::ResponseTimeout,
             QStringLiteral("no response head in time"));
    }

private:
    void send()
    {
        if (m_sent || m_done)
            return;
        if (m_index >= m_req.upstream.addresses.size()) {
            fail(m_lastError, m_lastDetail.isEmpty() ? QStringLiteral("no addresses to connect to") : m_lastDetail);
            return;
        }
        m_sent = true;
        const QHostAddress addr = m_req.upstream.addresses.at(m_index);
        QUrl url;
        url.setScheme(m_req.upstream.tls ? QStringLiteral("https") : QStringLiteral("http"));
        url.setHost(addr.toString());
        url.setPort(m_req.upstream.port);
        const QUrl rel = QUrl::fromEncoded(m_req.target, QUrl::TolerantMode);
        url.setPath(rel.path(QUrl::FullyEncoded), QUrl::TolerantMode);
        if (rel.hasQuery())
            url.setQuery(rel.query(QUrl::FullyEncoded), QUrl::TolerantMode);
        QNetworkRequest r(url);
        r.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
        r.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
        r.setAttribute(QNetworkRequest::CookieLoadControlAttribute, QNetworkRequest::Manual);
        r.setAttribute(QNetworkRequest::CookieSaveControlAttribute, QNetworkRequest::Manual);
        // There is no cache (setCache(nullptr)), so PreferNetwork always goes to the network; AlwaysNetwork would
        // add "Cache-Control: no-cache" and "Pragma: no-cache" to the client's headers, which are sent as they are.
        r.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::PreferNetwork);
        r.setAttribute(QNetworkRequest::CacheSaveControlAttribute, false);
        bool acceptEncoding = false;
        for (const auto &h : m_req.headers) {
            if (http::equalsIgnoreCase(h.first, "accept-encoding"))
                acceptEncoding = true;
            // QNAM joins repeated headers itself; keep the last writer semantics simple by joining here.
            const QByteArray prior = r.rawHeader(h.first);
            r.setRawHeader(h.first, prior.isEmpty() ? h.second : prior + ", " + h.second);
        }
        if (!acceptEncoding)
            r.setRawHeader("Accept-Encoding", "identity");
        if (m_req.upstream.tls) {
            QSslConfiguration conf = QSslConfiguration::defaultConfiguration();
            if (!m_req.upstream.tlsCaFile.isEmpty())
                conf.setCaCertificates(m_fwd->caCertificates(m_req.upstream.tlsCaFile));
            if (m_req.upstream.tlsInsecureSkipVerify)
                conf.setPeerVerifyMode(QSslSocket::VerifyNone);
            r.setSslConfiguration(conf);
            r.setPeerVerifyName(m_req.upstream.tlsName());
        }
        if (m_pipe) {
            r.setHeader(QNetworkRequest::ContentLengthHeader, m_req.contentLength);
            r.setAttribute(QNetworkRequest::DoNotBufferUploadDataAttribute, true);
        } else if (m_req.contentLength != 0 || m_req.method == "POST" || m_req.method == "PUT") {
            r.setHeader(QNetworkRequest::ContentLengthHeader, m_body.size());
        }
        ++m_fwd->m_requests;
        if (m_fwd->m_options.requestsCounter)
            m_fwd->m_options.requestsCounter->fetch_add(1, std::memory_order_relaxed);
        // QNAM treats custom verbs as having a response body: HEAD must go through head().
        if (m_req.method == "HEAD")
            m_reply = m_fwd->m_nam->head(r);
        else if (m_req.method == "GET" && m_body.isEmpty() && !m_pipe)
            m_reply = m_fwd->m_nam->get(r);
        else if (m_pipe)
            m_reply = m_fwd->m_nam->sendCustomRequest(r, m_req.method, m_pipe);
        else
            m_reply = m_fwd->m_nam->sendCustomRequest(r, m_req.method, m_body);
        m_reply->setReadBufferSize(m_fwd->m_options.bodyBufferLimit);
        connect(m_reply, &QNetworkReply::metaDataChanged, this, [this] { onHead(); });
        connect(m_reply, &QIODevice::readyRead, this, [this] { readBody(); });
        connect(m_reply, &QNetworkReply::finished, this, [this] { onFinished(); });
        if (!m_pipe || m_bodyEnded)
            armTimer();
    }

    /// The response-head deadline runs from the end of the request (plus the connect allowance, since QNAM
    /// does not say when it connected).
    void armTimer()
    {
        const qint64 t = m_req.responseTimeoutMs > 0 ? m_req.responseTimeoutMs + m_req.connectTimeoutMs : 0;
        if (t > 0 && !m_timer && !m_gotHead)
            m_timer = startTimer(std::chrono::milliseconds(t));
    }

    /// The reply's headers, one entry per field line again where QNAM joined them: it joins repeated fields with
    /// ", " (left as they are: a list means the same) except Set-Cookie, which it joins with "\n".
    static http::HeaderList replyHeaders(const QNetworkReply *reply)
    {
        http::HeaderList headers;
        for (const auto &h : reply->rawHeaderPairs()) {
            if (http::equalsIgnoreCase(h.first, "set-cookie") && h.second.contains('\n')) {
                for (const QByteArray &v : h.second.split('\n'))
                    headers.append({h.first, v});
            } else {
                headers.append(h);
            }
        }
        return headers;
    }

    /// False for responses that end with their head whatever their headers say (RFC 9112 section 6.3).
    bool mayHaveBody(int status) const
    {
        return m_req.method != "HEAD" && status >= 200 && status != 204 && status != 304;
    }

    void onHead()
    {
        if (m_gotHead || !m_reply)
            return;
        const QVariant status = m_reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
        if (!status.isValid())
            return;
        m_gotHead = true;
        if (m_timer) {
            killTimer(m_timer);
            m_timer = 0;
        }
        http::MessageHead head;
        head.status = status.toInt();
        head.reasonPhrase = m_reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toByteArray();
        head.headers = replyHeaders(m_reply);
        // Nothing of the response goes out before its framing and header bytes pass the native engine's rules:
        // QNAM frames by the first Content-Length and relays CR, NUL and other control bytes in values.
        http::ResponseCheck check = http::checkResponseHeaders(head.headers);
        if (const QByteArray statusReason = http::checkResponseStatus(head.status, head.reasonPhrase);
            !statusReason.isEmpty())
            check.reason = statusReason;
        // QNAM drops the whole header block when a line in it does not parse (a name that is not a token, a line
        // without a colon) and then reads the body until the connection closes. That looks like a response with
        // no fields at all, which a real origin sends only without a body.
        if (check.ok() && head.headers.isEmpty() && mayHaveBody(head.status))
            check.reason = QByteArrayLiteral("invalid_header_block");
        if (!check.ok()) {
            // Aborting the reply closes its connection only while QNAM is still reading the response; when QNAM
            // has read what it took for the whole response, the connection is already back in its pool.
            m_fwd->retireNam();
            fail(ForwardError::BadResponse, QStringLiteral("bad response: %1").arg(QLatin1String(check.reason)));
            return;
        }
        head.contentLength = check.contentLength;
        head.chunked = check.chunked;
        // No liveness checks after the calls into the sink: a sink never destroys its exchange inside one of its
        // callbacks (forwarder.h).
        m_sink->onUpstreamConnected(m_req.upstream.addresses.at(m_index), false);
        m_sink->onResponseHead(head);
        readBody();
    }

    void readBody()
    {
        if (!m_reply || !m_gotHead || m_paused)
            return;
        char buf[64 * 1024];
        while (m_reply && m_reply->bytesAvailable() > 0 && !m_paused) {
            const qint64 n = m_reply->read(buf, sizeof buf);
            if (n <= 0)
                break;
            m_sink->onResponseBody(buf, n);
        }
        if (m_reply && m_reply->isFinished() && m_reply->bytesAvailable() == 0 && m_finishedSeen)
            complete();
    }

    void onFinished()
    {
        if (!m_reply || m_done)
            return;
        m_finishedSeen = true;
        const auto err = m_reply->error();
        const bool httpError = err >= QNetworkReply::ContentAccessDenied && err <= QNetworkReply::UnknownServerError;
        if (!m_gotHead)
            onHead();
        if (m_done)
            return;
        if (err != QNetworkReply::NoError && !httpError) {
            if (!m_gotHead) {
                const QString detail = m_reply->errorString();
                ForwardError fe = ForwardError::Reset;
                bool connectFailure = false;
                switch (err) {
                case QNetworkReply::ConnectionRefusedError:
                case QNetworkReply::HostNotFoundError:
                    fe = ForwardError::ConnectRefused;
                    connectFailure = true;
                    break;
                case QNetworkReply::TimeoutError:
                    fe = ForwardError::ConnectTimeout;
                    connectFailure = true;
                    break;
                case QNetworkReply::SslHandshakeFailedError:
                    fe = ForwardError::TlsError;
                    break;
                default:
                    break;
                }
                if (connectFailure) {
                    ++m_fwd->m_connectFailures;
                    if (m_fwd->m_options.hostCache)
                        m_fwd->m_options.hostCache->reportConnectFailure(m_req.upstream.host, m_req.upstream.port,
                                                                        m_req.upstream.addresses.at(m_index));
                }
                if (connectFailure && !m_pipe) { // a streamed body cannot be replayed to the next address
                    m_lastError = fe;
                    m_lastDetail = detail;
                    dropReply();
                    ++m_index;
                    m_sent = false;
                    send();
                    return;
                }
                fail(fe, detail);
                return;
            }
            fail(ForwardError::Reset, m_reply->errorString());
            return;
        }
        readBody();
    }

    void complete()
    {
        if (m_done)
            return;
        m_done = true;
        dropReply();
        m_sink->onResponseComplete();
    }

    void fail(ForwardError e, const QString &detail)
    {
        if (m_done)
            return;
        m_done = true;
        dropReply();
        m_sink->onError(e, detail);
    }

    void dropReply()
    {
        if (m_timer) {
            killTimer(m_timer);
            m_timer = 0;
        }
        if (m_reply) {
            QNetworkReply *r = m_reply;
            m_reply = nullptr;
            QObject::disconnect(r, nullptr, this, nullptr);
            if (!r->isFinished())
                r->abort();
            r->deleteLater();
        }
    }

    QnamForwarder *m_fwd;
    ResponseSink *m_sink;
    ForwardRequest m_req;
    QByteArray m_body;
    BodyPipe *m_pipe = nullptr;
    QNetworkReply *m_reply = nullptr;
    qsizetype m_index = 0;
    ForwardError m_lastError = ForwardError::ConnectRefused;
    QString m_lastDetail;
    int m_timer = 0;
    bool m_sent = false;
    bool m_bodyEnded = false;
    bool m_gotHead = false;
    bool m_paused = false;
    bool m_finishedSeen = false;
    bool m_done = false;
};

QnamForwarder::QnamForwarder(ForwarderOptions options, QObject *parent)
    : QObject(parent)
    , m_options(options)
    , m_nam(makeNam())
{
}

QNetworkAccessManager *QnamForwarder::makeNam()
{
    auto *nam = new QNetworkAccessManager(this);
    nam->setCookieJar(nullptr);
    nam->setCache(nullptr);
    nam->setRedirectPolicy(QNetworkRequest::ManualRedirectPolicy);
    nam->setAutoDeleteReplies(false);
    return nam;
}

void QnamForwarder::retireNam()
{
    m_retired.append(m_nam);
    m_nam = makeNam();
    reapRetired();
}

void QnamForwarder::reapRetired()
{
    for (qsizetype i = 0; i < m_retired.size();) {
        QNetworkAccessManager *nam = m_retired.at(i);
        const QList<QNetworkReply *> replies = nam ? nam->findChildren<QNetworkReply *>(Qt::FindDirectChildrenOnly)
                                                   : QList<QNetworkReply *>();
        if (replies.isEmpty()) {
            // Later, not now: this may run inside a signal of the reply that just went.
            if (nam)
                nam->deleteLater();
            m_retired.removeAt(i);
            continue;
        }
        // Look again when they are gone (queued: a reply is still its NAM's child while `destroyed` runs).
        for (QNetworkReply *r : replies)
            connect(r, &QObject::destroyed, this, &QnamForwarder::reapRetired,
                    Qt::ConnectionType(Qt::QueuedConnection | Qt::UniqueConnection));
        ++i;
    }
}

QnamForwarder::~QnamForwarder() = default;

std::unique_ptr<Exchange> QnamForwarder::start(ForwardRequest &&request, ResponseSink *sink)
{
    return std::make_unique<QnamExchange>(this, std::move(request), sink);
}

QList<QSslCertificate> QnamForwarder::caCertificates(const QString &path)
{
    auto it = m_caCache.constFind(path);
    if (it != m_caCache.constEnd())
        return it.value();
    const QList<QSslCertificate> certs = QSslCertificate::fromPath(path, QSsl::Pem);
    m_caCache.insert(path, certs);
    return certs;
}

QJsonObject QnamForwarder::stats() const
{
    return QJsonObject{{QStringLiteral("requests"), qint64(m_requests)},
                       {QStringLiteral("connectFailures"), qint64(m_connectFailures)}};
}

} // namespace dfproxy::forward
