"""The simulated LMS's HTTP side (testsupport.lti_platform): its pages, JWKS, token, NRPS and
AGS endpoints, and the browser's OIDC steps, on a threaded http.server."""

from __future__ import annotations

import json
import uuid
from html import escape
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


class _Handler(BaseHTTPRequestHandler):
    platform: Any  # a testsupport.lti_platform.SimulatedPlatform (not imported: no cycle)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, ctype: str = "application/json") -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _html(self, html: str) -> None:
        data = html.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _course_page(self, query: dict[str, str]) -> None:
        p = self.platform
        params = urlencode(
            {
                "iss": p.issuer,
                "client_id": p.client_id,
                "login_hint": query.get("user", ""),
                "target_link_uri": query.get("target", p.tool_url + "/"),
                "lti_message_hint": "deep-link" if query.get("pick") else "launch",
            }
        )
        src = escape(f"{p.tool_url}/lti/login/?{params}")
        self._html(
            f"<!doctype html><title>LMS course</title><h1>LMS</h1>"
            f'<iframe id="tool" src="{src}" width="1000" height="700"></iframe>'
        )

    def _auth(self, query: dict[str, str]) -> None:
        """The LMS's side of the OIDC login: the signed id_token, posted by the browser."""
        p = self.platform
        sub = query["login_hint"]
        extra = p.deep_link_claims() if query.get("lti_message_hint") == "deep-link" else {}
        body = p.claims(
            sub=sub,
            roles=p.browser_users[sub],
            target=p.tool_url + "/c/digits/",
            nonce=query["nonce"],
            **extra,
        )
        fields = {"id_token": p.sign(body), "state": query["state"]}
        inputs = "".join(
            f'<input type="hidden" name="{k}" value="{escape(v)}">' for k, v in fields.items()
        )
        self._html(
            f'<!doctype html><form id="f" method="post" action="{escape(query["redirect_uri"])}">'
            f'{inputs}</form><script>document.getElementById("f").submit()</script>'
        )

    def _authorized(self) -> bool:
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if token not in self.platform.tokens:
            self._send(401, {"error": "invalid_token"})
            return False
        return True

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path, query = url.path, {k: v[0] for k, v in parse_qs(url.query).items()}
        if path == "/course":
            self._course_page(query)
        elif path == "/auth":
            self._auth(query)
        elif path == "/jwks":
            self.platform.jwks_hits += 1
            body: dict[str, Any] = self.platform.jwks()
            if self.platform.jwks_padding:
                body["padding"] = "x" * self.platform.jwks_padding
            self._send(200, body)
        elif not self._authorized():
            return
        elif path == "/memberships":
            self._members()
        elif path == "/lineitems":
            self._send(
                200, self.platform.lineitems, "application/vnd.ims.lis.v2.lineitemcontainer+json"
            )
        else:
            self._send(404, {"error": "not found"})

    def _members(self) -> None:
        p = self.platform
        members = [
            {
                "user_id": m.user_id,
                "roles": m.roles,
                "name": m.name,
                "email": m.email,
                "status": m.status,
                "given_name": m.name.split(" ")[0],
                "family_name": "",
            }
            for m in p.members
        ]
        body = {"id": p.url + "/memberships", "context": {"id": p.context_id}, "members": members}
        self._send(200, body, "application/vnd.ims.lti-nrps.v2.membershipcontainer+json")

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path == "/token":
            self._token(raw)
        elif path == "/deep-link-return":
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            body = self.platform.deep_link_received(form["JWT"])
            items = body["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
            titles = ", ".join(escape(i["title"]) for i in items)
            self._html(f'<!doctype html><p id="added">Added to the course: {titles}</p>')
        elif not self._authorized():
            return
        elif path == "/lineitems":
            fields = {k: v for k, v in json.loads(raw).items() if k != "id"}
            self._send(
                201,
                self.platform.add_lineitem(**fields),
                "application/vnd.ims.lis.v2.lineitem+json",
            )
        elif path.startswith("/lineitems/") and path.endswith("/scores"):
            self._score(path, raw)
        else:
            self._send(404, {"error": "not found"})

    def _token(self, raw: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        try:
            scope = self.platform.check_assertion(form)
        except Exception as e:  # a bad assertion: the answer says why
            self._send(400, {"error": "invalid_client", "detail": str(e)})
            return
        token = uuid.uuid4().hex
        self.platform.tokens.add(token)
        self.platform.token_requests.append(form)
        self._send(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": scope}
        )

    def _score(self, path: str, raw: bytes) -> None:
        p = self.platform
        if self.headers.get("Content-Type") != "application/vnd.ims.lis.v1.score+json":
            self._send(415, {"error": "score content type"})
        elif p.fail_scores > 0:
            p.fail_scores -= 1
            self._send(503, {"error": "try again"})
        else:
            score = json.loads(raw)
            score["lineitem"] = p.url + path.removesuffix("/scores")
            p.scores.append(score)
            self._send(200, {})


def handler_for(platform: Any) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"platform": platform})
