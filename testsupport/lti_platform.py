"""A simulated LTI 1.3 platform (an LMS) on loopback, for the LTI tests.

It has its own RSA key and serves, from a threaded http.server on 127.0.0.1:
- GET  /jwks                      its public keys (launch id_tokens are signed with them);
- POST /token                     OAuth2 client credentials: the tool's client assertion (RFC 7523)
                                  is verified against the tool's JWKS, then a bearer token is given;
- GET  /memberships               NRPS membership container (needs a token);
- GET/POST /lineitems             AGS line-items container; POST /lineitems/<n>/scores a score.
Everything the tool sent is kept (`scores`, `token_requests`) for the tests to check.
`launch()` drives a whole launch through Django's test client: OIDC login initiation, the auth
redirect, a signed id_token posted to /lti/launch/.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from testsupport.lti_platform_server import handler_for

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


@dataclass
class Member:
    user_id: str
    roles: list[str]
    name: str = ""
    email: str = ""
    status: str = "Active"


@dataclass
class SimulatedPlatform:
    client_id: str = "podium-client"
    deployment_id: str = "dep-1"
    context_id: str = "course-42"
    tool_jwks: dict[str, Any] = field(default_factory=dict)  # the tool's /lti/jwks/ answer
    members: list[Member] = field(default_factory=list)
    lineitems: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    fail_scores: int = 0  # answer this many score posts with 503 first
    jwks_padding: int = 0  # bytes of junk in the JWKS answer (a hostile or broken platform)
    jwks_hits: int = 0
    host: str = "127.0.0.1"  # the name in its URLs ("localhost": same site as a live_server)
    # For a real browser: GET /course?user=SUB shows the tool in an iframe, as an LMS's course
    # page does; GET /auth answers the OIDC request with an auto-submitting form (the id_token).
    tool_url: str = ""
    browser_users: dict[str, list[str]] = field(default_factory=dict)  # sub -> roles
    deep_links: list[dict[str, Any]] = field(default_factory=list)  # verified answers received

    def __post_init__(self) -> None:
        self.rotate()
        self.tokens: set[str] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://{self.host}:{self._server.server_address[1]}"
        self.issuer = self.url

    def rotate(self) -> None:
        """A new signing key; the JWKS lists only it from now on."""
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "platform-" + secrets.token_hex(4)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- what a registration needs ---------------------------------------------------------
    @property
    def auth_url(self) -> str:
        return self.url + "/auth"

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    @property
    def jwks_url(self) -> str:
        return self.url + "/jwks"

    def jwks(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def add_lineitem(self, label: str, **extra: Any) -> dict[str, Any]:
        item = {
            "id": f"{self.url}/lineitems/{len(self.lineitems) + 1}",
            "label": label,
            "scoreMaximum": 100,
            **extra,
        }
        self.lineitems.append(item)
        return item

    def register(self, course: str | None = None) -> None:
        """Registers this platform with Podium through the real `lti_platform_add` command."""
        from django.core.management import call_command

        args = [
            f"--issuer={self.issuer}",
            f"--client-id={self.client_id}",
            f"--deployment-id={self.deployment_id}",
            f"--auth-url={self.auth_url}",
            f"--token-url={self.token_url}",
            f"--jwks-url={self.jwks_url}",
        ]
        call_command("lti_platform_add", *args, *([f"--course={course}"] if course else []))

    # -- launches ----------------------------------------------------------------------------
    def claims(
        self, *, sub: str, roles: list[str], target: str, nonce: str, **extra: Any
    ) -> dict[str, Any]:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": sub,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "given_name": f"Given {sub}",
            "family_name": "Family",
            "email": f"{sub}@lms.example.org",
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "target_link_uri": target,
            LTI + "roles": roles,
            LTI + "resource_link": {"id": "link-1", "title": "Digits"},
            LTI + "context": {
                "id": self.context_id,
                "label": "ML101",
                "title": "Machine learning 101",
            },
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": self.url + "/memberships",
                "service_versions": ["2.0"],
            },
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": AGS_SCOPES,
                "lineitems": self.url + "/lineitems",
            },
        }
        body.update(extra)
        return body

    def deep_link_claims(self) -> dict[str, Any]:
        return {
            LTI + "message_type": "LtiDeepLinkingRequest",
            "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": {
                "deep_link_return_url": self.url + "/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "data": "opaque-42",
            },
        }

    def deep_link_received(self, token: str) -> dict[str, Any]:
        """Verifies a deep-linking answer with the keys the tool publishes, as an LMS does."""
        with urlopen(self.tool_url + "/lti/jwks/", timeout=10) as r:
            keys = json.load(r)["keys"]
        kid = jwt.get_unverified_header(token)["kid"]
        key = jwt.PyJWK(next(k for k in keys if k["kid"] == kid))
        body = jwt.decode(token, key, algorithms=["RS256"], audience=self.issuer)
        self.deep_links.append(body)
        return body

    def sign(self, body: dict[str, Any], *, key: Any = None, kid: str | None = None) -> str:
        return jwt.encode(
            body, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid}
        )

    def login(self, client: Any, *, target: str, secure: bool = False) -> dict[str, str]:
        """OIDC login initiation, as the LMS starts it; returns the auth request's parameters."""
        r = client.get(
            "/lti/login/",
            {
                "iss": self.issuer,
                "client_id": self.client_id,
                "login_hint": "hint",
                "target_link_uri": target,
                "lti_message_hint": "msg",
            },
            secure=secure,
        )
        self.last_login = r
        assert r.status_code == 302, r.content[:500]
        url = urlsplit(r["Location"])
        assert f"{url.scheme}://{url.netloc}{url.path}" == self.auth_url
        return {k: v[0] for k, v in parse_qs(url.query).items()}

    def launch(
        self,
        client: Any,
        *,
        sub: str,
        roles: list[str],
        target: str,
        tamper: Any = None,
        secure: bool = False,
        **extra: Any,
    ) -> Any:
        """A whole launch; `tamper(body) -> token` replaces the honest signing step."""
        auth = self.login(client, target=target, secure=secure)
        body = self.claims(sub=sub, roles=roles, target=target, nonce=auth["nonce"], **extra)
        token = tamper(body) if tamper else self.sign(body)
        self.last_post = {"id_token": token, "state": auth["state"]}
        return client.post(auth["redirect_uri"], self.last_post, secure=secure)

    # -- service side ------------------------------------------------------------------------
    def check_assertion(self, form: dict[str, str]) -> str:
        assertion = form["client_assertion"]
        kid = jwt.get_unverified_header(assertion)["kid"]
        jwk = next(k for k in self.tool_jwks["keys"] if k["kid"] == kid)
        claims = jwt.decode(
            assertion, jwt.PyJWK(jwk), algorithms=["RS256"], audience=self.token_url
        )
        assert claims["iss"] == claims["sub"] == self.client_id
        assert form["grant_type"] == "client_credentials"
        assert (
            form["client_assertion_type"]
            == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        )
        return form["scope"]

    def public_pem(self) -> str:
        return (
            self.key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
