"""The official OpenAI, Anthropic and Google Gen AI clients pointed at the gateway's proxy.

    from quota_gateway import QuotaGateway

    qg = QuotaGateway()
    client = qg.openai("alice")              # an openai.OpenAI, paid from alice's quota
    client.chat.completions.create(model="gpt-4o-mini", messages=[...], max_tokens=300)

The gateway holds each call's worst case before the provider sees it and settles what the
provider reports, streams included; a denial is the SDK's own `RateLimitError` (429), which
the SDK does not retry unless a window resets within a minute (Google's `google-genai` raises
`google.genai.errors.ClientError` with `code` 429, and retries nothing unless told to). These functions build nothing
but the client: a base URL under `/proxy/{upstream}`, the key, and the headers that say who
pays. A secret key (`qg_sk_…`) names its user (`user=`, sent as `X-Quota-User`); a user key
(`qg_uk_…`, see `create_user_key`) is its own user, so an app that runs on the user's device
builds its client from that key alone:

    client = openai_client("https://gateway.example.com", user_key)

Every answer the provider gave names the call's reservation (`x-quota-reservation`), so the app
says later what its output came to (`set_outcome`); `proxy_reservation_id` reads it from the
SDK's raw response (`client.chat.completions.with_raw_response.create(...)`).

`openai`, `anthropic` and `gemini` (`google-genai`) are optional extras, imported only when a
client is built.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional

from .params import Metadata, StepKind

if TYPE_CHECKING:
    import anthropic
    import openai
    from google import genai

__all__ = ["anthropic_client", "async_anthropic_client", "async_openai_client", "gemini_client", "openai_client",
           "proxy_headers", "proxy_reservation_id"]

SECRET_KEY_PREFIX = "qg_sk_"
# The proxy's answer header naming the call's reservation.
RESERVATION_HEADER = "x-quota-reservation"


def proxy_headers(api_key: str, user: Optional[str] = None, *, metadata: Optional[Metadata] = None,
                  run: Optional[str] = None, action: Optional[str] = None,
                  kind: Optional[StepKind] = None) -> Dict[str, str]:
    """The headers that say who pays for a proxied call and what it is part of: `X-Quota-User`,
    `X-Quota-Metadata` (a JSON object, at most 16 keys, none of the names the proxy writes
    itself), and `X-Quota-Run`, `X-Quota-Action`, `X-Quota-Kind` for a step of a run."""
    if api_key.startswith(SECRET_KEY_PREFIX) and not user:
        # The gateway would refuse it (400, X-Quota-User); said here, before any call.
        raise ValueError("a secret key needs user= (the end user who pays for the calls)")
    if run is None and (action is not None or kind is not None):
        raise ValueError("action= and kind= make a call a step of a run: give run= too")
    headers: Dict[str, str] = {}
    if user:
        headers["X-Quota-User"] = user
    if metadata:
        # ASCII only: a header value must be visible ASCII, and JSON escapes the rest.
        headers["X-Quota-Metadata"] = json.dumps(dict(metadata), separators=(",", ":"), ensure_ascii=True)
    if run is not None:
        headers["X-Quota-Run"] = run
    if action is not None:
        headers["X-Quota-Action"] = action
    if kind is not None:
        headers["X-Quota-Kind"] = kind
    return headers


def proxy_reservation_id(response: Any) -> Optional[str]:
    """The reservation of a call the proxy made, to say later what its output came to with
    `set_outcome`: from a response with `headers` (the SDKs' raw responses, an httpx or
    `requests` response) or from the headers themselves (any mapping; the name in any case).
    None when there is none (the provider did not answer). A stream's hold is committed when
    the stream ends: say its outcome after that."""
    headers = getattr(response, "headers", response)
    if not isinstance(headers, Mapping):
        raise TypeError("proxy_reservation_id takes a response with headers, or the headers")
    for name, value in headers.items():
        if isinstance(name, str) and name.lower() == RESERVATION_HEADER:
            return str(value)
    return None


def _missing(package: str, extra: Optional[str] = None) -> ImportError:
    return ImportError(f"the {package} client is not installed: pip install 'quota-gateway[{extra or package}]' "
                       f"(or pip install {package})")


def _options(gateway_url: str, path: str, api_key: str, headers: Dict[str, str],
             client_kwargs: Dict[str, Any], url: str = "base_url") -> Dict[str, Any]:
    """The client's constructor arguments: the caller's, with the base URL (as the argument
    `url` names it), the key and the headers set (a caller's `default_headers` are kept, ours on
    top)."""
    for name in (url, "base_url", "api_key"):
        if name in client_kwargs:
            raise TypeError(f"{name} is set by the helper; pass the gateway's URL and key instead")
    given = client_kwargs.pop("default_headers", None) or {}
    return {**client_kwargs, url: gateway_url.rstrip("/") + path, "api_key": api_key,
            "default_headers": {**given, **headers}}


def openai_client(gateway_url: str, api_key: str, *, user: Optional[str] = None, upstream: str = "openai",
                  metadata: Optional[Metadata] = None, run: Optional[str] = None, action: Optional[str] = None,
                  kind: Optional[StepKind] = None, **client_kwargs: Any) -> openai.OpenAI:
    """An `openai.OpenAI` calling `{gateway_url}/proxy/{upstream}/v1` with `api_key` (the
    project's secret key with `user=`, or a user key); `client_kwargs` go to the constructor
    (`max_retries`, `timeout`, `http_client`, ...)."""
    try:
        import openai
    except ImportError as err:
        raise _missing("openai") from err
    headers = proxy_headers(api_key, user, metadata=metadata, run=run, action=action, kind=kind)
    return openai.OpenAI(**_options(gateway_url, f"/proxy/{upstream}/v1", api_key, headers, client_kwargs))


def async_openai_client(gateway_url: str, api_key: str, *, user: Optional[str] = None, upstream: str = "openai",
                        metadata: Optional[Metadata] = None, run: Optional[str] = None,
                        action: Optional[str] = None, kind: Optional[StepKind] = None,
                        **client_kwargs: Any) -> openai.AsyncOpenAI:
    """As `openai_client`, an `openai.AsyncOpenAI`."""
    try:
        import openai
    except ImportError as err:
        raise _missing("openai") from err
    headers = proxy_headers(api_key, user, metadata=metadata, run=run, action=action, kind=kind)
    return openai.AsyncOpenAI(**_options(gateway_url, f"/proxy/{upstream}/v1", api_key, headers, client_kwargs))


def azure_openai_client(gateway_url: str, api_key: str, *, api_version: str, user: Optional[str] = None,
                        upstream: str = "azure", metadata: Optional[Metadata] = None, run: Optional[str] = None,
                        action: Optional[str] = None, kind: Optional[StepKind] = None,
                        **client_kwargs: Any) -> openai.AzureOpenAI:
    """An `openai.AzureOpenAI` calling the gateway's Azure OpenAI upstream as it calls an Azure
    resource (`{gateway_url}/proxy/{upstream}` as its endpoint: a deployment's paths with
    `api_version`), with `api_key` (the project's secret key with `user=`, or a user key) sent
    as Azure's `api-key`, as `openai_client` does. Name a deployment as the model."""
    try:
        import openai
    except ImportError as err:
        raise _missing("openai") from err
    headers = proxy_headers(api_key, user, metadata=metadata, run=run, action=action, kind=kind)
    return openai.AzureOpenAI(api_version=api_version, **_options(gateway_url, f"/proxy/{upstream}", api_key, headers,
                                                                   client_kwargs, "azure_endpoint"))


def async_azure_openai_client(gateway_url: str, api_key: str, *, api_version: str, user: Optional[str] = None,
                              upstream: str = "azure", metadata: Optional[Metadata] = None,
                              run: Optional[str] = None, action: Optional[str] = None,
                              kind: Optional[StepKind] = None, **client_kwargs: Any) -> openai.AsyncAzureOpenAI:
    """As `azure_openai_client`, an `openai.AsyncAzureOpenAI`."""
    try:
        import openai
    except ImportError as err:
        raise _missing("openai") from err
    headers = proxy_headers(api_key, user, metadata=metadata, run=run, action=action, kind=kind)
    return openai.AsyncAzureOpenAI(api_version=api_version, **_options(gateway_url, f"/proxy/{upstream}", api_key,
                                                                        headers, client_kwargs, "azure_endpoint"))


def anthropic_client(gateway_url: str, api_key: str, *, user: Optional[str] = None, upstream: str = "anthropic",
                     metadata: Optional[Metadata] = None, run: Optional[str] = None, action: Optional[str] = None,
                     kind: Optional[StepKind] = None, **client_kwargs: Any) -> anthropic.Anthropic:
    """An `anthropic.Anthropic` calling `{gateway_url}/proxy/{upstream}` (the SDK adds `/v1`)
    with `api_key`, as `openai_client` does."""
    try:
        import anthropic
    except ImportError as err:
        raise _missing("anthropic") from err
    headers = proxy_headers(api_key, user, metadata=metadata, run=run, action=action, kind=kind)
    return anthropic.Anthropic(**_options(gateway_url, f"/proxy/{upstream}", api_key, headers, client_kwargs))


def async_anthropic_client(gateway_url: str, api_key: str, *, user: Optional[str] = None,
                           upstream: str = "anthropic", metadata: Optional[Metadata] = None,
                           run: Optional[str] = None, action: Optional[str] = None,
                           kind: Optional[StepKind] = None, **client_kwargs: Any) -> anthropic.AsyncAnthropic:
    """As `anthropic_client`, an `anthropic.AsyncAnthropic`."""
    try:
        import anthropic
    except ImportError as err:
        raise _missing("anthropic") from err
    headers = proxy_headers(api_key, user, metadata=metadata, run=run, action=action, kind=kind)
    return anthropic.AsyncAnthropic(**_options(gateway_url, f"/proxy/{upstream}", api_key, headers,
                                               client_kwargs))


# What a Google client would be told that the gateway already decides: the Gemini Developer API
# is the one proxied, never Vertex AI, its project, location or credentials (the key is ours too).
_GEMINI_SET = ("vertexai", "enterprise", "project", "location", "credentials")


def gemini_client(gateway_url: str, api_key: str, *, user: Optional[str] = None, upstream: str = "gemini",
                  metadata: Optional[Metadata] = None, run: Optional[str] = None, action: Optional[str] = None,
                  kind: Optional[StepKind] = None, **client_kwargs: Any) -> genai.Client:
    """A `google.genai.Client` calling `{gateway_url}/proxy/{upstream}` (the client adds
    `/v1beta`) with `api_key` (the project's secret key with `user=`, or a user key), sent as
    `x-goog-api-key`, as `openai_client` does. Google's one client is sync and async at once: its
    `.aio` makes the same calls with `await`. `client_kwargs` go to the constructor: an
    `http_options` (a `types.HttpOptions` or its dict: `timeout`, `retry_options`, `api_version`,
    `headers`, ...) keeps all but its base URL, the quota headers on top of its own."""
    try:
        from google import genai
        from google.genai import types
    except ImportError as err:
        raise _missing("google-genai", "gemini") from err
    for name in _GEMINI_SET:
        if name in client_kwargs:
            raise TypeError(f"{name} is set by the helper; pass the gateway's URL and key instead")
    headers = proxy_headers(api_key, user, metadata=metadata, run=run, action=action, kind=kind)
    given = client_kwargs.pop("http_options", None)
    options = (types.HttpOptions.model_validate(given) if isinstance(given, dict)
               else given.model_copy() if given is not None else types.HttpOptions())
    if options.base_url is not None:
        raise TypeError("http_options.base_url is set by the helper; pass the gateway's URL instead")
    options.base_url = gateway_url.rstrip("/") + f"/proxy/{upstream}"
    options.headers = {**(options.headers or {}), **headers}
    # Explicitly not Vertex AI: GOOGLE_GENAI_USE_VERTEXAI in the environment would switch it.
    return genai.Client(**client_kwargs, vertexai=False, api_key=api_key, http_options=options)
