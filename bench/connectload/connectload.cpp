// SPDX-License-Identifier: Apache-2.0
// connectload: a small load client for HTTPS through a forward proxy's CONNECT tunnels, which wrk and h2load
// cannot drive (neither speaks CONNECT). One blocking thread per connection, OpenSSL for TLS.
//
//   connectload --proxy 127.0.0.1:18485 --target svc1.bench.test:18443 --ca ca.pem --mode setup  -c 10 -d 5
//   connectload --proxy 127.0.0.1:18485 --target svc1.bench.test:18443 --ca ca.pem --mode tunnel -c 10 -d 5 --path /64k
//   connectload --target svc1.bench.test:18443 --connect-to 127.0.0.1 ...   # no proxy: straight to the origin
//
// --mode setup : every iteration opens a new TCP connection to the proxy, sends CONNECT, does a full TLS handshake
//                (no session resumption unless --resume) and one GET, then closes: the tunnel setup rate.
// --mode tunnel: every connection opens one tunnel and then sends GETs on it (keep-alive) until the time is up.
// Prints one line: "CONNECTLOAD mode=... conns=... requests=N errors=E rps=X p50_ms=... p99_ms=... max_ms=...",
// where a request is a complete response with the expected status 200 and every byte of its Content-Length.
// Latency is per tunnel (setup: CONNECT to the last byte of the response) or per request (tunnel).
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    std::string proxyHost;  // empty: no proxy (--connect-to)
    int proxyPort = 0;
    std::string targetHost;
    int targetPort = 443;
    std::string connectTo;  // the origin's address when there is no proxy
    std::string caFile;
    std::string path = "/small";
    std::string mode = "setup";
    int conns = 10;
    double seconds = 5;
    bool resume = false;
};

struct Result {
    long requests = 0;
    long errors = 0;
    std::vector<double> latenciesMs;
};

std::atomic<bool> g_stop{false};
std::mutex g_errorLock;
std::string g_firstError;

void noteError(const std::string &what)
{
    std::lock_guard<std::mutex> lock(g_errorLock);
    if (g_firstError.empty())
        g_firstError = what;
}

int dial(const std::string &host, int port)
{
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
        noteError("not an IPv4 address: " + host);
        return -1;
    }
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    // A stuck peer must not hang the run past its end: every read and write gives up after 10 s.
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        noteError(std::string("connect: ") + strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

bool sendAll(int fd, const std::string &data)
{
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        done += static_cast<size_t>(n);
    }
    return true;
}

// Reads the proxy's answer to CONNECT byte by byte: nothing after its blank line may be consumed, since the TLS
// handshake's first bytes follow on the same socket.
bool readConnectReply(int fd)
{
    std::string head;
    char c;
    while (head.size() < 8192) {
        if (recv(fd, &c, 1, 0) != 1)
            return false;
        head.push_back(c);
        if (head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0)
            break;
    }
    if (head.rfind("HTTP/1.1 200", 0) != 0 && head.rfind("HTTP/1.0 200", 0) != 0) {
        noteError("CONNECT answered: " + head.substr(0, head.find('\r')));
        return false;
    }
    return true;
}

// Reads one response with a Content-Length body; bytes after it stay in `buffer` for the next response.
bool readResponse(SSL *ssl, std::string &buffer)
{
    char chunk[65536];
    size_t headEnd;
    while ((headEnd = buffer.find("\r\n\r\n")) == std::string::npos) {
        const int n = SSL_read(ssl, chunk, sizeof chunk);
        if (n <= 0)
            return false;
        buffer.append(chunk, static_cast<size_t>(n));
    }
    if (buffer.rfind("HTTP/1.1 200", 0) != 0) {
        noteError("response: " + buffer.substr(0, buffer.find('\r')));
        return false;
    }
    std::string head = buffer.substr(0, headEnd);
    std::transform(head.begin(), head.end(), head.begin(), [](unsigned char ch) { return std::tolower(ch); });
    const size_t at = head.find("\r\ncontent-length:");
    if (at == std::string::npos) {
        noteError("response without content-length");
        return false;
    }
    const size_t length = std::strtoul(head.c_str() + at + 17, nullptr, 10);
    const size_t total = headEnd + 4 + length;
    while (buffer.size() < total) {
        const int n = SSL_read(ssl, chunk, sizeof chunk);
        if (n <= 0)
            return false;
        buffer.append(chunk, static_cast<size_t>(n));
    }
    buffer.erase(0, total);
    return true;
}

class Tunnel {
public:
    Tunnel(SSL_CTX *ctx, const Options &options, SSL_SESSION *session) : m_options(options)
    {
        const bool viaProxy = !options.proxyHost.empty();
        m_fd = viaProxy ? dial(options.proxyHost, options.proxyPort) : dial(options.connectTo, options.targetPort);
        if (m_fd < 0)
            return;
        if (viaProxy) {
            const std::string authority = options.targetHost + ":" + std::to_string(options.targetPort);
            if (!sendAll(m_fd, "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n")
                || !readConnectReply(m_fd))
                return;
        }
        m_ssl = SSL_new(ctx);
        SSL_set_fd(m_ssl, m_fd);
        SSL_set_tlsext_host_name(m_ssl, options.targetHost.c_str());
        SSL_set1_host(m_ssl, options.targetHost.c_str());
        if (session)
            SSL_set_session(m_ssl, session);
        if (SSL_connect(m_ssl) != 1) {
            char reason[256];
            ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
            noteError(std::string("TLS handshake: ") + reason);
            return;
        }
        m_ready = true;
    }
    ~Tunnel()
    {
        if (m_ssl)
            SSL_free(m_ssl);
        if (m_fd >= 0)
            close(m_fd);
    }
    Tunnel(const Tunnel &) = delete;
    Tunnel &operator=(const Tunnel &) = delete;

    bool ready() const { return m_ready; }
    SSL *ssl() const { return m_ssl; }

    bool get(bool keepAlive)
    {
        const std::string request = "GET " + m_options.path + " HTTP/1.1\r\nHost: " + m_options.targetHost + ":"
            + std::to_string(m_options.targetPort) + (keepAlive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
        if (SSL_write(m_ssl, request.data(), static_cast<int>(request.size())) <= 0)
            return false;
        return readResponse(m_ssl, m_buffer);
    }

private:
    const Options &m_options;
    int m_fd = -1;
    SSL *m_ssl = nullptr;
    bool m_ready = false;
    std::string m_buffer;
};

double msSince(Clock::time_point start)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void runSetup(SSL_CTX *ctx, const Options &options, Result &result)
{
    SSL_SESSION *session = nullptr;
    while (!g_stop.load(std::memory_order_relaxed)) {
        const auto start = Clock::now();
        Tunnel tunnel(ctx, options, session);
        if (tunnel.ready() && tunnel.get(false)) {
            result.requests++;
            result.latenciesMs.push_back(msSince(start));
            if (options.resume && !session)
                session = SSL_get1_session(tunnel.ssl());
        } else if (!g_stop.load()) {
            result.errors++;
        }
    }
    if (session)
        SSL_SESSION_free(session);
}

void runTunnel(SSL_CTX *ctx, const Options &options, Result &result)
{
    while (!g_stop.load(std::memory_order_relaxed)) {
        Tunnel tunnel(ctx, options, nullptr);
        if (!tunnel.ready()) {
            result.errors++;
            continue;
        }
        while (!g_stop.load(std::memory_order_relaxed)) {
            const auto start = Clock::now();
            if (!tunnel.get(true)) {
                if (!g_stop.load())
                    result.errors++;
                break;  // a new tunnel
            }
            result.requests++;
            result.latenciesMs.push_back(msSince(start));
        }
    }
}

bool splitHostPort(const std::string &value, std::string &host, int &port)
{
    const size_t colon = value.rfind(':');
    if (colon == std::string::npos)
        return false;
    host = value.substr(0, colon);
    port = std::atoi(value.c_str() + colon + 1);
    return port > 0 && port < 65536;
}

int usage()
{
    std::fprintf(stderr,
                 "usage: connectload (--proxy IP:PORT | --connect-to IP) --target NAME:PORT --ca CA.pem\n"
                 "                   [--mode setup|tunnel] [--path /small] [-c CONNS] [-d SECONDS] [--resume]\n");
    return 2;
}

}  // namespace

int main(int argc, char **argv)
{
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool hasValue = i + 1 < argc;
        if (arg == "--proxy" && hasValue) {
            if (!splitHostPort(argv[++i], options.proxyHost, options.proxyPort))
                return usage();
        } else if (arg == "--target" && hasValue) {
            if (!splitHostPort(argv[++i], options.targetHost, options.targetPort))
                return usage();
        } else if (arg == "--connect-to" && hasValue) {
            options.connectTo = argv[++i];
        } else if (arg == "--ca" && hasValue) {
            options.caFile = argv[++i];
        } else if (arg == "--path" && hasValue) {
            options.path = argv[++i];
        } else if (arg == "--mode" && hasValue) {
            options.mode = argv[++i];
        } else if (arg == "-c" && hasValue) {
            options.conns = std::atoi(argv[++i]);
        } else if (arg == "-d" && hasValue) {
            options.seconds = std::atof(argv[++i]);
        } else if (arg == "--resume") {
            options.resume = true;
        } else {
            return usage();
        }
    }
    if (options.targetHost.empty() || options.caFile.empty() || options.conns < 1 || options.seconds <= 0
        || (options.mode != "setup" && options.mode != "tunnel")
        || (options.proxyHost.empty() == options.connectTo.empty()))
        return usage();

    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx, options.caFile.c_str(), nullptr) != 1) {
        std::fprintf(stderr, "connectload: cannot read CA file %s\n", options.caFile.c_str());
        return 2;
    }
    // Without --resume every handshake is a full one: the client must not hand back a ticket.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

    std::vector<Result> results(static_cast<size_t>(options.conns));
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    for (int i = 0; i < options.conns; ++i) {
        threads.emplace_back([&, i] {
            Result &result = results[static_cast<size_t>(i)];
            if (options.mode == "setup")
                runSetup(ctx, options, result);
            else
                runTunnel(ctx, options, result);
        });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(options.seconds));
    g_stop = true;
    const double elapsed = msSince(start) / 1000;
    // Threads blocked in a read finish it (or time out) before joining; only completed requests count.
    for (auto &thread : threads)
        thread.join();

    Result total;
    for (auto &result : results) {
        total.requests += result.requests;
        total.errors += result.errors;
        total.latenciesMs.insert(total.latenciesMs.end(), result.latenciesMs.begin(), result.latenciesMs.end());
    }
    std::sort(total.latenciesMs.begin(), total.latenciesMs.end());
    auto percentile = [&](double p) {
        if (total.latenciesMs.empty())
            return 0.0;
        const size_t at = std::min(total.latenciesMs.size() - 1, static_cast<size_t>(p * total.latenciesMs.size()));
        return total.latenciesMs[at];
    };
    std::printf("CONNECTLOAD mode=%s conns=%d seconds=%.2f requests=%ld errors=%ld rps=%.1f p50_ms=%.3f p99_ms=%.3f "
                "max_ms=%.3f\n",
                options.mode.c_str(), options.conns, elapsed, total.requests, total.errors,
                static_cast<double>(total.requests) / elapsed, percentile(0.50), percentile(0.99),
                total.latenciesMs.empty() ? 0.0 : total.latenciesMs.back());
    if (!g_firstError.empty())
        std::fprintf(stderr, "connectload: first error: %s\n", g_firstError.c_str());
    SSL_CTX_free(ctx);
    return total.requests > 0 ? 0 : 1;
}
