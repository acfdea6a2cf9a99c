"""The clouds that sell the providers' models, each with its own paths, authentication and framing
(Azure OpenAI, Amazon Bedrock, Google's Vertex AI), and the rest of Google's and OpenAI's surface.

A cloud's call is answered by sim.py's own answer builders, so it reports the counts the direct
provider would; the cloud only finds the call (`find`), checks its credentials, maps its body and
wraps the answer (`reshape`, `stream`, `error`) as the cloud does. Standard library only, like
sim.py: botocore is imported when a Bedrock call checks a signature, and nowhere else.
"""

from __future__ import annotations

import argparse
import re
import ssl
import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

import sim


@dataclass
class Settings:
    """What the clouds check, from the command line (see `add_arguments`)."""
    # Azure: deployment name -> model; a deployment not named here is its own model.
    azure_deployments: Dict[str, str] = field(default_factory=dict)
    # Azure: the Entra ID token a bearer must carry (None: the key, as before).
    azure_entra_token: Optional[str] = None
    # AWS: (access key id, secret, session token or None): Signature Version 4 checked when set.
    aws_key: Optional[Tuple[str, str, Optional[str]]] = None
    # Google: the service account's RSA public key (n, e): the JWT-bearer grant checked when set.
    google_key: Optional[Tuple[int, int]] = None
    token_lifetime: int = 3600
    # Access tokens minted by POST /token: token -> expiry (epoch seconds).
    tokens: Dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Cloud:
    """One call that came by a cloud's path. The handler answers it; the cloud is asked at the
    points where a cloud differs from the provider."""
    provider = sim.OPENAI
    # The model the path names (directives scoped `@model` read it), when the path names one.
    model: Optional[str] = None
    # The body is not JSON (an OAuth form, an upload's bytes): read it raw.
    form = False

    def __init__(self, handler: Any) -> None:
        self.h = handler

    def authenticate(self, h: Any, headers: Dict[str, str], raw: bytes) -> None:
        h.authenticate(headers)

    def dispatch(self, method: str, body: Dict[str, Any], d: sim.Directives) -> None:
        self.h.dispatch(method, body, d)

    def headers(self, h: Any) -> List[Tuple[str, str]]:
        """The answer's own headers (the provider's request id, unless the cloud says otherwise)."""
        if self.provider == sim.GEMINI:
            return []
        return [("x-request-id" if self.provider == sim.OPENAI else "request-id", h.request_id)]

    def reshape(self, h: Any, value: Any, headers: List[Tuple[str, str]]) -> Tuple[Any, List[Tuple[str, str]]]:
        return value, headers

    def error(self, h: Any, error: sim.SimError) -> Tuple[Any, List[Tuple[str, str]]]:
        return sim.error_body(self.provider, error, h.request_id), []

    def stream(self, h: Any, d: sim.Directives) -> sim.Stream:
        return sim.Stream(h, d)


def version_taken(given: Any, cloud: str) -> bool:
    """`anthropic_version` in a cloud's body: the cloud's own (`bedrock-2023-05-31`,
    `vertex-2023-10-16`), or a dated version of Anthropic's API, which recent official clients send."""
    return given == cloud or (isinstance(given, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", given) is not None)


def find(handler: Any, method: str) -> Optional[Cloud]:
    """The cloud whose path this is (its `route` then the provider's path it is answered as)."""
    from . import azure, bedrock, google_jobs, google_oauth, live, realtime, vertex
    for module in (realtime, live, azure, bedrock, vertex, google_oauth, google_jobs):
        found = module.find(handler, method)
        if found is not None:
            return found
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--azure-deployments", default="",
                        help="DEPLOYMENT=MODEL,... (a deployment not named is its own model)")
    parser.add_argument("--azure-entra-token", help="the Entra ID token Azure takes as a bearer token (else the key)")
    parser.add_argument("--aws-key", help="ID:SECRET[:TOKEN], the credentials a Bedrock call is signed with")
    parser.add_argument("--google-key", help="a PEM file (or a service account's JSON) whose RSA key signs "
                                             "the JWT-bearer grants of POST /token")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="seconds an access token lives")
    parser.add_argument("--tls-cert", help="with --tls-key: also listen on TLS (a second port)")
    parser.add_argument("--tls-key")


def settings(args: argparse.Namespace) -> Settings:
    from .google_oauth import read_public_key
    deployments = dict(item.split("=", 1) for item in args.azure_deployments.split(",") if "=" in item)
    aws = None
    if args.aws_key:
        parts = args.aws_key.split(":", 2)
        if len(parts) < 2:
            raise SystemExit("--aws-key takes ID:SECRET[:TOKEN]")
        aws = (parts[0], parts[1], parts[2] if len(parts) == 3 else None)
    google = read_public_key(args.google_key) if args.google_key else None
    return Settings(azure_deployments=deployments, azure_entra_token=args.azure_entra_token, aws_key=aws,
                    google_key=google,
                    token_lifetime=args.token_lifetime)


class TlsListener(ThreadingHTTPServer):
    """A second socket, on TLS, answered by the same simulator: every attribute it lacks (stats,
    store, clouds, ...) is the plain server's."""
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 4096

    def __init__(self, plain: Any, cert: str, key: str) -> None:
        self.plain = plain
        super().__init__(("127.0.0.1", 0), sim.Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.socket = context.wrap_socket(self.socket, server_side=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["plain"], name)


def listen_tls(server: Any, args: argparse.Namespace) -> Optional[TlsListener]:
    """With --tls-cert and --tls-key: a TLS listener beside the plain one, announced on a second
    line `listening-tls 127.0.0.1:<port>`, served on its own thread."""
    if not (args.tls_cert and args.tls_key):
        return None
    listener = TlsListener(server, args.tls_cert, args.tls_key)
    print(f"listening-tls 127.0.0.1:{listener.server_address[1]}", flush=True)
    threading.Thread(target=listener.serve_forever, name="provider-sim-tls", daemon=True).start()
    return listener
