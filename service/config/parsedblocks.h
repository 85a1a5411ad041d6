// SPDX-License-Identifier: Apache-2.0
#pragma once
// The typed form of a config's global blocks, parsed once when a version is validated and carried with it.

#include <map>
#include <memory>
#include <typeindex>

namespace dfproxy::config {

/// Typed, validated views of the global blocks (`proxy`, `dns`, `logging`, `admin`) of one config version.
///
/// The structs belong to the areas that run them (proxy::ProxyOptions, dns::DnsHostCache::Options,
/// telemetry::AccessLogOptions ...), which sit above config, so config cannot name them: the service hands the
/// store their parsers (ConfigStore::setConfigValidator), the store runs them once per version it validates and
/// keeps the results here, and the areas read them back with get<T>(). The config layer's own proxy.ssrf
/// (SsrfSettings, for the policy engine) is kept here by the store as validateConfig parses it. Values are
/// immutable and shared between copies of a Config, so a resource write (which leaves the global blocks alone)
/// keeps them without parsing again.
class ParsedBlocks
{
public:
    template<class T>
    void set(T value)
    {
        m_values[std::type_index(typeid(T))] = std::make_shared<const T>(std::move(value));
    }
    /// The value set for T, null when none was (a config that no validator has seen).
    template<class T>
    const T *get() const
    {
        const auto it = m_values.find(std::type_index(typeid(T)));
        return it == m_values.end() ? nullptr : static_cast<const T *>(it->second.get());
    }
    bool isEmpty() const { return m_values.empty(); }

private:
    std::map<std::type_index, std::shared_ptr<const void>> m_values;
};

} // namespace dfproxy::config
