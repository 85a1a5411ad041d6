// SPDX-License-Identifier: Apache-2.0
#include "forward/qnamforwarder.h"

#include "dns/hostcache.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QPointer>
#include <QSslConfiguration>
#include <QTimerEvent>
#include <QUrl>

namespace dfproxy::forward {

class QnamExchange final : public QObject, public Exchange
{
public:
    QnamExchange(QnamForwarder *fwd, ForwardRequest &&req, ResponseSink *sink)
        : m_fwd(fwd)
        , m_sink(sink)
        , m_req(std::move(req))
    {
        if (m_req.contentLength == 0)
            QMetaObject::invokeMethod(this, [this] { send(); }, Qt::QueuedConnection);
    }
    ~QnamExchange() override { dropReply(); }

    void writeBody(const char *data, qsizetype size) override
    {
        if (!m_sent)
            m_body.append(data, size);
    }
    void endBody() override
    {
        if (m_bodyEnded)
            return;
        m_bodyEnded = true;
        if (m_req.contentLength != 0)
            QMetaObject::invokeMethod(this, [this] { send(); }, Qt::QueuedConnection);
    }
    // The body is buffered whole (QNAM needs it up front), so it never holds the client back.
    qint64 bufferedBodyBytes() const override { return 0; }
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
        r.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysNetwork);
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
                conf.setCaCertificates(QSslCertificate::fromPath(m_req.upstream.tlsCaFile));
            if (m_req.upstream.tlsInsecureSkipVerify)
                conf.setPeerVerifyMode(QSslSocket::VerifyNone);
            r.setSslConfiguration(conf);
            r.setPeerVerifyName(m_req.upstream.sni.isEmpty() ? m_req.upstream.host : m_req.upstream.sni);
        }
        if (m_req.contentLength != 0 || m_req.method == "POST" || m_req.method == "PUT")
            r.setHeader(QNetworkRequest::ContentLengthHeader, m_body.size());
        ++m_fwd->m_requests;
        if (m_fwd->m_options.requestsCounter)
            m_fwd->m_options.requestsCounter->fetch_add(1, std::memory_order_relaxed);
        // QNAM treats custom verbs as having a response body: HEAD must go through head().
        if (m_req.method == "HEAD")
            m_reply = m_fwd->m_nam->head(r);
        else if (m_req.method == "GET" && m_body.isEmpty())
            m_reply = m_fwd->m_nam->get(r);
        else
            m_reply = m_fwd->m_nam->sendCustomRequest(r, m_req.method, m_body);
        m_reply->setReadBufferSize(m_fwd->m_options.bodyBufferLimit);
        connect(m_reply, &QNetworkReply::metaDataChanged, this, [this] { onHead(); });
        connect(m_reply, &QIODevice::readyRead, this, [this] { readBody(); });
        connect(m_reply, &QNetworkReply::finished, this, [this] { onFinished(); });
        const qint64 t = m_req.responseTimeoutMs > 0 ? m_req.responseTimeoutMs + m_req.connectTimeoutMs : 0;
        if (t > 0)
            m_timer = startTimer(std::chrono::milliseconds(t));
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
        bool chunked = false;
        for (const auto &h : m_reply->rawHeaderPairs()) {
            if (http::equalsIgnoreCase(h.first, "transfer-encoding"))
                chunked = true;
            else if (http::equalsIgnoreCase(h.first, "content-length"))
                head.contentLength = h.second.trimmed().toLongLong();
            head.headers.append(h);
        }
        if (chunked)
            head.contentLength = -1;
        head.chunked = chunked;
        QPointer<QnamExchange> guard(this);
        m_sink->onUpstreamConnected(m_req.upstream.addresses.at(m_index), false);
        if (!guard)
            return;
        m_sink->onResponseHead(head);
        if (!guard)
            return;
        readBody();
    }

    void readBody()
    {
        if (!m_reply || !m_gotHead || m_paused)
            return;
        QPointer<QnamExchange> guard(this);
        char buf[64 * 1024];
        while (m_reply && m_reply->bytesAvailable() > 0 && !m_paused) {
            const qint64 n = m_reply->read(buf, sizeof buf);
            if (n <= 0)
                break;
            m_sink->onResponseBody(buf, n);
            if (!guard)
                return;
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
    , m_nam(new QNetworkAccessManager(this))
{
    m_nam->setCookieJar(nullptr);
    m_nam->setCache(nullptr);
    m_nam->setRedirectPolicy(QNetworkRequest::ManualRedirectPolicy);
    m_nam->setAutoDeleteReplies(false);
}

QnamForwarder::~QnamForwarder() = default;

std::unique_ptr<Exchange> QnamForwarder::start(ForwardRequest &&request, ResponseSink *sink)
{
    return std::make_unique<QnamExchange>(this, std::move(request), sink);
}

QJsonObject QnamForwarder::stats() const
{
    return QJsonObject{{QStringLiteral("requests"), qint64(m_requests)},
                       {QStringLiteral("connectFailures"), qint64(m_connectFailures)}};
}

} // namespace dfproxy::forward
