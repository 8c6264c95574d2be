"""A Google-like OAuth 2.0 token endpoint for XOAUTH2 tests (service
accounts with domain-wide delegation).

POST /token with grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and
assertion=<JWT>: the JWT is checked the way Google checks it -- RS256
signature with the service account's public key, iss = the service account's
client_email, aud = this token_uri, scope includes https://mail.google.com/,
exp - iat <= 3600, iat not in the future beyond a small skew, exp not past,
sub (the mailbox) present. Then, when the mailbox is delegated, it answers
{"access_token": "ya29.fake-...", "expires_in": lifetime, "token_type":
"Bearer"} and tells the fake Gmail (FakeUpstream) which tokens it issued.
Refusals use Google's JSON error bodies (unauthorized_client, invalid_grant,
invalid_scope); `status_override` makes it answer 503 for a while, and
down()/up() stop and restart listening (connection refused).

HTTPS with the test PKI, on 127.0.0.1. Thread-safe counters for assertions.
"""

import base64
import json
import secrets
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAIL_SCOPE = "https://mail.google.com/"
UNAUTHORIZED_CLIENT = ("unauthorized_client",
                       "Client is unauthorized to retrieve access tokens using this method, or client not "
                       "authorized for any of the scopes requested.")


def _b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class ServiceAccount:
    """A service account key pair and its JSON key file."""

    def __init__(self, email="relaypool@agency-relay.iam.gserviceaccount.com", client_id="104224573817234567890"):
        self.email, self.client_id = email, client_id
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = secrets.token_hex(20)

    def private_pem(self) -> str:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()

    def write(self, path: str, token_uri: str) -> str:
        doc = {"type": "service_account", "project_id": "agency-relay", "private_key_id": self.key_id,
               "private_key": self.private_pem(), "client_email": self.email, "client_id": self.client_id,
               "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri,
               "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
               "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/x",
               "universe_domain": "googleapis.com"}
        with open(path, "w") as f:
            json.dump(doc, f)
        return path


class FakeTokenEndpoint:
    """upstream: a FakeUpstream whose XOAUTH2 check this endpoint answers."""

    def __init__(self, pki, service_account: ServiceAccount, upstream=None, lifetime: int = 3600,
                 delegated=None):
        self.pki, self.sa, self.upstream, self.lifetime = pki, service_account, upstream, lifetime
        self.delegated = set(delegated) if delegated is not None else None  # None: every mailbox
        self.denied: dict = {}  # sub -> (error, description, status)
        self.status_override = None  # e.g. 503: every request gets it
        self.delay = 0.0  # seconds before answering (a slow endpoint: concurrent sends must share one fetch)
        self.lock = threading.Lock()
        self.fetches: dict = {}  # sub -> successful token requests
        self.requests = 0
        self.rejections: list = []  # (sub, error) of every refused request
        self.issued: dict = {}  # token -> (sub, expires_at)
        self.assertions: list = []  # decoded claims of every valid assertion
        self.port = 0
        self._server = None
        self._thread = None
        if upstream is not None:
            upstream.tokens = self.check_token

    # -- what the fake Gmail asks
    def check_token(self, user: str, token: str) -> bool:
        with self.lock:
            sub, expires = self.issued.get(token, (None, 0))
            return sub == user and time.time() < expires

    def revoke_tokens(self, sub: str) -> None:
        """Every token issued for `sub` stops working (like a password change)."""
        with self.lock:
            for t in [t for t, (s, _) in self.issued.items() if s == sub]:
                del self.issued[t]

    def fetch_count(self, sub=None) -> int:
        with self.lock:
            return sum(self.fetches.values()) if sub is None else self.fetches.get(sub, 0)

    @property
    def token_uri(self) -> str:
        return f"https://127.0.0.1:{self.port}/token"

    # -- lifecycle
    def start(self) -> "FakeTokenEndpoint":
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                status, body = endpoint._answer(self.path, self.headers.get("Content-Type", ""), form)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.pki.cert_file, self.pki.key_file)
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    down = stop

    def up(self) -> None:
        """Listen again on the same port."""
        self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- the token endpoint
    def _refuse(self, sub, error, description, status=400):
        with self.lock:
            self.rejections.append((sub, error))
        return status, {"error": error, "error_description": description}

    def _verify(self, assertion: str):
        """(claims, None) or (None, why) -- Google's checks on the JWT."""
        try:
            head_b64, claims_b64, sig_b64 = assertion.split(".")
            header = json.loads(_b64url_decode(head_b64))
            claims = json.loads(_b64url_decode(claims_b64))
            signature = _b64url_decode(sig_b64)
        except ValueError:
            return None, "Invalid JWT: malformed"
        if header.get("alg") != "RS256":
            return None, "Invalid JWT: alg must be RS256"
        try:
            self.sa.key.public_key().verify(signature, f"{head_b64}.{claims_b64}".encode(), padding.PKCS1v15(),
                                            hashes.SHA256())
        except Exception:
            return None, "Invalid JWT Signature."
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int):
            return None, "Invalid JWT: iat and exp must be integers"
        if exp - iat > 3600 or exp <= iat:
            return None, "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
        if iat > now + 60 or exp < now:
            return None, "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
        if claims.get("iss") != self.sa.email:
            return None, "Invalid JWT: iss is not the service account"
        if claims.get("aud") != self.token_uri:
            return None, "Invalid JWT: aud must be the token_uri"
        if not claims.get("sub"):
            return None, "Invalid JWT: sub (the mailbox to impersonate) is missing"
        return claims, None

    def _answer(self, path: str, content_type: str, form: dict):
        with self.lock:
            self.requests += 1
            override, delay = self.status_override, self.delay
        if delay:
            time.sleep(delay)
        if override:
            return override, {"error": "internal_failure", "error_description": "Backend Error"}
        if path != "/token" or not content_type.startswith("application/x-www-form-urlencoded"):
            return 404, {"error": "not_found"}
        if form.get("grant_type") != [GRANT_TYPE]:
            return self._refuse(None, "unsupported_grant_type", "Invalid grant_type")
        claims, why = self._verify(form.get("assertion", [""])[0])
        if claims is None:
            return self._refuse(None, "invalid_grant", why)
        sub = claims["sub"]
        with self.lock:
            self.assertions.append(claims)
        if MAIL_SCOPE not in claims.get("scope", "").split():
            return self._refuse(sub, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        if sub in self.denied:
            error, description, status = self.denied[sub]
            return self._refuse(sub, error, description, status)
        if self.delegated is not None and sub not in self.delegated:
            return self._refuse(sub, *UNAUTHORIZED_CLIENT, status=401)
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self.lock:
            self.issued[token] = (sub, time.time() + self.lifetime)
            self.fetches[sub] = self.fetches.get(sub, 0) + 1
        return 200, {"access_token": token, "expires_in": self.lifetime, "token_type": "Bearer"}
