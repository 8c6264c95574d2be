// Connection admission: limits.max_connections (every accepted TCP
// connection, counted at accept) and limits.max_connections_per_ip (counted by
// the client's source: its IPv4 address or IPv6 /64, server/client_source.hpp;
// on a PROXY listener the TCP peer address holds a slot while the header is
// read, then the address from the header replaces it).
//
// Slots are RAII: a Slot releases its count when destroyed. Not thread-safe:
// owned and used on the one event-loop thread. Limits can be changed at any
// time (SIGHUP); connections already admitted are never dropped by a lower
// limit, they only stop new ones. Used by server/ only (and its tests).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

namespace rp::server {

class ConnectionLimits {
  public:
    struct Settings {
        std::uint32_t max_connections = 2000;
        std::uint32_t max_connections_per_ip = 50;
    };

    // Holds one count (total or per address) until destroyed or reset().
    class Slot {
      public:
        Slot() = default;
        Slot(Slot&& other) noexcept;
        Slot& operator=(Slot&& other) noexcept;
        Slot(const Slot&) = delete;
        Slot& operator=(const Slot&) = delete;
        ~Slot() { reset(); }
        explicit operator bool() const { return owner_ != nullptr; }
        void reset();

      private:
        friend class ConnectionLimits;
        Slot(std::shared_ptr<ConnectionLimits> owner, std::string address)
            : owner_(std::move(owner)), address_(std::move(address)) {}
        std::shared_ptr<ConnectionLimits> owner_;
        std::string address_;  // empty for a total-count slot
    };

    static std::shared_ptr<ConnectionLimits> create(Settings settings);

    void update(Settings settings) { settings_ = settings; }
    const Settings& settings() const { return settings_; }

    // How an address is counted: as the client it stands for (an IPv6 /64
    // is one subscriber), or on its own for the operator's hosts (a load
    // balancer in proxy_protocol_from, a host in trusted_networks), which
    // may share one /64 with their neighbours (a cloud subnet is a /64).
    enum class Count { per_client, per_address };

    // An empty Slot when the limit is reached.
    Slot try_connection();
    Slot try_address(const std::string& address, Count count = Count::per_client);

    std::uint32_t connections() const { return connections_; }
    std::uint32_t connections_from(const std::string& address, Count count = Count::per_client) const;

  private:
    explicit ConnectionLimits(Settings settings) : settings_(settings) {}
    void release(const std::string& address);

    Settings settings_;
    std::uint32_t connections_ = 0;
    std::unordered_map<std::string, std::uint32_t> per_address_;
    std::weak_ptr<ConnectionLimits> self_;
};

}  // namespace rp::server
