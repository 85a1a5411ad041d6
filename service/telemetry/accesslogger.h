// SPDX-License-Identifier: Apache-2.0
#pragma once
// The access logger: logging.accessLog options, a bounded in-memory ring for the API, and the writer thread
// that formats entries to a rotating file or stdout without ever blocking a worker.

#include "base/boundedring.h"
#include "config/resource.h"
#include "telemetry/accesslogentry.h"
#include "telemetry/accesslogformat.h"

#include <QList>
#include <QObject>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace dfproxy::telemetry {

class RotatingFile;

/// The config's `logging.accessLog` block:
///   {"enabled": true, "format": "json|envoy|combined", "path": "...", "stdout": false,
///    "maxSizeBytes": 104857600, "maxFiles": 5, "queueCapacity": 65536, "recentRecords": 1000,
///    "flushIntervalMs": 2}
struct AccessLogOptions
{
    bool enabled = false;        ///< write to the outputs (the recent-records ring is always fed)
    AccessLogFormat format = AccessLogFormat::Json;
    QString path;                ///< file output; empty = none
    bool toStdout = false;       ///< also write each line to the process's stdout
    qint64 maxSizeBytes = 100 * 1024 * 1024; ///< rotate past this size (0 = never)
    int maxFiles = 5;            ///< rotated files kept (access.log.1 .. access.log.N)
    int queueCapacity = 65536;   ///< records waiting for the writer; more are dropped and counted
    int recentRecords = 1000;    ///< size of the ring served by the admin API
    /// The writer collects records for up to this long after the first one of a batch arrives, then writes them
    /// together (one wake-up and one write per batch instead of per request); 0 = write each at once. Short on
    /// purpose: a batch is a burst of formatting on a core the proxy shares, and 50 ms batches (~2,000 records
    /// under load) showed as a 2.8 ms p99 at 10 connections where 2 ms batches gave ~1-1.6 ms (docs/benchmarks.md).
    int flushIntervalMs = 2;

    /// Reads `logging` (the whole block; only its `accessLog` member is read). Errors name the field
    /// ("logging.accessLog.format"). Missing fields keep their defaults.
    static AccessLogOptions fromJson(const QJsonObject &loggingBlock, QList<config::FieldError> *errors,
                                     const QString &path = QStringLiteral("logging"));
    bool operator==(const AccessLogOptions &) const = default;
};

/// The access log: worker threads submit() records (a short mutex, no I/O, no formatting); one writer thread
/// formats and writes them to a size-rotated file and/or stdout and keeps the last N for the admin API.
/// When more than queueCapacity records wait, new ones are dropped and counted, so a slow disk never stalls
/// the proxy. Lives on the main thread; submit(), recent(), since() and stats() are callable from any thread.
class AccessLogger : public QObject
{
    Q_OBJECT
public:
    struct Stats
    {
        quint64 submitted = 0;   ///< accepted into the queue
        quint64 dropped = 0;     ///< refused because the queue was full
        quint64 written = 0;     ///< lines written to the outputs
        quint64 writeErrors = 0; ///< lines lost to I/O errors
        quint64 rotations = 0;
        QJsonObject toJson() const;
    };

    explicit AccessLogger(AccessLogOptions options = {}, QObject *parent = nullptr);
    /// Stops the writer thread after it wrote what was queued.
    ~AccessLogger() override;

    /// Starts the writer thread. Without it, records wait until processPending() is called (tests).
    void start();
    /// Writes what is queued and stops the writer thread.
    void stop();
    /// Changes outputs/format/limits (config reload). Thread-safe; the writer reopens the file if it changed.
    void setOptions(const AccessLogOptions &options);
    AccessLogOptions options() const;

    /// Queues a record (its seq is assigned here). Never blocks on I/O; drops when the queue is full.
    void submit(AccessLogEntry entry);
    /// Takes everything queued, writes it and feeds the ring; emits recorded() if anything was taken. Called by
    /// the writer thread; tests call it directly (without start()) to stay deterministic.
    void processPending();

    /// Called once for every record, on the writer thread as its batch is written (or on the submitting thread
    /// for a record dropped because the queue was full). Metrics are fed here, off the request path; readers
    /// that need them current call processPending() first. Thread-safe; pass {} to remove.
    using Observer = std::function<void(const AccessLogEntry &)>;
    void setObserver(Observer observer);

    /// The newest `limit` records, oldest first.
    QList<AccessLogEntry> recent(int limit) const;
    /// Records with seq > afterSeq still in the ring, oldest first, at most `limit`.
    QList<AccessLogEntry> since(quint64 afterSeq, int limit) const;
    /// The seq of the newest record written into the ring (0 = none yet).
    quint64 lastSeq() const;
    Stats stats() const;

Q_SIGNALS:
    /// New records reached the ring. Emitted from the writer thread: connect with a queued connection.
    void recorded();

private:
    void run();
    void writeBatch(std::vector<AccessLogEntry> &batch);

    mutable std::mutex m_queueMutex;  // m_queue, m_nextSeq, m_stop, m_options, counters below
    std::condition_variable m_wake;
    std::vector<AccessLogEntry> m_queue;
    /// The previous batch's storage, emptied: becomes the next queue, so submit() does not regrow (and move every
    /// waiting record) from nothing after each batch. Kept only up to kSpareKeep records of capacity.
    std::vector<AccessLogEntry> m_spare;
    static constexpr size_t kSpareKeep = 4096;
    quint64 m_nextSeq = 1;
    bool m_stop = false;
    bool m_dropping = false;          // the queue overflowed and no record was queued since (logs the transitions)
    AccessLogOptions m_options;
    Stats m_stats;

    mutable std::mutex m_ringMutex;   // m_ring, m_lastSeq
    BoundedRing<AccessLogEntry> m_ring;
    quint64 m_lastSeq = 0;

    std::mutex m_writeMutex;          // the outputs: writer thread and direct processPending() calls
    std::unique_ptr<RotatingFile> m_file;
    AccessLogOptions m_fileOptions;   // the options m_file was opened with
    std::shared_ptr<const Observer> m_observer; // set under m_writeMutex; read by submit() with std::atomic_load
    std::thread m_thread;
};

} // namespace dfproxy::telemetry
