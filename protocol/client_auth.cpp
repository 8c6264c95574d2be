// ClientSession, opening half: the greeting, EHLO, STARTTLS and the one AUTH
// attempt, up to `ready` (see client_session_impl.hpp).
// Invariants: with STARTTLS nothing but EHLO and STARTTLS goes out before
// TLS, and bytes that arrive after the 220 to STARTTLS fail the session;
// exactly one AUTH attempt with the configured mechanism (automatic: PLAIN
// when offered, else LOGIN); any AUTH failure fails the session.
#include "protocol/base64.hpp"
#include "protocol/client_session_impl.hpp"
#include "protocol/sasl_client.hpp"

namespace rp::protocol {

void ClientSession::Impl::on_greeting(const UpstreamReply& r) {
    if (r.code != 220) return fail_reply(Stage::greeting, r);
    send_ehlo();
}

void ClientSession::Impl::send_ehlo() {
    command("EHLO " + cfg.ehlo_hostname, ExpectKind::ehlo, Stage::ehlo, cfg.timeouts.command);
}

void ClientSession::Impl::on_ehlo(const UpstreamReply& r) {
    if (r.code != 250) return fail_reply(Stage::ehlo, r);
    caps = parse_ehlo(r);
    if (cfg.tls == ClientTls::starttls && !secure) {
        if (!caps.starttls)
            return fail(local_outcome(Stage::starttls, LocalFailure::tls_handshake,
                                      "upstream does not offer STARTTLS"),
                        true);
        return command("STARTTLS", ExpectKind::starttls, Stage::starttls, cfg.timeouts.command);
    }
    start_auth();
}

void ClientSession::Impl::on_starttls(const UpstreamReply& r) {
    if (r.code != 220) return fail_reply(Stage::starttls, r);
    // Anything after the 220 was sent before TLS: a man in the middle
    // injecting commands (CVE-2011-0411 style). Never act on it.
    if (parser.buffered() > 0)
        return fail(local_outcome(Stage::starttls, LocalFailure::protocol, "data after the STARTTLS reply"),
                    false);
    step = Step::need_tls;
}

std::optional<AuthMechanism> ClientSession::Impl::choose_mechanism(AuthMechanism configured) const {
    if (configured == AuthMechanism::automatic) {
        if (caps.offers_auth("PLAIN")) return AuthMechanism::plain;
        if (caps.offers_auth("LOGIN")) return AuthMechanism::login;
        return std::nullopt;
    }
    if (caps.offers_auth(to_string(configured))) return configured;
    return std::nullopt;
}

void ClientSession::Impl::start_auth() {
    if (!cfg.credentials) return go_idle();
    const auto& cred = *cfg.credentials;
    auto chosen = choose_mechanism(cred.mechanism);
    if (!chosen) {
        std::string offered;
        for (const auto& m : caps.auth) offered += (offered.empty() ? "" : " ") + m;
        return fail(local_outcome(Stage::auth, LocalFailure::protocol,
                                  "upstream does not offer AUTH " + std::string(to_string(cred.mechanism)) +
                                      " (offered: " + offered + ")"),
                    true);
    }
    mechanism = *chosen;
    switch (mechanism) {
        case AuthMechanism::plain:
            return command("AUTH PLAIN " + sasl_plain_response(cred.username, cred.secret), ExpectKind::auth,
                           Stage::auth, cfg.timeouts.command, true);
        case AuthMechanism::xoauth2:
            return command("AUTH XOAUTH2 " + sasl_xoauth2_response(cred.username, cred.secret),
                           ExpectKind::auth, Stage::auth, cfg.timeouts.command, true);
        default:
            return command("AUTH LOGIN", ExpectKind::auth, Stage::auth, cfg.timeouts.command);
    }
}

// The answer to the n-th 334 challenge; nullopt when the mechanism has
// nothing more to say (the session then fails: never a second attempt).
std::optional<std::string> ClientSession::Impl::auth_response(const UpstreamReply& r) {
    const auto& cred = *cfg.credentials;
    const int n = auth_challenges++;
    switch (mechanism) {
        case AuthMechanism::plain:  // server ignored the initial response
            if (n == 0) return sasl_plain_response(cred.username, cred.secret);
            return std::nullopt;
        case AuthMechanism::login:
            if (n == 0) return sasl_login_username(cred.username);
            if (n == 1) return sasl_login_password(cred.secret);
            return std::nullopt;
        case AuthMechanism::xoauth2:  // the 334 carries a JSON error; an empty line gets the 5xx
            if (n == 0) {
                xoauth2_error = base64_decode(r.text()).value_or(r.text());
                return std::string();
            }
            return std::nullopt;
        default:
            return std::nullopt;
    }
}

void ClientSession::Impl::on_auth(const UpstreamReply& r) {
    if (r.code == 334) {
        auto response = auth_response(r);
        if (!response)
            return fail(local_outcome(Stage::auth, LocalFailure::protocol, "unexpected AUTH challenge"),
                        true);
        return command(*response, ExpectKind::auth, Stage::auth, cfg.timeouts.command, true);
    }
    if (r.code != 235) {
        UpstreamOutcome o = session_outcome(Stage::auth, r);
        if (!xoauth2_error.empty()) o.text += " (xoauth2: " + xoauth2_error + ")";
        return fail(o, r.code != 421);
    }
    go_idle();
}

// Ready for a message: after AUTH, without credentials after EHLO, and
// after the RSET that ends every message.
void ClientSession::Impl::go_idle() {
    step = Step::idle;
    if (life < Life::ready) life = Life::ready;
}

}  // namespace rp::protocol
