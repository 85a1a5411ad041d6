// SPDX-License-Identifier: Apache-2.0
#include "telemetry/accesslogger.h"

#include "base/logcategories.h"
#include "platform/threadpriority.h"

#include "telemetry/rotatingfile.h"

#include <QJsonArray>
#include <QLoggingCategory>

#include <algorithm>
#include <chrono>
#include <utility>
#include <cstdio>

Q_LOGGING_CATEGORY(lcAccessLog, "dfproxy.accesslog", QtInfoMsg)

namespace dfproxy::telemetry {
namespace {

const QStringList kKnownFields = {"enabled", "format", "path", "stdout", "maxSizeBytes", "maxFiles",
                                  "queueCapacity", "recentRecords", "flushIntervalMs"};

// Reads an integer field within [min, max]; JSON numbers are doubles, so fractions are refused explicitly.
void readInt(const QJsonObject &o, const QString &key, qint64 min, qint64 max, const QString &path,
             QList<config::FieldError> *errors, const std::function<void(qint64)> &set)
{
    if (!o.contains(key))
        return;
    const QJsonValue v = o.value(key);
    const double d = v.toDouble();
    if (!v.isDouble() || d != static_cast<double>(static_cast<qint64>(d)) || d < double(min) || d > double(max)) {
        errors->append({path + '.' + key, QStringLiteral("must be an integer from %1 to %2").arg(min).arg(max)});
        return;
    }
    set(static_cast<qint64>(d));
}

void readBool(const QJsonObject &o, const QString &key, const QString &path, QList<config::FieldError> *errors,
              bool *out)
{
    if (!o.contains(key))
        return;
    if (!o.value(key).isBool()) {
        errors->append({path + '.' + key, QStringLiteral("must be true or false")});
        return;
    }
    *out = o.value(key).toBool();
}

} // namespace

AccessLogOptions AccessLogOptions::fromJson(const QJsonObject &loggingBlock, QList<config::FieldError> *errors,
                                            const QString &path)
{
    AccessLogOptions o;
    if (!loggingBlock.contains("accessLog"))
        return o;
    const QString p = path + QStringLiteral(".accessLog");
    if (!loggingBlock.value("accessLog").isObject()) {
        errors->append({p, QStringLiteral("must be an object")});
        return o;
    }
    const QJsonObject a = loggingBlock.value("accessLog").toObject();
    for (auto it = a.begin(); it != a.end(); ++it) {
        if (!kKnownFields.contains(it.key()))
            errors->append({p + '.' + it.key(),
                            QStringLiteral("unknown field (known: %1)").arg(kKnownFields.join(", "))});
    }
    readBool(a, "enabled", p, errors, &o.enabled);
    readBool(a, "stdout", p, errors, &o.toStdout);
    if (a.contains("format")) {
        const auto f = accessLogFormatFromString(a.value("format").toString());
        if (!a.value("format").isString() || !f)
            errors->append({p + ".format", QStringLiteral("must be one of json, envoy, combined")});
        else
            o.format = *f;
    }
    if (a.contains("path")) {
        if (!a.value("path").isString())
            errors->append({p + ".path", QStringLiteral("must be a file path (string)")});
        else
            o.path = a.value("path").toString();
    }
    readInt(a, "maxSizeBytes", 0, qint64(1) << 50, p, errors, [&](qint64 v) { o.maxSizeBytes = v; });
    readInt(a, "maxFiles", 0, 1000, p, errors, [&](qint64 v) { o.maxFiles = int(v); });
    readInt(a, "queueCapacity", 1, 10'000'000, p, errors, [&](qint64 v) { o.queueCapacity = int(v); });
    readInt(a, "recentRecords", 0, 100'000, p, errors, [&](qint64 v) { o.recentRecords = int(v); });
    readInt(a, "flushIntervalMs", 0, 10'000, p, errors, [&](qint64 v) { o.flushIntervalMs = int(v); });
    return o;
}

QJsonObject AccessLogger::Stats::toJson() const
{
    return QJsonObject{{"submitted", qint64(submitted)}, {"dropped", qint64(dropped)}, {"written", qint64(written)},
                       {"writeErrors", qint64(writeErrors)}, {"rotations", qint64(rotations)}};
}

AccessLogger::AccessLogger(AccessLogOptions options, QObject *parent) : QObject(parent), m_options(std::move(options))
{
}

AccessLogger::~AccessLogger()
{
    stop();
}

void AccessLogger::start()
{
    if (m_thread.joinable())
        return;
    {
        std::lock_guard lock(m_queueMutex);
        m_stop = false;
    }
    m_thread = std::thread([this] {
        // The writer only has to keep up on average: the proxy's threads (and, on a shared machine, its clients
        // and origins) go first when they wake.
        platform::lowerCurrentThreadPriority();
        run();
    });
}

void AccessLogger::stop()
{
    if (m_thread.joinable()) {
        {
            std::lock_guard lock(m_queueMutex);
            m_stop = true;
        }
        m_wake.notify_all();
        m_thread.join();
    }
    std::lock_guard lock(m_writeMutex);
    if (m_file)
        m_file->close();
}

void AccessLogger::setOptions(const AccessLogOptions &options)
{
    {
        std::lock_guard lock(m_queueMutex);
        m_options = options;
    }
    m_wake.notify_all();
}

AccessLogOptions AccessLogger::options() const
{
    std::lock_guard lock(m_queueMutex);
    return m_options;
}

void AccessLogger::setObserver(Observer observer)
{
    std::lock_guard lock(m_writeMutex);
    std::atomic_store(&m_observer, observer ? std::make_shared<const Observer>(std::move(observer))
                                            : std::shared_ptr<const Observer>());
}

void AccessLogger::submit(AccessLogEntry entry)
{
    {
        std::unique_lock lock(m_queueMutex);
        if (m_queue.size() >= static_cast<size_t>(m_options.queueCapacity)) {
            ++m_stats.dropped;
            // Once per overflow, not per record: a line per drop would slow the writer that is already behind.
            if (!std::exchange(m_dropping, true))
                qCDebug(lcTelemetry) << "access-log queue full (" << m_options.queueCapacity
                                     << "records): dropping records until the writer catches up";
            lock.unlock();
            // Not logged, but still counted by the observer (metrics).
            if (const auto observer = std::atomic_load(&m_observer))
                (*observer)(entry);
            return;
        }
        if (std::exchange(m_dropping, false))
            qCDebug(lcTelemetry) << "access-log queue has room again;" << m_stats.dropped << "records dropped so far";
        entry.seq = m_nextSeq++;
        ++m_stats.submitted;
        m_queue.push_back(std::move(entry));
        // Wake the writer only for the first record of a batch (it then collects for flushIntervalMs) or when
        // the queue is half full: not once per request.
        const size_t n = m_queue.size();
        if (n != 1 && n != static_cast<size_t>(m_options.queueCapacity) / 2 + 1)
            return;
    }
    m_wake.notify_one();
}

void AccessLogger::run()
{
    std::unique_lock lock(m_queueMutex);
    for (;;) {
        m_wake.wait(lock, [this] { return m_stop || !m_queue.empty(); });
        // Collect a batch: wait out the flush interval unless stopping or the queue is filling up.
        const auto interval = std::chrono::milliseconds(m_options.flushIntervalMs);
        if (interval.count() > 0 && !m_stop) {
            m_wake.wait_for(lock, interval, [this] {
                return m_stop || m_queue.size() > static_cast<size_t>(m_options.queueCapacity) / 2;
            });
        }
        const bool stopping = m_stop;
        lock.unlock();
        processPending();
        lock.lock();
        if (stopping && m_queue.empty())
            return;
    }
}

void AccessLogger::processPending()
{
    std::vector<AccessLogEntry> batch;
    {
        std::lock_guard lock(m_queueMutex);
        batch.swap(m_queue);
        m_queue.swap(m_spare);
    }
    const bool any = !batch.empty();
    if (any)
        writeBatch(batch);
    batch.clear();
    if (batch.capacity() <= kSpareKeep) {
        std::lock_guard lock(m_queueMutex);
        if (m_spare.capacity() < batch.capacity())
            m_spare.swap(batch);
    }
    if (any)
        Q_EMIT recorded();
}

void AccessLogger::writeBatch(std::vector<AccessLogEntry> &batch)
{
    std::lock_guard writeLock(m_writeMutex);
    const AccessLogOptions opts = options();
    quint64 written = 0, errors = 0, rotations = 0;
    if (m_observer) {
        for (const auto &e : batch)
            (*m_observer)(e);
    }

    if (opts.enabled) {
        if (!m_file || m_fileOptions.path != opts.path || m_fileOptions.maxSizeBytes != opts.maxSizeBytes
            || m_fileOptions.maxFiles != opts.maxFiles) {
            m_file.reset();
            if (!opts.path.isEmpty()) {
                m_file = std::make_unique<RotatingFile>(opts.path, opts.maxSizeBytes, opts.maxFiles);
                if (!m_file->open())
                    qCWarning(lcAccessLog).noquote() << m_file->errorString();
            }
            m_fileOptions = opts;
        }
        const quint64 rotationsBefore = m_file ? m_file->rotations() : 0;
        QByteArray out;
        QByteArray line; // one buffer for the batch: resize(0) keeps its capacity
        line.reserve(1024);
        for (const auto &e : batch) {
            line.resize(0);
            appendAccessLogLine(line, e, opts.format);
            bool ok = true;
            if (m_file && !m_file->write(line)) {
                ok = false;
                // Report once per batch: a full disk would otherwise flood the console.
                if (errors == 0)
                    qCWarning(lcAccessLog).noquote() << m_file->errorString();
            }
            if (opts.toStdout)
                out += line;
            ok ? ++written : ++errors;
        }
        if (m_file) {
            m_file->flush();
            rotations = m_file->rotations() - rotationsBefore;
        }
        if (!out.isEmpty()) {
            std::fwrite(out.constData(), 1, size_t(out.size()), stdout);
            std::fflush(stdout);
        }
    } else if (m_file) {
        m_file.reset();
        m_fileOptions = {};
    }
    {
        std::lock_guard lock(m_queueMutex);
        m_stats.written += written;
        m_stats.writeErrors += errors;
        m_stats.rotations += rotations;
    }
    std::lock_guard ringLock(m_ringMutex);
    const size_t cap = size_t(qMax(0, opts.recentRecords));
    m_ring.fit(cap); // a changed recentRecords applies before this batch (0: keep none)
    for (auto &e : batch) {
        m_lastSeq = e.seq;
        if (cap > 0)
            m_ring.push(std::move(e), cap);
    }
}

QList<AccessLogEntry> AccessLogger::recent(int limit) const
{
    std::lock_guard lock(m_ringMutex);
    QList<AccessLogEntry> out;
    const size_t n = std::min(m_ring.size(), size_t(qMax(0, limit)));
    out.reserve(qsizetype(n));
    for (size_t i = m_ring.size() - n; i < m_ring.size(); ++i)
        out.append(m_ring.at(i));
    return out;
}

QList<AccessLogEntry> AccessLogger::since(quint64 afterSeq, int limit) const
{
    std::lock_guard lock(m_ringMutex);
    QList<AccessLogEntry> out;
    // seq is strictly increasing along the ring: skip to the first newer one by binary search.
    size_t i = m_ring.partitionPoint([afterSeq](const AccessLogEntry &e) { return e.seq > afterSeq; });
    for (; i < m_ring.size() && out.size() < limit; ++i)
        out.append(m_ring.at(i));
    return out;
}

quint64 AccessLogger::lastSeq() const
{
    std::lock_guard lock(m_ringMutex);
    return m_lastSeq;
}

AccessLogger::Stats AccessLogger::stats() const
{
    std::lock_guard lock(m_queueMutex);
    return m_stats;
}

} // namespace dfproxy::telemetry
