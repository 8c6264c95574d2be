// Classifying one attempt's replies (see delivery_outcome.hpp).
#include "relay/delivery_outcome.hpp"

namespace rp::relay {

int blame_severity(Verdict v) {
    switch (v) {
        case Verdict::ip_cooldown:
            return 4;
        case Verdict::account_disabled:
            return 3;
        case Verdict::account_exhausted:
            return 2;
        case Verdict::account_cooldown:
            return 1;
        default:
            return 0;
    }
}

bool is_bounce(Verdict v) {
    return v == Verdict::bounce_recipient || v == Verdict::bounce_message;
}

std::string describe(const protocol::UpstreamOutcome& o) {
    std::string s;
    if (o.code != 0) {
        s = std::to_string(o.code);
        if (!o.enhanced.empty()) s += " " + o.enhanced;
        s += " ";
    } else {
        s = std::string(protocol::to_string(o.stage)) + ": ";
    }
    return s + o.text;
}

std::vector<RecipientOutcome> match_results(const spool::QueuedMessage& m,
                                            const std::vector<std::size_t>& sent,
                                            const DeliveryReport& report, config::SenderRewrite rewrite) {
    std::vector<bool> used(report.recipients.size(), false);
    std::vector<RecipientOutcome> out;
    for (std::size_t index : sent) {
        const std::string& address = m.envelope.spec.recipients[index].address;
        RecipientOutcome r{index, {}, Verdict::defer_message};
        bool found = false;
        for (std::size_t k = 0; k < report.recipients.size() && !found; ++k) {
            if (used[k] || report.recipients[k].address != address) continue;
            used[k] = found = true;
            r.outcome = report.recipients[k].outcome;
        }
        const bool unconfirmed = found && report.session_failure &&
                                 protocol::classify(r.outcome) == Verdict::delivered &&
                                 r.outcome.stage != protocol::Stage::body;
        if (!found || unconfirmed) {
            if (report.session_failure) {
                r.outcome = *report.session_failure;
            } else {
                r.outcome = protocol::UpstreamOutcome{protocol::Stage::body, 0, "",
                                                      "transport reported no result for this recipient",
                                                      protocol::LocalFailure::protocol};
            }
        }
        r.verdict = verdict_for(r.outcome, rewrite, m.envelope.spec.mail_from);
        out.push_back(std::move(r));
    }
    return out;
}

std::optional<pool::Blame> blame_of(Verdict v) {
    switch (v) {
        case Verdict::account_cooldown:
            return pool::Blame::cool_down;
        case Verdict::account_disabled:
            return pool::Blame::disable;
        case Verdict::account_exhausted:
            return pool::Blame::exhaust;
        case Verdict::ip_cooldown:
            return pool::Blame::ip_cool_down;
        default:
            return std::nullopt;
    }
}

Tally tally(const std::vector<RecipientOutcome>& outcomes, spool::DeliveryState& state,
            const std::string& account) {
    Tally t;
    for (const auto& o : outcomes) {
        spool::RecipientState& rs = state.recipients[o.index];
        ++rs.attempts;
        rs.last_reply = describe(o.outcome);
        if (o.verdict == Verdict::delivered) {
            rs.status = spool::RecipientStatus::delivered;
            rs.account = account;
            ++t.delivered;
        } else if (is_bounce(o.verdict)) {
            t.bounced.push_back(BouncedRecipient{o.index, o.outcome, ""});
        } else if (blame_severity(o.verdict) > 0) {
            if (!t.blame || blame_severity(o.verdict) > blame_severity(t.blame->verdict)) t.blame = o;
        } else if (!t.deferral) {
            t.deferral = o;
        }
    }
    return t;
}

std::string summarize(const Tally& t, std::size_t sent) {
    std::string s = "sent " + std::to_string(sent) + ": delivered " + std::to_string(t.delivered) +
                    ", bounced " + std::to_string(t.bounced.size());
    const auto& why = t.blame ? t.blame : t.deferral;
    if (why) s += "; " + std::string(protocol::to_string(why->verdict)) + ": " + describe(why->outcome);
    return s;
}

Verdict verdict_for(const protocol::UpstreamOutcome& outcome, config::SenderRewrite rewrite,
                    const std::string& client_sender) {
    const Verdict v = protocol::classify(outcome);
    // The null sender is never rewritten (upstream_mail_from): a refused <>
    // says nothing about the account, and blaming it would disable every
    // account in turn as the message moved on to the next.
    const bool account_was_sender = rewrite != config::SenderRewrite::none && !client_sender.empty();
    const bool blames_rewritten_sender = account_was_sender && outcome.stage == protocol::Stage::mail &&
                                         outcome.code >= 500 && outcome.code < 600 && outcome.code != 552;
    if (blames_rewritten_sender && (v == Verdict::bounce_message || v == Verdict::bounce_recipient))
        return Verdict::account_disabled;
    return v;
}

}  // namespace rp::relay
