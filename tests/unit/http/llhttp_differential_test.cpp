// SPDX-License-Identifier: Apache-2.0
// HttpParser against llhttp (Node's parser, built in strict mode from Debian's node-llhttp sources;
// tests/CMakeLists.txt): both must accept or both refuse every request below. The table holds the classic cases of
// HTTP/1.1 parser test suites (browser and tool requests, chunked bodies, extensions, trailers, upgrades, the smuggling
// favourites), written here as our own cases. Where the two disagree on purpose, the case names the Difference and why.
#include "http/httpparser.h"

#include <gtest/gtest.h>

#ifdef DFPROXY_HAVE_LLHTTP
#include <llhttp.h>
#endif

using namespace dfproxy::http;

namespace {

enum class Verdict { Accept, Reject };

/// Why the two parsers are expected to differ on a case; None: they must agree.
enum class Difference {
    None,
    TokenMethod,      ///< llhttp has a fixed method table; RFC 9110 9.1 allows any token (QUERY, FOO, get ...)
    Host,             ///< HTTP/1.1 without Host (RFC 9112 3.2: 400) is the proxy's rule; llhttp leaves it to the server
    Http10Te,         ///< RFC 9112 6.1: Transfer-Encoding on HTTP/1.0 is faulty framing; llhttp honours it
    ExtensionBws,     ///< RFC 9112 7.1.1 chunk-ext allows BWS around ';' and '='; llhttp strict does not
    ExtensionSyntax,  ///< llhttp 8.1 strict refuses an extension after a valued one and quoted-pairs; RFC 9112 has both
    ExtensionNoName,  ///< "1;=v": chunk-ext-name is a token (RFC 9112 7.1.1); llhttp skips it
    ContentLengthOws, ///< a trailing HTAB is OWS around the value (RFC 9110 5.5); llhttp takes only SP
    ObsFold,          ///< RFC 9112 5.2: a server may reject obs-fold with 400, which dfproxy does; llhttp unfolds it
    EmptyFieldName,   ///< ": a": field-name is a token, 1*tchar (RFC 9110 5.1); llhttp accepts an empty one
    RequestLineSpace, ///< RFC 9112 3: single SPs; llhttp skips extra ones (another parser may read another target)
    Http09,           ///< "GET /" without a version (HTTP/0.9) is gone from RFC 9112; llhttp still takes it
};

struct Case
{
    const char *name;
    QByteArray request;
    Verdict ours; ///< what HttpParser must say
    Difference difference = Difference::None;
};

// Every case is complete: an accepted one ends with its last message.
const QList<Case> kCases = {
    // --- everyday requests ---
    {"curl_get",
     "GET /test HTTP/1.1\r\nUser-Agent: curl/7.18.0 (i486-pc-linux-gnu) libcurl/7.18.0\r\n"
     "Host: 0.0.0.0=5000\r\nAccept: */*\r\n\r\n",
     Verdict::Accept},
    {"firefox_get",
     "GET /favicon.ico HTTP/1.1\r\nHost: 0.0.0.0=5000\r\nUser-Agent: Mozilla/5.0 (X11; U; Linux i686; "
     "en-US; rv:1.9) Gecko/2008061015 Firefox/3.0\r\nAccept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\n"
     "Accept-Language: en-us,en;q=0.5\r\nAccept-Encoding: gzip,deflate\r\n"
     "Accept-Charset: ISO-8859-1,utf-8;q=0.7,*;q=0.7\r\nKeep-Alive: 300\r\nConnection: keep-alive\r\n\r\n",
     Verdict::Accept},
    {"odd_header_name_and_value", "GET /odd HTTP/1.1\r\nHost: h\r\naaaaaaaaaaaaa:++++++++++\r\n\r\n", Verdict::Accept},
    {"fragment_in_target", "GET /forums/1/topics/2375?page=1#posts-17408 HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Accept},
    {"no_headers_http10", "GET /get_no_headers_no_body/world HTTP/1.0\r\n\r\n", Verdict::Accept},
    {"one_header", "GET /get_one_header_no_body HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n", Verdict::Accept},
    {"funky_content_length_zero", "GET /get_funky_content_length_body_hello HTTP/1.0\r\nconTENT-Length: 5\r\n\r\nHELLO",
     Verdict::Accept},
    {"post_body",
     "POST /post_identity_body_world?q=search#hey HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n"
     "Content-Length: 5\r\n\r\nWorld",
     Verdict::Accept},
    {"query_with_question_marks", "GET /test.cgi?foo=bar?baz HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Accept},
    {"leading_crlf", "\r\nGET /test HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Accept},
    {"absolute_form", "GET http://a%12:b!&*$@hypnotoad.org:1234/toto HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Accept},
    {"absolute_form_ipv6", "GET http://[::1]:8080/x HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Accept},
    {"asterisk_form", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Accept},
    {"connect",
     "CONNECT 0-home0.netscape.com:443 HTTP/1.0\r\nUser-agent: Mozilla/1.1N\r\n"
     "Proxy-authorization: basic aGVsbG86d29ybGQ=\r\n\r\n",
     Verdict::Accept},
    {"connect_ip", "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n", Verdict::Accept},
    {"websocket_upgrade",
     "GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nSec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n"
     "Sec-WebSocket-Protocol: sample\r\nUpgrade: WebSocket\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n"
     "Origin: http://example.com\r\n\r\n",
     Verdict::Accept},
    {"keep_alive_pipelined", "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Accept},
    {"utf8_value", "GET / HTTP/1.1\r\nHost: h\r\nX-Name: J\xc3\xb6rg\r\n\r\n", Verdict::Accept},
    {"empty_value", "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n", Verdict::Accept},
    {"ows_around_value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: \t a b \t\r\n\r\n", Verdict::Accept},
    {"content_length_ows", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \t3\t \r\n\r\nabc", Verdict::Accept,
     Difference::ContentLengthOws},
    // --- methods ---
    {"method_report", "REPORT /test HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Accept},
    {"method_msearch",
     "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nST: \"ssdp:all\"\r\n\r\n",
     Verdict::Accept},
    {"method_patch", "PATCH /file.txt HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 3\r\n\r\nabc",
     Verdict::Accept},
    {"method_purge", "PURGE /file.txt HTTP/1.1\r\nHost: www.example.com\r\n\r\n", Verdict::Accept},
    {"method_search", "SEARCH / HTTP/1.1\r\nHost: www.example.com\r\n\r\n", Verdict::Accept},
    {"method_link",
     "LINK /images/my_dog.jpg HTTP/1.1\r\nHost: example.com\r\nLink: <http://example.com/profiles/joe>; "
     "rel=\"tag\"\r\n\r\n",
     Verdict::Accept},
    {"method_propfind", "PROPFIND /dav HTTP/1.1\r\nHost: h\r\nDepth: 1\r\nContent-Length: 0\r\n\r\n", Verdict::Accept},
    {"method_mkcalendar", "MKCALENDAR /cal HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Accept},
    {"method_query", "QUERY /q HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx", Verdict::Accept,
     Difference::TokenMethod},
    {"method_foo", "FOO / HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Accept, Difference::TokenMethod},
    {"method_lowercase", "get / HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Accept, Difference::TokenMethod},
    {"method_not_token", "GE(T / HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Reject},
    // --- chunked bodies ---
    {"chunked",
     "POST /post_chunked_all_your_base HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
     "1e\r\nall your base are belong to us\r\n0\r\n\r\n",
     Verdict::Accept},
    {"chunked_two_chunks",
     "POST /two_chunks_mult_zero_end HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5\r\nhello\r\n6\r\n world\r\n000\r\n\r\n",
     Verdict::Accept},
    {"chunked_trailers",
     "POST /chunked_w_trailing_headers HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5\r\nhello\r\n6\r\n world\r\n0\r\nVary: *\r\nContent-Type: text/plain\r\n\r\n",
     Verdict::Accept},
    {"chunked_extensions",
     "POST /chunked_w_unicorns HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5;ilovew3;somuchlove=aretheseparametersfor;another=withvalue\r\nhello\r\n"
     "6;blahblah;blah\r\n world\r\n0\r\n\r\n",
     Verdict::Accept, Difference::ExtensionSyntax},
    {"chunked_quoted_extension",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5;a=\"x;y\\\"z\"\r\nhello\r\n0\r\n\r\n",
     Verdict::Accept, Difference::ExtensionSyntax},
    {"chunked_upper_hex",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", Verdict::Accept},
    {"chunked_after_gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
     Verdict::Accept},
    {"chunked_extension_bws",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 ; a = b\r\nhello\r\n0\r\n\r\n", Verdict::Accept,
     Difference::ExtensionBws},
    // --- refused: framing that can desync ---
    {"cl_and_te", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     Verdict::Reject},
    {"two_content_lengths", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
     Verdict::Reject},
    {"content_length_list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\nab", Verdict::Reject},
    {"content_length_sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\na", Verdict::Reject},
    {"content_length_space_inside", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\nab", Verdict::Reject},
    {"te_not_chunked_last", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
     Verdict::Reject},
    {"te_unknown", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", Verdict::Reject},
    {"te_chunked_twice_one_header",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", Verdict::Reject},
    {"te_chunked_two_headers",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
     "0\r\n\r\n",
     Verdict::Reject},
    {"te_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Verdict::Reject,
     Difference::Http10Te},
    {"chunk_size_not_hex", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
     Verdict::Reject},
    {"chunk_size_overflow",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
     "FFFFFFFFFFFFFFFFF\r\nab\r\n0\r\n\r\n",
     Verdict::Reject},
    {"chunk_size_negative", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nab\r\n0\r\n\r\n",
     Verdict::Reject},
    {"chunk_data_too_long", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n",
     Verdict::Reject},
    {"chunk_extension_no_name",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;=v\r\na\r\n0\r\n\r\n", Verdict::Reject,
     Difference::ExtensionNoName},
    {"chunk_extension_unterminated_quote",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
     "1;a=\"v\r\na\r\n0\r\n\r\n",
     Verdict::Reject},
    {"chunk_extension_ctl",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;a=\x01\r\na\r\n0\r\n\r\n", Verdict::Reject},
    {"chunk_lf_in_extension",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;a\nb\r\na\r\n0\r\n\r\n", Verdict::Reject},
    {"chunk_bare_lf", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\na\r\n0\r\n\r\n",
     Verdict::Reject},
    {"chunk_data_bare_lf", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\n0\r\n\r\n",
     Verdict::Reject},
    // --- refused: head grammar ---
    {"bare_lf_head", "GET / HTTP/1.1\nHost: h\n\n", Verdict::Reject},
    {"bare_lf_one_line", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", Verdict::Reject},
    {"bare_cr", "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", Verdict::Reject},
    {"obs_fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", Verdict::Reject, Difference::ObsFold},
    {"space_before_colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A : a\r\n\r\n", Verdict::Reject},
    {"space_in_name", "GET / HTTP/1.1\r\nHost: h\r\nX A: a\r\n\r\n", Verdict::Reject},
    {"empty_name", "GET / HTTP/1.1\r\nHost: h\r\n: a\r\n\r\n", Verdict::Reject, Difference::EmptyFieldName},
    {"no_colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A\r\n\r\n", Verdict::Reject},
    {"nul_in_value", QByteArray("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n", 35), Verdict::Reject},
    {"ctl_in_value",
     "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01"
     "b\r\n\r\n",
     Verdict::Reject},
    {"ctl_in_target",
     "GET /a\x01"
     "b HTTP/1.1\r\nHost: h\r\n\r\n",
     Verdict::Reject},
    {"tab_in_target", "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Reject},
    {"non_ascii_target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Reject},
    {"space_in_target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Reject},
    {"double_space", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Reject, Difference::RequestLineSpace},
    {"no_version", "GET /\r\n\r\n", Verdict::Reject, Difference::Http09},
    {"bad_version", "GET / HTTP/1.x\r\nHost: h\r\n\r\n", Verdict::Reject},
    {"version_1_2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", Verdict::Reject},
    {"lowercase_version", "GET / http/1.1\r\nHost: h\r\n\r\n", Verdict::Reject},
    {"missing_host", "GET / HTTP/1.1\r\n\r\n", Verdict::Reject, Difference::Host},
    {"relative_target", "GET foo HTTP/1.1\r\nHost: h\r\n\r\n", Verdict::Reject},
};

#ifdef DFPROXY_HAVE_LLHTTP
/// llhttp's verdict: the whole input parsed without an error, at least one message completed.
Verdict llhttpVerdict(const QByteArray &in)
{
    llhttp_settings_t settings;
    llhttp_settings_init(&settings);
    int completes = 0;
    settings.on_message_complete = [](llhttp_t *p) {
        ++*static_cast<int *>(p->data);
        return 0;
    };
    llhttp_t parser;
    llhttp_init(&parser, HTTP_REQUEST, &settings);
    parser.data = &completes;
    const llhttp_errno_t err = llhttp_execute(&parser, in.constData(), size_t(in.size()));
    if (err == HPE_PAUSED_UPGRADE)
        return Verdict::Accept; // CONNECT / Upgrade: the rest is another protocol's
    return err == HPE_OK && completes > 0 ? Verdict::Accept : Verdict::Reject;
}
#endif

/// HttpParser's verdict on the same terms.
Verdict ourVerdict(const QByteArray &in, QByteArray *reason)
{
    HttpParser p(HttpParser::Kind::Request);
    qsizetype pos = 0;
    int completes = 0;
    for (int guard = 0; guard < 64 && pos < in.size(); ++guard) {
        HttpParser::Stop stop;
        pos += p.feed(in.constData() + pos, in.size() - pos, &stop);
        if (stop == HttpParser::Stop::Error) {
            *reason = p.error().reason;
            return Verdict::Reject;
        }
        if (stop == HttpParser::Stop::Complete)
            ++completes;
        if (stop == HttpParser::Stop::Complete && p.head().upgrade)
            return Verdict::Accept;
    }
    return completes > 0 && !p.inMessage() ? Verdict::Accept : Verdict::Reject;
}

TEST(HttpParserDifferential, TableCasesGiveTheExpectedVerdict)
{
    for (const Case &c : kCases) {
        QByteArray reason;
        EXPECT_EQ(ourVerdict(c.request, &reason), c.ours) << c.name << " " << reason.constData();
    }
}

TEST(HttpParserDifferential, AgreesWithLlhttpExceptWhereListed)
{
#ifndef DFPROXY_HAVE_LLHTTP
    GTEST_SKIP() << "llhttp is not installed (Debian package node-llhttp; scripts/test installs it)";
#else
    for (const Case &c : kCases) {
        const Verdict theirs = llhttpVerdict(c.request);
        if (c.difference == Difference::None)
            EXPECT_EQ(theirs, c.ours) << c.name << ": llhttp disagrees";
        else
            EXPECT_NE(theirs, c.ours) << c.name << ": listed as a difference, but llhttp agrees (remove the entry)";
    }
#endif
}

} // namespace
