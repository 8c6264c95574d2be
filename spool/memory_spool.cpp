// MemorySpool: the in-memory twin (see memory_spool.hpp). Keeps the same
// rules as FileSpool where a test could notice: ids increase, a message
// exists only after done(ok), a failed state write keeps the old state,
// history is trimmed to max_history, bad recipient counts are refused.
#include "spool/memory_spool.hpp"

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <mutex>

#include "spool/spool_format.hpp"

namespace rp::spool {

struct MemoryMessage {
    QueuedMessage message;
    std::string body;
    bool interrupted = false;
};

struct MemorySpool::Impl {
    mutable std::mutex mu;
    std::map<std::string, MemoryMessage> messages;
    std::function<void(const MessageSummary&)> listener;
    std::uint64_t next_id = 0;
    bool refuse_begin = false;
    std::uint64_t append_budget = std::numeric_limits<std::uint64_t>::max();
    std::size_t fail_commits = 0;
    std::error_code commit_error;
    std::error_code state_error;
    bool hold = false;
    std::deque<std::function<void()>> held;
    std::vector<std::pair<std::string, std::string>> quarantined;
    SpoolStats stats;

    static MessageSummary summarize(const MemoryMessage& m) {
        MessageSummary s;
        s.id = m.message.id;
        s.arrival = m.message.envelope.arrival;
        s.state = m.message.state.state;
        s.interrupted = m.interrupted;
        s.attempts = m.message.state.attempts;
        s.next_attempt = m.message.state.next_attempt;
        s.body_size = m.message.body_size;
        s.recipients_total = static_cast<std::uint32_t>(m.message.state.recipients.size());
        for (const auto& r : m.message.state.recipients)
            if (r.status == RecipientStatus::pending) ++s.recipients_pending;
        return s;
    }

    // Completes one commit: the message exists from here on (unless failed).
    void finish_commit(MemoryMessage m, const std::function<void(std::error_code, std::string)>& done) {
        std::function<void(const MessageSummary&)> l;
        std::error_code ec;
        MessageSummary summary;
        {
            std::lock_guard lock(mu);
            if (fail_commits > 0) {
                --fail_commits;
                ec = commit_error;
                ++stats.commit_errors;
            } else {
                m.message.id = format::id_from_number(++next_id);
                summary = summarize(m);
                messages.emplace(m.message.id, std::move(m));
                ++stats.committed;
                ++stats.commit_batches;
                l = listener;
            }
        }
        if (ec) return done(ec, {});
        if (l) l(summary);
        done({}, summary.id);
    }

    std::error_code write_state(const std::string& id, DeliveryState state) {
        std::lock_guard lock(mu);
        auto it = messages.find(id);
        if (it == messages.end()) return make_error_code(SpoolErrc::not_found);
        if (state.recipients.size() != it->second.message.envelope.spec.recipients.size())
            return make_error_code(SpoolErrc::bad_state);
        if (state_error) {
            ++stats.state_write_errors;
            return state_error;
        }
        auto& h = state.history;
        if (h.size() > DeliveryState::max_history)
            h.erase(h.begin(), h.end() - static_cast<std::ptrdiff_t>(DeliveryState::max_history));
        it->second.message.state = std::move(state);
        it->second.interrupted = false;
        ++stats.state_writes;
        return {};
    }
};

namespace {

class MemoryWriter final : public SpoolWriter {
  public:
    MemoryWriter(MemorySpool::Impl& spool, const EnvelopeSpec& env) : spool_(spool) {
        m_.message.envelope = StoredEnvelope{env, std::chrono::system_clock::now()};
        m_.message.state = DeliveryState::fresh(env.recipients.size());
    }
    bool append(std::string_view bytes) override {
        if (done_ || failed_) return false;
        {
            std::lock_guard lock(spool_.mu);
            if (spool_.append_budget < bytes.size()) {
                spool_.append_budget = 0;
                failed_ = true;
                return false;
            }
            if (spool_.append_budget != std::numeric_limits<std::uint64_t>::max())
                spool_.append_budget -= bytes.size();
        }
        m_.body.append(bytes);
        return true;
    }
    std::uint64_t size() const override { return m_.body.size(); }
    void commit(std::function<void(std::error_code, std::string)> done) override {
        if (done_ || failed_) {
            done_ = true;
            return done(
                make_error_code(failed_ ? std::errc::no_space_on_device : std::errc::operation_not_permitted),
                {});
        }
        done_ = true;
        m_.message.body_size = m_.body.size();
        auto* spool = &spool_;
        auto task = [spool, m = std::move(m_), done = std::move(done)]() mutable {
            spool->finish_commit(std::move(m), done);
        };
        {
            std::lock_guard lock(spool_.mu);
            if (spool_.hold) {
                spool_.held.push_back(std::move(task));
                return;
            }
        }
        task();
    }
    void abort() override { done_ = true; }

  private:
    MemorySpool::Impl& spool_;
    MemoryMessage m_;
    bool done_ = false;
    bool failed_ = false;
};

}  // namespace

MemorySpool::MemorySpool() : impl_(std::make_unique<Impl>()) {}
MemorySpool::~MemorySpool() = default;

std::unique_ptr<SpoolWriter> MemorySpool::begin(const EnvelopeSpec& envelope) {
    {
        std::lock_guard lock(impl_->mu);
        if (impl_->refuse_begin) return nullptr;
    }
    return std::make_unique<MemoryWriter>(*impl_, envelope);
}

SpoolResult<RecoveryReport> MemorySpool::recover() {
    std::lock_guard lock(impl_->mu);
    RecoveryReport r;
    for (auto& [id, m] : impl_->messages) {
        if (m.message.state.state == MessageState::active) {
            m.interrupted = true;
            m.message.state.state = MessageState::ready;
            ++r.interrupted;
        }
        r.messages.push_back(Impl::summarize(m));
    }
    return {{}, std::move(r)};
}

std::vector<std::string> MemorySpool::list() const {
    std::lock_guard lock(impl_->mu);
    std::vector<std::string> ids;
    for (const auto& [id, m] : impl_->messages) ids.push_back(id);
    return ids;
}

SpoolResult<MessageSummary> MemorySpool::summary(const std::string& id) const {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->messages.find(id);
    if (it == impl_->messages.end()) return {make_error_code(SpoolErrc::not_found), {}};
    return {{}, Impl::summarize(it->second)};
}

SpoolResult<QueuedMessage> MemorySpool::load(const std::string& id) {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->messages.find(id);
    if (it == impl_->messages.end()) return {make_error_code(SpoolErrc::not_found), {}};
    return {{}, it->second.message};
}

std::error_code MemorySpool::update_state(const std::string& id, const DeliveryState& state) {
    return impl_->write_state(id, state);
}

void MemorySpool::update_state_async(const std::string& id, DeliveryState state,
                                     std::function<void(std::error_code)> done) {
    auto ec = impl_->write_state(id, std::move(state));
    if (done) done(ec);
}

std::error_code MemorySpool::remove(const std::string& id) {
    std::lock_guard lock(impl_->mu);
    if (impl_->messages.erase(id) == 0) return make_error_code(SpoolErrc::not_found);
    ++impl_->stats.removed;
    return {};
}

std::error_code MemorySpool::quarantine(const std::string& id, std::string_view reason) {
    std::lock_guard lock(impl_->mu);
    if (impl_->messages.erase(id) == 0) return make_error_code(SpoolErrc::not_found);
    impl_->quarantined.emplace_back(id, std::string(reason));
    ++impl_->stats.quarantined;
    return {};
}

SpoolResult<BodyRef> MemorySpool::open_body(const std::string& id) {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->messages.find(id);
    if (it == impl_->messages.end()) return {make_error_code(SpoolErrc::not_found), {}};
    return {{}, BodyRef{"", 0, it->second.message.body_size}};
}

SpoolResult<std::string> MemorySpool::read_body(const std::string& id, std::uint64_t max_bytes) {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->messages.find(id);
    if (it == impl_->messages.end()) return {make_error_code(SpoolErrc::not_found), {}};
    return {{}, it->second.body.substr(0, static_cast<std::size_t>(max_bytes))};
}

void MemorySpool::set_commit_listener(std::function<void(const MessageSummary&)> listener) {
    std::lock_guard lock(impl_->mu);
    impl_->listener = std::move(listener);
}

SpoolStats MemorySpool::stats() const {
    std::lock_guard lock(impl_->mu);
    SpoolStats s = impl_->stats;
    s.queued = impl_->messages.size();
    return s;
}

void MemorySpool::refuse_begin(bool refuse) {
    std::lock_guard lock(impl_->mu);
    impl_->refuse_begin = refuse;
}

void MemorySpool::fail_appends_after(std::uint64_t bytes) {
    std::lock_guard lock(impl_->mu);
    impl_->append_budget = bytes;
}

void MemorySpool::fail_commits(std::size_t n, std::error_code error) {
    std::lock_guard lock(impl_->mu);
    impl_->fail_commits = n;
    impl_->commit_error = error;
}

void MemorySpool::fail_state_writes(std::error_code error) {
    std::lock_guard lock(impl_->mu);
    impl_->state_error = error;
}

void MemorySpool::hold_commits(bool hold) {
    std::lock_guard lock(impl_->mu);
    impl_->hold = hold;
}

std::size_t MemorySpool::held_commits() const {
    std::lock_guard lock(impl_->mu);
    return impl_->held.size();
}

void MemorySpool::release_commits() {
    std::deque<std::function<void()>> tasks;
    {
        std::lock_guard lock(impl_->mu);
        tasks.swap(impl_->held);
    }
    for (auto& t : tasks) t();
}

std::vector<std::pair<std::string, std::string>> MemorySpool::quarantined() const {
    std::lock_guard lock(impl_->mu);
    return impl_->quarantined;
}

}  // namespace rp::spool
