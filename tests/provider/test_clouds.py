"""The simulator's clouds (Azure OpenAI, Amazon Bedrock, Vertex AI), driven by the official clients
pointed straight at it: `openai.AzureOpenAI`, boto3's `bedrock-runtime`, `anthropic.AnthropicBedrock`
and `AnthropicVertex`, and `google.genai` on Vertex AI with a service account whose token URI is
the simulator's. Each check asserts that the counts the client read are those the read-back sums.

    python3 tests/provider/test_clouds.py     (in an interpreter with openai, anthropic, boto3,
                                               google-genai: target/py-sdk-venv; else skipped)

Keys and the TLS certificate are made by `openssl` in a temporary directory.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import warnings
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from clouds.eventstream import decode  # noqa: E402
from simulated import Sim  # noqa: E402

try:
    import anthropic
    import boto3
    import botocore.config
    import botocore.exceptions
    import google.auth.exceptions
    import google.auth.transport.requests
    import openai
    from google import genai
    import google.genai.errors
    from google.oauth2 import service_account
except ImportError:  # run by test_sim.py in an interpreter that has them, or skipped
    anthropic = boto3 = openai = genai = service_account = None  # type: ignore[assignment]

KEY = "sk-cloud-secret"
AWS = ("AKIDSIMULATOR", "sim-secret-access-key", "sim-session-token")
BEDROCK_MODEL = "us.anthropic.claude-3-5-sonnet-20241022-v2:0"
PROJECT, LOCATION = "sim-project", "us-central1"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
HELLO = [{"role": "user", "content": "say hello to me"}]

work = tempfile.TemporaryDirectory(prefix="sim-clouds-")


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_keys(where: str) -> Tuple[str, str, str]:
    """A service account's RSA key (PKCS #8 PEM) and a self-signed certificate for 127.0.0.1."""
    key = os.path.join(where, "service-account.pem")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key)
    cert, tls_key = os.path.join(where, "tls.crt"), os.path.join(where, "tls.key")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", tls_key, "-out", cert, "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    return key, cert, tls_key


def write_service_account(path: str, key_pem: str, token_uri: str) -> str:
    """A service account's JSON as Google issues it, its `token_uri` the simulator's `/token`."""
    with open(key_pem) as file:
        private_key = file.read()
    with open(path, "w") as file:
        json.dump({"type": "service_account", "project_id": PROJECT, "private_key_id": "sim-key-1",
                   "private_key": private_key, "client_email": f"sim@{PROJECT}.iam.gserviceaccount.com",
                   "client_id": "1", "token_uri": token_uri}, file)
    return path


sim: Optional[Sim] = None
keys: Tuple[str, str, str] = ("", "", "")


def setUpModule() -> None:
    global sim, keys
    if openai is None:
        return
    keys = make_keys(work.name)
    sim = Sim("--key", KEY, "--aws-key", ":".join(AWS), "--google-key", keys[0],
              "--azure-deployments", "prod-chat=gpt-4o-mini,prod-embed=text-embedding-3-small",
              "--tls-cert", keys[1], "--tls-key", keys[2])
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_BEARER_TOKEN_BEDROCK"):
        os.environ.pop(name, None)
    os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def tearDownModule() -> None:
    if sim is not None:
        sim.stop()
    work.cleanup()


class CloudCase(unittest.TestCase):
    def setUp(self) -> None:
        if openai is None or sim is None:
            self.skipTest("needs openai, anthropic, boto3 and google-genai (target/py-sdk-venv)")
        self.sim = sim
        sim.reset()

    def assertCounted(self, input_tokens: int, output_tokens: int) -> None:
        found = self.sim.usage()
        self.assertEqual((found["input_tokens"], found["output_tokens"]), (input_tokens, output_tokens))

    def assertStreamCounted(self, client: Any, model: str) -> Any:
        """An Anthropic cloud client's stream of two output tokens, its counts those the simulator
        reports; its final message."""
        self.sim.reset()
        with client.messages.stream(model=model, max_tokens=100, messages=HELLO,
                                    extra_headers={"x-sim": "output=2"}) as stream:
            final = stream.get_final_message()
        self.assertEqual(final.usage.output_tokens, 2)
        self.assertCounted(final.usage.input_tokens, final.usage.output_tokens)
        return final

    def credentials(self, on: Optional[Sim] = None) -> Any:
        on = on or self.sim
        path = write_service_account(os.path.join(work.name, f"sa-{on.port}.json"), keys[0], on.base + "/token")
        return service_account.Credentials.from_service_account_file(path, scopes=SCOPES)


class Azure(CloudCase):
    def client(self, key: str = KEY) -> Any:
        return openai.AzureOpenAI(azure_endpoint=self.sim.base, api_key=key, api_version="2024-10-21", max_retries=0)

    def test_chat_plain_and_streamed_through_a_named_deployment_report_the_counts_sent(self) -> None:
        client = self.client()
        raw = client.chat.completions.with_raw_response.create(model="prod-chat", messages=HELLO)
        answer = raw.parse()
        self.assertTrue(raw.headers["apim-request-id"] and raw.headers["x-request-id"])
        self.assertEqual(answer.model, "gpt-4o-mini")
        assert answer.usage is not None
        self.assertEqual((answer.usage.prompt_tokens, answer.usage.completion_tokens), (10, 5))
        self.assertCounted(10, 5)
        self.assertEqual(self.sim.stats()["requests"][-1]["path"], "/openai/deployments/prod-chat/chat/completions")
        self.sim.reset()
        chunks = list(client.chat.completions.create(model="prod-chat", messages=HELLO, stream=True,
                                                     stream_options={"include_usage": True}, extra_headers={"x-sim": "output=3"}))
        usage = chunks[-1].usage
        assert usage is not None
        self.assertEqual("".join(c.choices[0].delta.content or "" for c in chunks if c.choices), "tok0 tok1 tok2")
        self.assertCounted(usage.prompt_tokens, usage.completion_tokens)
        self.assertEqual(usage.completion_tokens, 3)

    def test_embeddings_and_the_v1_shape_with_the_deployment_in_the_body(self) -> None:
        found = self.client().embeddings.create(model="prod-embed", input=["one two", "three"])
        self.assertEqual((len(found.data), found.model, found.usage.prompt_tokens), (2, "text-embedding-3-small", 3))
        self.assertCounted(3, 0)
        self.sim.reset()
        v1 = openai.OpenAI(base_url=self.sim.base + "/openai/v1", api_key=KEY, max_retries=0)
        answer = v1.chat.completions.create(model="prod-chat", messages=HELLO)
        assert answer.usage is not None
        self.assertEqual(answer.model, "gpt-4o-mini")
        self.assertCounted(answer.usage.prompt_tokens, answer.usage.completion_tokens)

    def test_a_wrong_key_or_no_api_version_is_refused_in_azures_shape(self) -> None:
        with self.assertRaises(openai.AuthenticationError) as caught:
            self.client("wrong").chat.completions.create(model="prod-chat", messages=HELLO)
        self.assertEqual(caught.exception.body["code"], "401")  # type: ignore[index]
        status, _, body = self.sim.call("/openai/deployments/prod-chat/chat/completions", {"messages": HELLO},
                                        {"api-key": KEY})
        self.assertEqual((status, json.loads(body)), (404, {"error": {"code": "404", "message": "Resource not found"}}))
        status, headers, _ = self.sim.call("/openai/deployments/prod-chat/chat/completions?api-version=2024-10-21",
                                           {"messages": HELLO}, {"Authorization": f"Bearer {KEY}"})
        self.assertEqual(status, 200)
        self.assertIn("apim-request-id", {k.lower() for k in headers})
        self.assertCounted(10, 5)


class Bedrock(CloudCase):
    def client(self, secret: str = AWS[1], endpoint: Optional[str] = None, **extra: Any) -> Any:
        config = botocore.config.Config(retries={"max_attempts": 1})
        return boto3.client("bedrock-runtime", region_name="us-west-2", endpoint_url=endpoint or self.sim.base,
                            aws_access_key_id=AWS[0], aws_secret_access_key=secret, aws_session_token=AWS[2],
                            config=config, **extra)

    def test_converse_reports_bedrocks_usage_and_stop_reason(self) -> None:
        found = self.client().converse(modelId=BEDROCK_MODEL, system=[{"text": "be brief"}],
                                       messages=[{"role": "user", "content": [{"text": "say hello to me"}]}],
                                       inferenceConfig={"maxTokens": 3})
        self.assertEqual(found["stopReason"], "max_tokens")
        self.assertEqual(found["output"]["message"]["content"], [{"text": "tok0 tok1 tok2"}])
        usage = found["usage"]
        self.assertEqual((usage["inputTokens"], usage["outputTokens"], usage["totalTokens"]), (12, 3, 15))
        self.assertCounted(12, 3)
        self.assertTrue(found["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"])
        self.assertEqual(self.sim.stats()["requests"][-1]["path"], "/model/us.anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse")

    def test_converse_stream_read_event_by_event_ends_in_its_metadata_usage(self) -> None:
        found = self.client().converse_stream(modelId=BEDROCK_MODEL, messages=[
            {"role": "user", "content": [{"text": "say hello to me"}]}])
        events = list(found["stream"])
        self.assertEqual([next(iter(e)) for e in events],
                         ["messageStart"] + ["contentBlockDelta"] * 5 + ["contentBlockStop", "messageStop", "metadata"])
        self.assertEqual("".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e),
                         "tok0 tok1 tok2 tok3 tok4")
        self.assertEqual(events[-2]["messageStop"]["stopReason"], "end_turn")
        usage = events[-1]["metadata"]["usage"]
        self.assertEqual((usage["inputTokens"], usage["outputTokens"]), (10, 5))
        self.assertCounted(usage["inputTokens"], usage["outputTokens"])

    def test_invoke_takes_anthropics_body_and_answers_its_message(self) -> None:
        body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": HELLO}
        found = self.client().invoke_model(modelId=BEDROCK_MODEL, body=json.dumps(body))
        message = json.loads(found["body"].read())
        self.assertEqual((message["type"], message["stop_reason"]), ("message", "end_turn"))
        usage = message["usage"]
        self.assertEqual(found["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-output-token-count"],
                         str(usage["output_tokens"]))
        self.assertCounted(usage["input_tokens"], usage["output_tokens"])
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            self.client().invoke_model(modelId=BEDROCK_MODEL, body=json.dumps({**body, "model": "x"}))
        self.assertEqual(caught.exception.response["Error"]["Code"], "ValidationException")

    def test_invoke_with_response_stream_wraps_each_event_and_ends_with_the_invocation_metrics(self) -> None:
        body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": HELLO}
        found = self.client().invoke_model_with_response_stream(modelId=BEDROCK_MODEL, body=json.dumps(body))
        events = [json.loads(e["chunk"]["bytes"]) for e in found["body"]]
        self.assertEqual([e["type"] for e in events][:3], ["message_start", "content_block_start", "content_block_delta"])
        self.assertEqual(events[-1]["type"], "message_stop")
        metrics = events[-1]["amazon-bedrock-invocationMetrics"]
        self.assertEqual((metrics["inputTokenCount"], metrics["outputTokenCount"]), (10, 5))
        self.assertCounted(metrics["inputTokenCount"], metrics["outputTokenCount"])

    def test_a_bad_signature_a_wrong_key_or_none_is_refused_as_aws_refuses_it(self) -> None:
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            self.client(secret="not-the-secret").converse(
                modelId=BEDROCK_MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}])
        error = caught.exception.response
        self.assertEqual((error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]),
                         ("InvalidSignatureException", 403))
        status, headers, raw = self.sim.call(f"/model/{BEDROCK_MODEL}/converse", {"messages": []})
        self.assertEqual((status, json.loads(raw)), (403, {"message": "Missing Authentication Token"}))
        self.assertTrue(headers["x-amzn-ErrorType"].startswith("MissingAuthenticationTokenException:"))
        self.assertEqual(self.sim.usage()["input_tokens"], 0)

    def test_a_bedrock_api_key_is_taken_as_a_bearer_token_over_tls(self) -> None:
        os.environ["AWS_BEARER_TOKEN_BEDROCK"] = KEY
        try:
            client = boto3.client("bedrock-runtime", region_name="us-west-2", verify=keys[1],
                                  endpoint_url=f"https://127.0.0.1:{self.sim.tls_port}")
            found = client.converse(modelId=BEDROCK_MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}])
        finally:
            del os.environ["AWS_BEARER_TOKEN_BEDROCK"]
        self.assertEqual(self.sim.stats()["requests"][-1]["headers"]["authorization"], f"Bearer {KEY}")
        self.assertCounted(found["usage"]["inputTokens"], found["usage"]["outputTokens"])

    def test_anthropic_bedrock_client_plain_and_streamed(self) -> None:
        client = anthropic.AnthropicBedrock(aws_access_key=AWS[0], aws_secret_key=AWS[1], aws_session_token=AWS[2],
                                            aws_region="us-west-2", base_url=self.sim.base, max_retries=0)
        message = client.messages.create(model=BEDROCK_MODEL, max_tokens=100, messages=HELLO)  # type: ignore[arg-type]
        self.assertCounted(message.usage.input_tokens, message.usage.output_tokens)
        self.assertStreamCounted(client, BEDROCK_MODEL)


class Vertex(CloudCase):
    def genai(self, on: Optional[Sim] = None) -> Any:
        on = on or self.sim
        return genai.Client(vertexai=True, project=PROJECT, location=LOCATION, credentials=self.credentials(on),
                            http_options=genai.types.HttpOptions(base_url=on.base))

    def test_gemini_generate_plain_and_streamed_and_count_tokens_with_a_minted_token(self) -> None:
        client = self.genai()
        found = client.models.generate_content(model="gemini-2.5-flash", contents="say hello to me")
        usage = found.usage_metadata
        assert usage is not None
        self.assertEqual((found.text, usage.prompt_token_count, usage.candidates_token_count),
                         ("tok0 tok1 tok2 tok3 tok4", 10, 5))
        self.assertCounted(10, 5)
        path = self.sim.stats()["requests"][-1]["path"]
        self.assertEqual(path, f"/v1beta1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/"
                               "gemini-2.5-flash:generateContent")
        self.assertEqual(self.sim.stats()["clouds"]["tokens_minted"], 1)
        self.sim.reset()
        chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="say hello to me",
                                                            config={"http_options": {"headers": {"x-sim": "output=3"}}}))
        last = chunks[-1].usage_metadata
        assert last is not None
        self.assertEqual(("".join(c.text or "" for c in chunks), last.candidates_token_count), ("tok0 tok1 tok2", 3))
        self.assertCounted(last.prompt_token_count or 0, last.candidates_token_count or 0)
        self.assertEqual(client.models.count_tokens(model="gemini-2.5-flash", contents="say hello to me").total_tokens, 10)
        self.assertNotIn("tokens_minted", self.sim.stats()["clouds"], "the token is used again while it lives")

    def test_anthropic_vertex_plain_streamed_and_counted(self) -> None:
        client = anthropic.AnthropicVertex(region=LOCATION, project_id=PROJECT, credentials=self.credentials(),
                                           base_url=self.sim.base + "/v1", max_retries=0)
        model = "claude-sonnet-4-5@20250929"
        message = client.messages.create(model=model, max_tokens=100, messages=HELLO)  # type: ignore[arg-type]
        self.assertEqual(message.model, model)
        self.assertCounted(message.usage.input_tokens, message.usage.output_tokens)
        self.assertTrue(self.sim.stats()["requests"][-1]["path"].endswith(f"/publishers/anthropic/models/{model}:rawPredict"))
        final = self.assertStreamCounted(client, model)
        counted = client.messages.count_tokens(model=model, messages=HELLO)  # type: ignore[arg-type]
        self.assertEqual(counted.input_tokens, final.usage.input_tokens)

    def test_a_short_lifetime_mints_a_token_per_call_and_an_expired_or_unknown_token_is_refused(self) -> None:
        short = Sim("--google-key", keys[0], "--token-lifetime", "1")
        try:
            client = self.genai(short)
            for _ in range(3):
                client.models.generate_content(model="gemini-2.5-flash", contents="hi")
            self.assertEqual(short.stats()["clouds"]["tokens_minted"], 3)
            credentials = self.credentials(short)
            credentials.refresh(google.auth.transport.requests.Request())
            path = f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/gemini-2.5-flash:generateContent"
            body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
            self.assertEqual(short.call(path, body, {"Authorization": f"Bearer {credentials.token}"})[0], 200)
            time.sleep(1.1)  # the token's lifetime, once
            for token in (credentials.token, "ya29.unknown"):
                status, _, raw = short.call(path, body, {"Authorization": f"Bearer {token}"})
                self.assertEqual((status, json.loads(raw)["error"]["status"]), (401, "UNAUTHENTICATED"))
        finally:
            short.stop()

    def test_a_grant_signed_by_another_key_is_refused(self) -> None:
        other = os.path.join(work.name, "other.pem")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", other)
        path = write_service_account(os.path.join(work.name, "other.json"), other, self.sim.base + "/token")
        credentials = service_account.Credentials.from_service_account_file(path, scopes=SCOPES)
        with self.assertRaises(google.auth.exceptions.RefreshError) as caught:
            credentials.refresh(google.auth.transport.requests.Request())
        self.assertIn("Invalid JWT Signature", str(caught.exception))
        self.assertNotIn("tokens_minted", self.sim.stats()["clouds"])


class OpenAIMore(CloudCase):
    def test_an_image_edit_counts_each_input_image_and_the_prompt_as_gpt_image_1_reports_them(self) -> None:
        client = openai.OpenAI(base_url=self.sim.base + "/v1", api_key=KEY, max_retries=0)
        png = ("in.png", io.BytesIO(b"\x89PNG" + bytes(60)), "image/png")
        found = client.images.edit(model="gpt-image-1", image=[png, ("b.png", b"\x89PNG", "image/png")],
                                   mask=("m.png", b"\x89PNG", "image/png"), prompt="add a red hat", n=2)
        usage = found.usage
        assert usage is not None and found.data is not None
        self.assertEqual((len(found.data), usage.input_tokens_details.image_tokens,
                          usage.input_tokens_details.text_tokens, usage.output_tokens), (2, 130, 4, 10))
        self.assertCounted(usage.input_tokens, usage.output_tokens)
        self.assertEqual(self.sim.usage()["images"], 2)
        self.sim.reset()
        one = client.images.edit(image=png, prompt="a hat")
        assert one.usage is not None
        self.assertEqual(one.usage.input_tokens_details.image_tokens, 65)
        self.assertCounted(one.usage.input_tokens, one.usage.output_tokens)

    def test_a_remix_makes_a_new_video_job_from_a_completed_one(self) -> None:
        warnings.simplefilter("ignore", DeprecationWarning)
        client = openai.OpenAI(base_url=self.sim.base + "/v1", api_key=KEY, max_retries=0)
        made = client.videos.create_and_poll(prompt="a red cat", seconds="8", size="1280x720")
        remix = client.videos.remix(made.id, prompt="a blue cat")
        self.assertEqual((remix.status, remix.remixed_from_video_id, remix.seconds, remix.size),
                         ("queued", made.id, "8", "1280x720"))
        self.assertNotEqual(remix.id, made.id)
        self.assertEqual(client.videos.retrieve(remix.id).status, "in_progress")
        pending = client.videos.create(prompt="a dog")
        with self.assertRaises(openai.BadRequestError):
            client.videos.remix(pending.id, prompt="a cat")


class GoogleMore(CloudCase):
    def client(self) -> Any:
        return genai.Client(api_key=KEY, http_options=genai.types.HttpOptions(base_url=self.sim.base))

    def test_embeddings_one_per_content_without_usage_as_google_answers(self) -> None:
        client = self.client()
        found = client.models.embed_content(model="gemini-embedding-001", contents=["one two", "three"],
                                            config={"output_dimensionality": 4})
        assert found.embeddings is not None
        self.assertEqual([len(e.values or []) for e in found.embeddings], [4, 4])
        one = client.models.embed_content(model="gemini-embedding-001", contents="one")
        assert one.embeddings is not None
        self.assertEqual(len(one.embeddings), 1)
        self.assertCounted(0, 0)  # Google reports no usage here, and the read-back sums what was sent

    def test_a_file_is_uploaded_resumably_read_listed_and_deleted(self) -> None:
        client = self.client()
        data = b"hello file " * 1000
        made = client.files.upload(file=io.BytesIO(data), config={"mime_type": "text/plain", "display_name": "notes"})
        self.assertEqual((made.size_bytes, made.state, made.display_name, made.mime_type),
                         (len(data), genai.types.FileState.ACTIVE, "notes", "text/plain"))
        assert made.name is not None
        self.assertEqual(client.files.get(name=made.name).size_bytes, len(data))
        self.assertIn(made.name, [f.name for f in client.files.list()])
        client.files.delete(name=made.name)
        with self.assertRaises(genai.errors.ClientError):
            client.files.get(name=made.name)

    def test_a_batch_moves_along_by_its_reads_to_per_request_results_with_generate_contents_usage(self) -> None:
        client = self.client()
        requests = [{"contents": [{"role": "user", "parts": [{"text": "say hello to me"}]}]},
                    {"contents": [{"role": "user", "parts": [{"text": "one two"}]}]}]
        made = client.batches.create(model="gemini-2.5-flash", src=requests,  # type: ignore[arg-type]
                                     config={"display_name": "sim", "http_options": {"headers": {"x-sim": "output=3, reads=3"}}})
        assert made.name is not None and made.state is not None
        states = [made.state.name]
        job = made
        for _ in range(5):
            job = client.batches.get(name=made.name)
            assert job.state is not None
            states.append(job.state.name)
            if job.done:
                break
        self.assertEqual(states, ["JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED"])
        assert job.dest is not None and job.dest.inlined_responses is not None
        usages = [r.response.usage_metadata for r in job.dest.inlined_responses if r.response is not None]
        self.assertEqual([(u.prompt_token_count, u.candidates_token_count) for u in usages if u], [(10, 3), (8, 3)])
        self.assertEqual(self.sim.stats()["jobs"][made.name]["reads"], 3)
        self.sim.reset()
        direct = client.models.generate_content(model="gemini-2.5-flash", contents="say hello to me",
                                                config={"http_options": {"headers": {"x-sim": "output=3"}}})
        assert direct.usage_metadata is not None
        self.assertEqual((direct.usage_metadata.prompt_token_count, direct.usage_metadata.candidates_token_count), (10, 3))
        self.assertCounted(10, 3)

    def upload_jsonl(self, client: Any, lines: List[str]) -> Any:
        made = client.files.upload(file=io.BytesIO("\n".join(lines).encode()), config={"mime_type": "jsonl"})
        assert made.name is not None
        return made

    def read_raw(self, path: str, headers: Dict[str, str]) -> Tuple[int, Dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(urllib.request.Request(self.sim.base + path, headers=headers), timeout=10) as got:
                return got.status, dict(got.headers), got.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def test_a_batch_from_an_uploaded_jsonl_file_answers_into_a_generated_file_that_downloads(self) -> None:
        client = self.client()
        asked = [("k2", "say hello to me"), ("k0", "one two"), ("k1", "three")]
        lines = [json.dumps({"key": key, "request": {"contents": [{"role": "user", "parts": [{"text": text}]}]}})
                 for key, text in asked]
        source = self.upload_jsonl(client, lines[:1] + [""] + lines[1:])  # a blank line is skipped
        self.assertEqual((source.source, source.download_uri), (genai.types.FileSource.UPLOADED, None))
        made = client.batches.create(model="gemini-2.5-flash", src=source.name,
                                     config={"http_options": {"headers": {"x-sim": "output=3"}}})
        assert made.name is not None and made.state is not None
        states, job = [made.state.name], made
        while not job.done and len(states) < 5:
            job = client.batches.get(name=made.name)
            assert job.state is not None
            states.append(job.state.name)
        self.assertEqual(states, ["JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED"])
        assert job.dest is not None
        results = f"files/batch-{made.name.split('/')[1]}"
        self.assertEqual((job.dest.file_name, job.dest.inlined_responses), (results, None))
        data = client.files.download(file=job.dest.file_name)
        found = [json.loads(line) for line in data.decode().splitlines()]
        self.assertEqual([line["key"] for line in found], ["k2", "k0", "k1"])
        usages = [line["response"]["usageMetadata"] for line in found]
        self.assertEqual([(u["promptTokenCount"], u["candidatesTokenCount"]) for u in usages], [(10, 3), (8, 3), (7, 3)])
        shown = client.files.get(name=results)
        self.assertEqual((shown.source, shown.mime_type, shown.size_bytes), (genai.types.FileSource.GENERATED,
                                                                            "application/jsonl", len(data)))
        assert shown.download_uri is not None
        self.assertTrue(shown.download_uri.endswith(f"/download/v1beta/{results}:download?alt=media"))
        status, headers, raw = self.read_raw(shown.download_uri.split(str(self.sim.port), 1)[1], {"x-goog-api-key": KEY})
        self.assertEqual((status, headers["Content-Type"], raw), (200, "application/octet-stream", data))
        self.assertEqual(self.read_raw(f"/v1beta/{results}:download?alt=media", {})[0], 403)  # no key
        status, _, raw = self.read_raw(f"/v1beta/{made.name}", {"x-goog-api-key": KEY})
        operation = json.loads(raw)
        self.assertEqual((status, operation["metadata"]["output"], operation["response"]["output"]),
                         (200, {"responsesFile": results}, {"responsesFile": results}))
        self.assertEqual(operation["metadata"]["batchStats"], {"requestCount": "3", "pendingRequestCount": "0",
                                                               "successfulRequestCount": "3", "failedRequestCount": "0"})
        self.assertCounted(0, 0)  # a batch's requests are not calls

    def test_a_file_line_the_call_would_refuse_is_an_error_line_in_the_generated_file(self) -> None:
        client = self.client()
        hello = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        source = self.upload_jsonl(client, [json.dumps({"key": "ok", "request": hello}),
                                            json.dumps({"key": "pro", "request": {**hello, "model": "gemini-2.5-pro"}})])
        made = client.batches.create(model="gemini-2.5-flash", src=source.name, config={
            "http_options": {"headers": {"x-sim": "reads=1, status=429@gemini-2.5-pro"}}})
        assert made.name is not None
        job = client.batches.get(name=made.name)
        assert job.dest is not None and job.dest.file_name is not None
        found = [json.loads(line) for line in client.files.download(file=job.dest.file_name).decode().splitlines()]
        self.assertEqual([sorted(line) for line in found], [["key", "response"], ["error", "key"]])
        self.assertEqual((found[1]["key"], found[1]["error"]["code"], found[1]["error"]["status"]),
                         ("pro", 429, "RESOURCE_EXHAUSTED"))

    def test_an_uploaded_file_cannot_be_downloaded_nor_a_missing_one(self) -> None:
        client = self.client()
        made = self.upload_jsonl(client, ['{"key": "a", "request": {}}'])
        with self.assertRaises(genai.errors.ClientError) as caught:
            client.files.download(file=made.name)
        self.assertEqual((caught.exception.code, caught.exception.status), (400, "INVALID_ARGUMENT"))
        self.assertIn("Only generated files can be downloaded", caught.exception.message or "")
        with self.assertRaises(genai.errors.ClientError) as caught:
            client.files.download(file="files/nosuchfile")
        self.assertEqual(caught.exception.code, 403)

    def test_a_batch_naming_a_missing_file_a_bad_line_or_both_sources_is_refused_at_its_create(self) -> None:
        client = self.client()
        with self.assertRaises(genai.errors.ClientError) as caught:
            client.batches.create(model="gemini-2.5-flash", src="files/nosuchfile")
        self.assertEqual(caught.exception.code, 400)
        self.assertIn("files/nosuchfile", caught.exception.message or "")
        bad = self.upload_jsonl(client, ['{"key": "a", "request": {}}', "not json", '{"request": {}}'])
        with self.assertRaises(genai.errors.ClientError) as caught:
            client.batches.create(model="gemini-2.5-flash", src=bad.name)
        self.assertEqual(caught.exception.code, 400)
        self.assertIn(f"line 2 of {bad.name}", caught.exception.message or "")
        good = self.upload_jsonl(client, ['{"key": "a", "request": {}}'])
        both = {"batch": {"inputConfig": {"file_name": good.name,
                                          "requests": {"requests": [{"request": {"contents": []}}]}}}}
        status, _, raw = self.sim.call("/v1beta/models/gemini-2.5-flash:batchGenerateContent", both,
                                       {"x-goog-api-key": KEY})
        self.assertEqual((status, json.loads(raw)["error"]["status"]), (400, "INVALID_ARGUMENT"))
        self.assertEqual([j for j in self.sim.stats()["jobs"].values() if j["kind"] == "gemini_batch"], [])
        alone = {"batch": {"input_config": {"file_name": good.name}}}  # the proto names, as Google takes them
        status, _, raw = self.sim.call("/v1beta/models/gemini-2.5-flash:batchGenerateContent", alone,
                                       {"x-goog-api-key": KEY})
        self.assertEqual((status, json.loads(raw)["metadata"]["batchStats"]["requestCount"]), (200, "1"))

    def test_an_upload_over_64_mib_is_refused(self) -> None:
        start = {"x-goog-api-key": KEY, "X-Goog-Upload-Command": "start", "X-Goog-Upload-Protocol": "resumable",
                 "X-Goog-Upload-Header-Content-Length": str((64 << 20) + 1)}
        status, _, raw = self.sim.call("/upload/v1beta/files", {"file": {"mimeType": "jsonl"}}, start)
        self.assertEqual((status, json.loads(raw)["error"]["status"]), (400, "INVALID_ARGUMENT"))
        # Announced small, then sent too large: refused at the chunk that passes the bound.
        small = {**start, "X-Goog-Upload-Header-Content-Length": "4"}
        status, headers, _ = self.sim.call("/upload/v1beta/files", {"file": {}}, small)
        url = headers["x-goog-upload-url"].split(str(self.sim.port), 1)[1]
        chunk = urllib.request.Request(self.sim.base + url, data=bytes((64 << 20) + 1), method="POST", headers={
            "X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "0"})
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(chunk, timeout=30)
        self.assertEqual(json.loads(caught.exception.read())["error"]["code"], 400)

    def test_a_cache_made_through_the_client_is_counted_in_the_calls_that_name_it(self) -> None:
        client = self.client()
        cache = client.caches.create(model="gemini-2.5-flash", config={
            "contents": [{"role": "user", "parts": [{"text": "a long shared document of words"}]}], "ttl": "300s"})
        assert cache.name is not None and cache.usage_metadata is not None
        found = client.models.generate_content(model="gemini-2.5-flash", contents="and now",
                                               config={"cached_content": cache.name})
        usage = found.usage_metadata
        assert usage is not None
        self.assertEqual(usage.cached_content_token_count, cache.usage_metadata.total_token_count)
        self.assertCounted(usage.prompt_token_count or 0, usage.candidates_token_count or 0)
        self.assertEqual(self.sim.usage()["cached_input_tokens"], usage.cached_content_token_count)


if __name__ == "__main__":
    unittest.main()
