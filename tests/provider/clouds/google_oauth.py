"""Google's OAuth 2.0 token endpoint for a service account, as Vertex AI's clients meet it:
`POST /token` with the JWT-bearer grant (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`,
`assertion=<RS256 JWT>`). The JWT's signature is checked against the service account's public key
(read from a PEM or a service account's JSON, with a small DER reader: standard library only), its
`aud` must be this endpoint (or Google's, which google-auth names) and its `iat`/`exp` sane; then an access token is minted, living
`--token-lifetime` seconds, and counted in the read-back (`clouds.tokens_minted`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs

import sim

from . import Cloud

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# DER of SHA-256's DigestInfo before the digest, as PKCS #1 v1.5 signatures carry it.
SHA256_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
MAX_JWT_LIFETIME = 3600  # Google refuses an assertion that would live longer
CLOCK_SKEW = 300
MAX_TOKENS = 10_000


def der(data: bytes, at: int = 0) -> Tuple[int, bytes, int]:
    """One DER item at `at`: its tag, its content, where the next begins."""
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(data[at:at + size], "big")
        at += size
    return tag, data[at:at + length], at + length


def items(data: bytes) -> List[Tuple[int, bytes]]:
    found, at = [], 0
    while at < len(data):
        tag, content, at = der(data, at)
        found.append((tag, content))
    return found


def rsa_numbers(data: bytes) -> Tuple[int, int]:
    """(n, e) from PKCS #8 or PKCS #1 private keys, or SubjectPublicKeyInfo or PKCS #1 public keys."""
    inner = items(der(data)[1])
    tags = [tag for tag, _ in inner]
    if tags[:3] == [0x02, 0x30, 0x04]:  # PKCS #8: version, algorithm, the RSAPrivateKey
        return rsa_numbers(inner[2][1])
    if tags[:2] == [0x30, 0x03]:  # SubjectPublicKeyInfo: algorithm, the RSAPublicKey as bits
        return rsa_numbers(inner[1][1][1:])
    if len(inner) >= 3 and tags[:3] == [0x02, 0x02, 0x02]:  # RSAPrivateKey: version, n, e, ...
        return int.from_bytes(inner[1][1], "big"), int.from_bytes(inner[2][1], "big")
    if tags == [0x02, 0x02]:  # RSAPublicKey: n, e
        return int.from_bytes(inner[0][1], "big"), int.from_bytes(inner[1][1], "big")
    raise ValueError("not an RSA key")


def read_public_key(path: str) -> Tuple[int, int]:
    with open(path) as file:
        text = file.read()
    if text.lstrip().startswith("{"):
        text = json.loads(text)["private_key"]
    body = "".join(line for line in text.splitlines() if line and not line.startswith("-----"))
    return rsa_numbers(base64.b64decode(body))


def unpadded(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_rs256(signed: bytes, signature: bytes, key: Tuple[int, int]) -> bool:
    """RSASSA-PKCS1-v1_5 with SHA-256: the signature raised to e mod n is the padded digest."""
    n, e = key
    size = (n.bit_length() + 7) // 8
    if len(signature) != size:
        return False
    digest = SHA256_INFO + hashlib.sha256(signed).digest()
    expected = b"\x00\x01" + b"\xff" * (size - 3 - len(digest)) + b"\x00" + digest
    return hmac.compare_digest(pow(int.from_bytes(signature, "big"), e, n).to_bytes(size, "big"), expected)


def refused(description: str) -> sim.SimError:
    return sim.SimError(400, description, code="invalid_grant")


class TokenEndpoint(Cloud):
    provider = sim.GEMINI
    form = True

    def authenticate(self, h: Any, headers: Dict[str, str], raw: bytes) -> None:
        pass  # the grant is the credential

    def dispatch(self, method: str, body: Dict[str, Any], d: sim.Directives) -> None:
        h = self.h
        settings = h.server.clouds
        if method != "POST":
            raise sim.SimError(405, "Method Not Allowed", code="invalid_request")
        form = parse_qs(h.raw.decode("utf-8", "replace"))
        if form.get("grant_type") != [GRANT]:
            raise sim.SimError(400, "Invalid grant_type.", code="unsupported_grant_type")
        if settings.google_key is None:
            raise sim.SimError(500, "the simulator was started without --google-key", code="internal_failure")
        claims = self.check(form.get("assertion", [""])[0], settings.google_key, h.host())
        lifetime = settings.token_lifetime
        token = "ya29.sim-" + uuid.uuid4().hex
        now = time.time()
        with settings.lock:
            for old in [t for t, expiry in settings.tokens.items() if expiry <= now]:
                del settings.tokens[old]
            if len(settings.tokens) < MAX_TOKENS:
                settings.tokens[token] = now + lifetime
        h.server.stats.count("tokens_minted")
        h.answer_json(200, {"access_token": token, "expires_in": lifetime, "token_type": "Bearer",
                            "scope": claims.get("scope", "")})

    def check(self, assertion: str, key: Tuple[int, int], host: str) -> Dict[str, Any]:
        parts = assertion.split(".")
        if len(parts) != 3:
            raise refused("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.")
        try:
            header, claims = json.loads(unpadded(parts[0])), json.loads(unpadded(parts[1]))
            signature = unpadded(parts[2])
        except ValueError:
            raise refused("Invalid JWT: the assertion is not a JWT.") from None
        if header.get("alg") != "RS256":
            raise refused("Invalid JWT: the algorithm must be RS256.")
        if not verify_rs256(f"{parts[0]}.{parts[1]}".encode(), signature, key):
            raise refused("Invalid JWT Signature.")
        # google-auth names Google's own endpoint whatever the file's token_uri; Google takes either.
        if claims.get("aud") not in (GOOGLE_TOKEN_URI, f"http://{host}/token", f"https://{host}/token"):
            raise refused(f"Invalid JWT: the audience must be this endpoint, not {claims.get('aud')!r}.")
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, (int, float)) or not isinstance(exp, (int, float)) or iat > now + CLOCK_SKEW \
                or exp <= now or exp - iat > MAX_JWT_LIFETIME or not claims.get("iss"):
            raise refused("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
                          "Check your iat and exp values in the JWT claim.")
        return claims

    def error(self, h: Any, error: sim.SimError) -> Tuple[Any, List[Tuple[str, str]]]:
        return {"error": error.code or "invalid_request", "error_description": error.message}, []


def token_valid(settings: Any, token: str) -> bool:
    with settings.lock:
        expiry: Optional[float] = settings.tokens.get(token)
    return expiry is not None and expiry > time.time()


def find(handler: Any, method: str) -> Optional[Cloud]:
    return TokenEndpoint(handler) if handler.route == "/token" else None
