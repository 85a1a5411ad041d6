// SPDX-License-Identifier: Apache-2.0
#pragma once
// A Resolver whose queries complete only when the test says so.

#include "dns/resolver.h"

#include <QList>

#include <memory>

namespace dfproxy::dns::fakes {

class FakeResolver final : public Resolver
{
public:
    struct Query
    {
        QString name;
        RecordType type = RecordType::A;
        Callback callback;
        bool cancelled = false;
        bool done = false;
    };

    std::unique_ptr<ResolverQuery> query(const QString &name, RecordType type, Callback callback) override
    {
        auto q = std::make_shared<Query>();
        q->name = name;
        q->type = type;
        q->callback = std::move(callback);
        m_queries.append(q);
        return std::make_unique<Handle>(q);
    }

    /// Queries ever started for name/type.
    int count(const QString &name, RecordType type) const
    {
        int n = 0;
        for (const auto &q : m_queries)
            n += (q->name == name && q->type == type) ? 1 : 0;
        return n;
    }
    int total() const { return int(m_queries.size()); }
    /// Queries neither answered nor cancelled.
    int inFlight() const
    {
        int n = 0;
        for (const auto &q : m_queries)
            n += (!q->done && !q->cancelled) ? 1 : 0;
        return n;
    }
    bool hasInFlight(const QString &name, RecordType type) const { return find(name, type) != nullptr; }

    /// Completes the oldest in-flight query for name/type. False if there is none.
    bool reply(const QString &name, RecordType type, const ResolverReply &r)
    {
        auto q = find(name, type);
        if (!q)
            return false;
        q->done = true;
        auto cb = q->callback;
        cb(r);
        return true;
    }
    bool answer(const QString &name, RecordType type, const QList<QHostAddress> &addrs, quint32 ttl = 60)
    {
        ResolverReply r;
        r.addresses = addrs;
        r.ttlSeconds = ttl;
        return reply(name, type, r);
    }
    bool fail(const QString &name, RecordType type, DnsError e)
    {
        ResolverReply r;
        r.error = e;
        r.detail = QStringLiteral("fake failure");
        return reply(name, type, r);
    }

private:
    class Handle final : public ResolverQuery
    {
    public:
        explicit Handle(std::shared_ptr<Query> q) : m_q(std::move(q)) {}
        ~Handle() override
        {
            if (!m_q->done)
                m_q->cancelled = true;
        }

    private:
        std::shared_ptr<Query> m_q;
    };

    std::shared_ptr<Query> find(const QString &name, RecordType type) const
    {
        for (const auto &q : m_queries) {
            if (q->name == name && q->type == type && !q->done && !q->cancelled)
                return q;
        }
        return nullptr;
    }

    QList<std::shared_ptr<Query>> m_queries;
};

} // namespace dfproxy::dns::fakes
