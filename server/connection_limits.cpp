// Connection admission counters (see connection_limits.hpp).
#include "server/connection_limits.hpp"

#include "server/client_source.hpp"

namespace rp::server {

ConnectionLimits::Slot::Slot(Slot&& other) noexcept
    : owner_(std::move(other.owner_)), address_(std::move(other.address_)) {
    other.owner_.reset();
}

ConnectionLimits::Slot& ConnectionLimits::Slot::operator=(Slot&& other) noexcept {
    if (this != &other) {
        reset();
        owner_ = std::move(other.owner_);
        address_ = std::move(other.address_);
        other.owner_.reset();
    }
    return *this;
}

void ConnectionLimits::Slot::reset() {
    if (owner_) owner_->release(address_);
    owner_.reset();
    address_.clear();
}

std::shared_ptr<ConnectionLimits> ConnectionLimits::create(Settings settings) {
    std::shared_ptr<ConnectionLimits> limits(new ConnectionLimits(settings));
    limits->self_ = limits;
    return limits;
}

ConnectionLimits::Slot ConnectionLimits::try_connection() {
    if (connections_ >= settings_.max_connections) return {};
    ++connections_;
    return Slot(self_.lock(), {});
}

namespace {

std::string key_for(const std::string& address, ConnectionLimits::Count count) {
    // The empty key would look like a total-count slot; no real address is empty.
    if (address.empty()) return "unknown";
    return count == ConnectionLimits::Count::per_client ? client_source(address) : address;
}

}  // namespace

ConnectionLimits::Slot ConnectionLimits::try_address(const std::string& given, Count how) {
    const std::string address = key_for(given, how);
    auto& count = per_address_[address];
    if (count >= settings_.max_connections_per_ip) {
        if (count == 0) per_address_.erase(address);
        return {};
    }
    ++count;
    return Slot(self_.lock(), address);
}

std::uint32_t ConnectionLimits::connections_from(const std::string& address, Count how) const {
    auto it = per_address_.find(key_for(address, how));
    return it == per_address_.end() ? 0 : it->second;
}

void ConnectionLimits::release(const std::string& address) {
    if (address.empty()) {
        if (connections_ > 0) --connections_;
        return;
    }
    auto it = per_address_.find(address);
    if (it == per_address_.end()) return;
    if (--it->second == 0) per_address_.erase(it);
}

}  // namespace rp::server
