"""The official OpenAI, Anthropic and Google Gen AI clients (on Vertex AI too), and boto3's
Bedrock Runtime, pointed at the gateway's proxy.

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

Amazon Bedrock is called as Bedrock is (`bedrock_runtime_client`, boto3's `converse`,
`invoke_model` and their streams; `anthropic_bedrock_client`, `AnthropicBedrock`): the key goes
as a Bedrock API key (`Authorization: Bearer`), and the gateway signs for Bedrock with its own AWS
credentials. A denial is boto3's `ClientError` with code `ThrottlingException` (HTTP 429).

Google's Vertex AI is called as Vertex is, in a project's location (`vertex_gemini_client`,
google-genai's `Client(vertexai=True)`; `anthropic_vertex_client`, `AnthropicVertex`): the key goes
as the client's OAuth access token (`Authorization: Bearer`), so neither looks for Application
Default Credentials, and the gateway mints its own access tokens for Vertex from its service
account's key. A denial is google-genai's `ClientError` with `code` 429, or `RateLimitError`.

`openai`, `anthropic`, `gemini` (`google-genai`) and `bedrock` (`boto3`) are optional extras,
imported only when a client is built.
"""

from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple, Type

from .params import Metadata, StepKind

if TYPE_CHECKING:
    import anthropic
    import openai
    from botocore.client import BaseClient
    from google import genai
    from google.genai import types as genai_types

__all__ = ["anthropic_bedrock_client", "anthropic_client", "anthropic_vertex_client", "async_anthropic_bedrock_client",
           "async_anthropic_client", "async_anthropic_vertex_client", "async_openai_client", "bedrock_runtime_client",
           "gemini_client", "openai_client", "proxy_headers", "proxy_reservation_id", "vertex_gemini_client"]

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
    options = _http_options(types.HttpOptions, client_kwargs.pop("http_options", None), gateway_url, upstream,
                            headers)
    # Explicitly not Vertex AI: GOOGLE_GENAI_USE_VERTEXAI in the environment would switch it.
    return genai.Client(**client_kwargs, vertexai=False, api_key=api_key, http_options=options)


def _http_options(kind: Type[genai_types.HttpOptions], given: Any, gateway_url: str, upstream: str,
                  headers: Dict[str, str]) -> genai_types.HttpOptions:
    """A Google client's `http_options` (`kind`, google-genai's `types.HttpOptions`, or its dict, or
    None): the caller's, but for the base URL, `{gateway_url}/proxy/{upstream}`, and the quota
    headers on top of its own."""
    options = (kind.model_validate(given) if isinstance(given, dict)
               else given.model_copy() if given is not None else kind())
    if options.base_url is not None:
        raise TypeError("http_options.base_url is set by the helper; pass the gateway's URL instead")
    options.base_url = gateway_url.rstrip("/") + f"/proxy/{upstream}"
    options.headers = {**(options.headers or {}), **headers}
    return options


# What a Google client on Vertex AI would be told that the helper decides: Vertex AI, in the
# project and location given, with the gateway's key for its credentials.
_VERTEX_SET = ("vertexai", "enterprise", "api_key", "credentials")


def vertex_gemini_client(gateway_url: str, api_key: str, *, project: str, location: str,
                         user: Optional[str] = None, upstream: str = "vertex", metadata: Optional[Metadata] = None,
                         run: Optional[str] = None, action: Optional[str] = None, kind: Optional[StepKind] = None,
                         **client_kwargs: Any) -> genai.Client:
    """A `google.genai.Client` on Vertex AI (`vertexai=True`, in `project` and `location`) calling
    the gateway's Vertex AI upstream as it calls Vertex (`{gateway_url}/proxy/{upstream}` as its
    base URL: `.../v1beta1/projects/{project}/locations/{location}/publishers/google/models/...`),
    with `api_key` (the project's secret key with `user=`, or a user key) as its OAuth access
    token (`Authorization: Bearer`), as `openai_client` does. It looks for no Application Default
    Credentials, nor a Vertex API key in the environment: the gateway mints Vertex's access tokens
    from its own service account. A denial is its `errors.ClientError` with `code` 429. Google's
    one client is sync and async at once (`.aio`); `client_kwargs` go to the constructor, an
    `http_options` kept as `gemini_client` keeps it."""
    try:
        from google import genai
        from google.genai import types
        from google.oauth2.credentials import Credentials
    except ImportError as err:
        raise _missing("google-genai", "gemini") from err
    for name in _VERTEX_SET:
        if name in client_kwargs:
            raise TypeError(f"{name} is set by the helper; pass the gateway's URL and key instead")
    headers = proxy_headers(api_key, user, metadata=metadata, run=run, action=action, kind=kind)
    options = _http_options(types.HttpOptions, client_kwargs.pop("http_options", None), gateway_url, upstream,
                            headers)
    # A token that never expires and is never refreshed: the client sends it as it is. (google-auth's
    # constructor is untyped; mypy as 3.9, which skips google-auth, sees Any.)
    credentials = Credentials(token=api_key)  # type: ignore[no-untyped-call, unused-ignore]
    return genai.Client(**client_kwargs, vertexai=True, project=project, location=location, credentials=credentials,
                        http_options=options)


# What an AWS client would be told that the helper decides: where it calls, and with which
# credentials (none of AWS's: the gateway signs for Bedrock with its own).
_BEDROCK_SET = ("endpoint_url", "region_name", "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
                "aws_account_id")
_ANTHROPIC_BEDROCK_SET = ("aws_region", "aws_access_key", "aws_secret_key", "aws_session_token", "aws_profile")


def _refuse(names: Tuple[str, ...], client_kwargs: Dict[str, Any]) -> None:
    for name in names:
        if name in client_kwargs:
            raise TypeError(f"{name} is set by the helper; pass the gateway's URL, key and region= instead")


class _GatewayKey:
    """botocore's token provider, holding the gateway's key: the client's session asks it, not the
    environment (`AWS_BEARER_TOKEN_BEDROCK`) or an SSO cache, so the process's own Bedrock key
    never goes to the gateway and the gateway's key never needs to be in the environment."""

    def __init__(self, token: Any) -> None:
        self._token = token

    def load_token(self, **_: Any) -> Any:
        return self._token


def _add_headers(headers: Dict[str, str], request: Any, **_: Any) -> None:
    """botocore's `before-sign`: the quota headers on each request it sends, retries included
    (each is a new request)."""
    for name, value in headers.items():
        del request.headers[name]  # botocore's headers are an email message: setting adds a second
        request.headers[name] = value


def _unless_told_not_to(response: Any = None, **_: Any) -> Optional[bool]:
    """botocore's `needs-retry`, ahead of its own retry handler: False (no retry) for an answer that
    says `x-should-retry: false`, as the OpenAI and Anthropic SDKs read it. A denial is a
    `ThrottlingException`, which botocore would otherwise ask again, and be denied again, up to
    its attempts; None leaves every other answer to botocore's retries. botocore's handler still
    sees the answer (its standard mode spends retry quota on it, as on any throttling)."""
    if response is not None and response[0].headers.get("x-should-retry") == "false":
        return False
    return None


def bedrock_runtime_client(gateway_url: str, api_key: str, *, user: Optional[str] = None,
                           upstream: str = "bedrock", region: str = "us-east-1",
                           metadata: Optional[Metadata] = None, run: Optional[str] = None,
                           action: Optional[str] = None, kind: Optional[StepKind] = None,
                           **client_kwargs: Any) -> BaseClient:
    """boto3's `bedrock-runtime` client calling the gateway's Bedrock upstream as it calls Bedrock
    (`{gateway_url}/proxy/{upstream}` as its endpoint: `converse`, `converse_stream`,
    `invoke_model`, `invoke_model_with_response_stream`), with `api_key` (the project's secret key
    with `user=`, or a user key) sent as a Bedrock API key (`Authorization: Bearer`), as
    `openai_client` does. The client holds no AWS credentials and reads none from the
    environment: the gateway signs for Bedrock with its own. botocore sends a bearer token only
    over HTTPS, so `gateway_url` is an `https://` one. A denial is a `ClientError` with code
    `ThrottlingException` (HTTP 429), not retried when the gateway says so. `region` is the one
    the client names (the upstream's decides where the gateway calls); `client_kwargs` go to
    `boto3.Session.client` (`config`, `verify`, ...), a `config` kept but for its signature
    version."""
    try:
        import boto3
        from botocore.config import Config
        from botocore.credentials import CredentialResolver
        from botocore.session import Session
        from botocore.tokens import FrozenAuthToken
    except ImportError as err:
        raise _missing("boto3", "bedrock") from err
    _refuse(_BEDROCK_SET, client_kwargs)
    headers = proxy_headers(api_key, user, metadata=metadata, run=run, action=action, kind=kind)
    session = Session()
    session.register_component("credential_provider", CredentialResolver([]))
    session.register_component("token_provider", _GatewayKey(FrozenAuthToken(api_key)))
    # Set in code, the bearer scheme is used whatever the environment holds.
    bearer = Config(signature_version="bearer")
    given = client_kwargs.pop("config", None)
    client = boto3.Session(botocore_session=session).client(
        "bedrock-runtime", region_name=region, endpoint_url=gateway_url.rstrip("/") + f"/proxy/{upstream}",
        config=given.merge(bearer) if given is not None else bearer, **client_kwargs)
    client.meta.events.register("before-sign.bedrock-runtime", partial(_add_headers, headers))
    client.meta.events.register_first("needs-retry.bedrock-runtime", _unless_told_not_to)
    return client


def anthropic_bedrock_client(gateway_url: str, api_key: str, *, user: Optional[str] = None,
                             upstream: str = "bedrock", region: str = "us-east-1",
                             metadata: Optional[Metadata] = None, run: Optional[str] = None,
                             action: Optional[str] = None, kind: Optional[StepKind] = None,
                             **client_kwargs: Any) -> anthropic.AnthropicBedrock:
    """An `anthropic.AnthropicBedrock` calling the gateway's Bedrock upstream
    (`{gateway_url}/proxy/{upstream}` as its base URL: Bedrock's invoke paths) with `api_key` sent
    as a Bedrock API key (`Authorization: Bearer`), as `bedrock_runtime_client` does; name a
    Bedrock model id or inference profile as the model. It holds no AWS credentials: the gateway
    signs. A denial is the SDK's `RateLimitError`."""
    try:
        import anthropic
    except ImportError as err:
        raise _missing("anthropic") from err
    _refuse(_ANTHROPIC_BEDROCK_SET, client_kwargs)
    headers = proxy_headers(api_key, user, metadata=metadata, run=run, action=action, kind=kind)
    return anthropic.AnthropicBedrock(aws_region=region, **_options(gateway_url, f"/proxy/{upstream}", api_key,
                                                                     headers, client_kwargs))


def async_anthropic_bedrock_client(gateway_url: str, api_key: str, *, user: Optional[str] = None,
                                   upstream: str = "bedrock", region: str = "us-east-1",
                                   metadata: Optional[Metadata] = None, run: Optional[str] = None,
                                   action: Optional[str] = None, kind: Optional[StepKind] = None,
                                   **client_kwargs: Any) -> anthropic.AsyncAnthropicBedrock:
    """As `anthropic_bedrock_client`, an `anthropic.AsyncAnthropicBedrock`."""
    try:
        import anthropic
    except ImportError as err:
        raise _missing("anthropic") from err
    _refuse(_ANTHROPIC_BEDROCK_SET, client_kwargs)
    headers = proxy_headers(api_key, user, metadata=metadata, run=run, action=action, kind=kind)
    return anthropic.AsyncAnthropicBedrock(aws_region=region, **_options(gateway_url, f"/proxy/{upstream}", api_key,
                                                                          headers, client_kwargs))


# What Anthropic's Vertex client would be told that the helper decides: where it calls, in which
# project, and with which credentials (none of Google's: the gateway mints Vertex's own).
_ANTHROPIC_VERTEX_SET = ("base_url", "project_id", "access_token", "credentials")


def _vertex_options(gateway_url: str, upstream: str, api_key: str, headers: Dict[str, str], project: str,
                    region: str, client_kwargs: Dict[str, Any]) -> Dict[str, Any]:
    for name in _ANTHROPIC_VERTEX_SET:
        if name in client_kwargs:
            raise TypeError(f"{name} is set by the helper; pass the gateway's URL, key, project= and region= instead")
    given = client_kwargs.pop("default_headers", None) or {}
    return {**client_kwargs, "base_url": gateway_url.rstrip("/") + f"/proxy/{upstream}/v1", "region": region,
            "project_id": project, "access_token": api_key, "default_headers": {**given, **headers}}


def anthropic_vertex_client(gateway_url: str, api_key: str, *, project: str, region: str,
                            user: Optional[str] = None, upstream: str = "vertex", metadata: Optional[Metadata] = None,
                            run: Optional[str] = None, action: Optional[str] = None,
                            kind: Optional[StepKind] = None, **client_kwargs: Any) -> anthropic.AnthropicVertex:
    """An `anthropic.AnthropicVertex` calling Claude on the gateway's Vertex AI upstream
    (`{gateway_url}/proxy/{upstream}/v1` as its base URL: `.../projects/{project}/locations/{region}/
    publishers/anthropic/models/{model}:rawPredict`), with `api_key` (the project's secret key with
    `user=`, or a user key) as its access token (`Authorization: Bearer`), as `openai_client` does;
    name a Vertex model (`claude-haiku-4-5@20251001`). It looks for no Google credentials: the
    gateway mints Vertex's own. A denial is the SDK's `RateLimitError`."""
    try:
        import anthropic
    except ImportError as err:
        raise _missing("anthropic") from err
    headers = proxy_headers(api_key, user, metadata=metadata, run=run, action=action, kind=kind)
    return anthropic.AnthropicVertex(**_vertex_options(gateway_url, upstream, api_key, headers, project, region,
                                                       client_kwargs))


def async_anthropic_vertex_client(gateway_url: str, api_key: str, *, project: str, region: str,
                                  user: Optional[str] = None, upstream: str = "vertex",
                                  metadata: Optional[Metadata] = None, run: Optional[str] = None,
                                  action: Optional[str] = None, kind: Optional[StepKind] = None,
                                  **client_kwargs: Any) -> anthropic.AsyncAnthropicVertex:
    """As `anthropic_vertex_client`, an `anthropic.AsyncAnthropicVertex`."""
    try:
        import anthropic
    except ImportError as err:
        raise _missing("anthropic") from err
    headers = proxy_headers(api_key, user, metadata=metadata, run=run, action=action, kind=kind)
    return anthropic.AsyncAnthropicVertex(**_vertex_options(gateway_url, upstream, api_key, headers, project, region,
                                                            client_kwargs))
