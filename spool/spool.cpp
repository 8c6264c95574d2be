// Small shared pieces of the spool API (spool.hpp): the error category, the
// state names (also the words written in state files, so never rename them)
// and the fresh state.
#include "spool/spool.hpp"

namespace rp::spool {
namespace {

class SpoolCategory final : public std::error_category {
  public:
    const char* name() const noexcept override { return "spool"; }
    std::string message(int ev) const override {
        switch (static_cast<SpoolErrc>(ev)) {
            case SpoolErrc::not_found:
                return "no such message in the queue";
            case SpoolErrc::corrupt:
                return "spool file failed its integrity check";
            case SpoolErrc::closed:
                return "spool is shutting down";
            case SpoolErrc::bad_state:
                return "delivery state does not fit the message";
            case SpoolErrc::injected_failure:
                return "injected failure (test)";
        }
        return "unknown spool error";
    }
};

}  // namespace

const std::error_category& spool_category() {
    static const SpoolCategory category;
    return category;
}

std::error_code make_error_code(SpoolErrc e) {
    return {static_cast<int>(e), spool_category()};
}

std::string_view to_string(MessageState s) {
    switch (s) {
        case MessageState::ready:
            return "ready";
        case MessageState::active:
            return "active";
        case MessageState::deferred:
            return "deferred";
    }
    return "ready";
}

std::string_view to_string(RecipientStatus s) {
    switch (s) {
        case RecipientStatus::pending:
            return "pending";
        case RecipientStatus::delivered:
            return "delivered";
        case RecipientStatus::bounced:
            return "bounced";
    }
    return "pending";
}

DeliveryState DeliveryState::fresh(std::size_t n_recipients) {
    DeliveryState s;
    s.recipients.resize(n_recipients);
    return s;
}

}  // namespace rp::spool
