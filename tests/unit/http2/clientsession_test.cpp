// SPDX-License-Identifier: Apache-2.0
// The nghttp2 client session wrapper against dfproxy's own server session, in memory (no sockets): a request with a
// body and trailers reaches the server whole, the response's head, body and trailers reach the client, interim
// responses are dropped, the stream limit the server sets is honoured, and a refused stream reports
// REFUSED_STREAM.
#include "http2/clientsession.h"
#include "http2/serversession.h"

#include <nghttp2/nghttp2.h>

#include <QByteArray>
#include <QHash>

#include <gtest/gtest.h>

using namespace dfproxy::http2;

namespace {

struct Client final : ClientSessionHandler
{
    int status = 0;
    HeaderList head, trailers;
    QByteArray body;
    bool ended = false;
    quint32 closedWith = 0xffffffff;
    qint32 goawayLast = -1;
    QByteArray requestBody;
    HeaderList requestTrailerFields;
    ClientSession *session = nullptr;

    void onResponseHead(qint32, int s, const HeaderList &h, bool) override
    {
        status = s;
        head = h;
    }
    void onResponseData(qint32 id, const char *d, qsizetype n) override
    {
        body.append(d, n);
        session->consume(id, n);
    }
    void onResponseTrailers(qint32, const HeaderList &t) override { trailers = t; }
    void onResponseEnd(qint32) override { ended = true; }
    void onStreamClosed(qint32, quint32 code) override { closedWith = code; }
    void onGoaway(qint32 last, quint32) override { goawayLast = last; }
    qsizetype readRequestBody(qint32, char *out, qsizetype max, bool *eof) override
    {
        const qsizetype n = std::min(max, requestBody.size());
        memcpy(out, requestBody.constData(), size_t(n));
        requestBody.remove(0, n);
        *eof = requestBody.isEmpty();
        return n;
    }
    HeaderList requestTrailers(qint32) override { return requestTrailerFields; }
};

struct Server final : ServerSessionHandler
{
    HeaderList pseudo, headers, trailers;
    QByteArray body;
    bool ended = false;
    qint32 stream = 0;
    int requests = 0;
    QByteArray responseBody;
    HeaderList responseTrailerFields;
    ServerSession *session = nullptr;

    void onRequestHead(qint32 id, const HeaderList &p, const HeaderList &h, bool) override
    {
        stream = id;
        pseudo = p;
        headers = h;
        ++requests;
    }
    void onRequestData(qint32 id, const char *d, qsizetype n) override
    {
        body.append(d, n);
        session->consume(id, n);
    }
    void onRequestTrailers(qint32, const HeaderList &t) override { trailers = t; }
    void onRequestEnd(qint32) override { ended = true; }
    void onRequestRefused(qint32, int, const QByteArray &) override {}
    void onStreamClosed(qint32, quint32) override {}
    void onViolation(Violation) override {}
    qsizetype readResponseBody(qint32, char *out, qsizetype max, bool *eof) override
    {
        const qsizetype n = std::min(max, responseBody.size());
        memcpy(out, responseBody.constData(), size_t(n));
        responseBody.remove(0, n);
        *eof = responseBody.isEmpty();
        return n;
    }
    HeaderList responseTrailers(qint32) override { return responseTrailerFields; }
};

/// Moves bytes both ways until neither side has anything to send.
void pump(ClientSession &c, ServerSession &s)
{
    for (int i = 0; i < 100; ++i) {
        QByteArray toServer, toClient;
        c.send(toServer, 1 << 20);
        if (!toServer.isEmpty())
            s.receive(toServer);
        s.send(toClient, 1 << 20);
        if (!toClient.isEmpty())
            c.receive(toClient.constData(), toClient.size());
        if (toServer.isEmpty() && toClient.isEmpty())
            return;
    }
}

const HeaderList kGet{{":method", "POST"}, {":scheme", "http"}, {":authority", "a.test"}, {":path", "/x"}};

class ClientSessionTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        client.session = &cs;
        server.session = &ss;
    }
    Client client;
    Server server;
    ServerLimits limits;
    ClientSession cs{&client};
    ServerSession ss{&server, limits};
};

TEST_F(ClientSessionTest, RequestAndResponseWithBodiesAndTrailers)
{
    client.requestBody = "request-body";
    client.requestTrailerFields = {{"x-req", "1"}};
    const qint32 id = cs.submitRequest(kGet, {{"te", "trailers"}}, true);
    ASSERT_GT(id, 0);
    pump(cs, ss);
    EXPECT_EQ(server.body, "request-body");
    EXPECT_TRUE(server.ended);
    EXPECT_EQ(server.trailers, (HeaderList{{"x-req", "1"}}));
    EXPECT_EQ(server.headers, (HeaderList{{"te", "trailers"}}));

    server.responseBody = "payload";
    server.responseTrailerFields = {{"grpc-status", "0"}, {"grpc-message", "fine"}};
    ss.submitResponse(server.stream, 200, {{"content-type", "application/grpc"}}, true);
    pump(cs, ss);
    EXPECT_EQ(client.status, 200);
    EXPECT_EQ(client.head, (HeaderList{{"content-type", "application/grpc"}}));
    EXPECT_EQ(client.body, "payload");
    EXPECT_EQ(client.trailers, (HeaderList{{"grpc-status", "0"}, {"grpc-message", "fine"}}));
    EXPECT_TRUE(client.ended);
    EXPECT_EQ(client.closedWith, 0u);
    EXPECT_EQ(cs.openStreams(), 0);
}

TEST_F(ClientSessionTest, TheServersStreamLimitIsHonoured)
{
    limits.maxConcurrentStreams = 1;
    ServerSession limited(&server, limits);
    server.session = &limited;
    pump(cs, limited); // the server's SETTINGS arrive
    EXPECT_TRUE(cs.canOpenStream());
    ASSERT_GT(cs.submitRequest(kGet, {}, false), 0);
    EXPECT_FALSE(cs.canOpenStream());
    EXPECT_EQ(cs.submitRequest(kGet, {}, false), -1);
}

TEST_F(ClientSessionTest, ARefusedStreamSaysSo)
{
    const qint32 id = cs.submitRequest(kGet, {}, false);
    pump(cs, ss);
    ss.resetStream(id, NGHTTP2_REFUSED_STREAM);
    pump(cs, ss);
    EXPECT_EQ(client.closedWith, quint32(NGHTTP2_REFUSED_STREAM));
    EXPECT_EQ(client.status, 0);
}

TEST_F(ClientSessionTest, GoawayStopsNewStreams)
{
    cs.submitRequest(kGet, {}, false);
    pump(cs, ss);
    ss.shutdown();
    pump(cs, ss);
    EXPECT_EQ(client.goawayLast, 1);
    EXPECT_FALSE(cs.canOpenStream());
}

} // namespace
