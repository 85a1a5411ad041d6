// SPDX-License-Identifier: Apache-2.0
#pragma once
// The fuzz targets' entry functions. Each one takes arbitrary bytes, drives one input surface of dfproxy with them
// and aborts (via a sanitizer or fuzzCheck) when it finds a bug. They are compiled twice: into the libFuzzer
// binaries of the `fuzz` preset (tests/fuzz/fuzzmain.cpp) and into the plain gtest `fuzz_replay`, which replays
// every file of tests/fuzz/corpus/<target>/ in the normal build, so found crashes stay fixed.
// Not thread-safe; call from one thread with a QCoreApplication alive.

#include <QByteArray>
#include <QList>

#include <cstddef>
#include <cstdint>

namespace dfproxy::fuzz {

/// HTTP/1.x request parsing and framing (http::HttpParser, Kind::Request): whole-buffer and split feeds must
/// frame the same messages.
int fuzzHttpRequest(const uint8_t *data, size_t size);
/// HTTP/1.x response parsing and framing; the first byte picks "answer to HEAD" and the split size.
int fuzzHttpResponse(const uint8_t *data, size_t size);
/// routing::RouteTable::match on a fixed config; the input gives method, path, query, host and headers.
int fuzzRouteMatch(const uint8_t *data, size_t size);
/// config::parseYamlDocuments, then Config::fromJson + validateConfig + RouteTable::build on what it gave.
int fuzzConfig(const uint8_t *data, size_t size);
/// admin::decodeObjectsBody (content type from the first byte) then ConfigStore::apply on a temp file.
int fuzzAdminApply(const uint8_t *data, size_t size);

/// dns::wire::isReplyTo + parseReply on a datagram answering "www.example.test" (the first byte picks A or AAAA;
/// the id is taken from the datagram).
int fuzzDnsReply(const uint8_t *data, size_t size);
/// http2::ServerSession fed the bytes a client sends after the preface (the first byte picks the piece size), with
/// a handler that answers each complete request: frames never over the peer's MAX_FRAME_SIZE, never more open
/// streams than the advertised MAX_CONCURRENT_STREAMS, stream ids new and odd (tests/fuzz/http2frames.cpp).
int fuzzHttp2Frames(const uint8_t *data, size_t size);
/// http2::ClientSession with two requests open, fed the bytes an origin sends (the first byte picks the piece size):
/// callbacks only for its own streams and in HTTP's order, frames written whole (tests/fuzz/http2client.cpp).
int fuzzHttp2Client(const uint8_t *data, size_t size);

/// One target by its corpus folder name ("http_request", ...).
struct Target
{
    const char *name;
    int (*run)(const uint8_t *data, size_t size);
};
/// All targets, in a fixed order.
const QList<Target> &targets();

} // namespace dfproxy::fuzz
