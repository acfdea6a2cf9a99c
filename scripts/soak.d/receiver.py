"""The soak's webhook receiver: a loopback HTTP server that verifies each delivery's Standard
Webhooks signature, appends it to a log (written before it answers 200, so a delivery answered
is a delivery logged) and answers 200.

Usage: receiver.py PORT SECRET LOG. The soak kills it and starts it again on the same port to
take the receiver down for a minute.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import sys


def main():
    port, secret, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    key = base64.b64decode(secret.removeprefix("whsec_"))
    log = open(path, "a", buffering=1)

    def verified(headers, body):
        msg_id, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
        signed = f"{msg_id}.{ts}.".encode() + body
        want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        return any(
            sig.startswith("v1,") and hmac.compare_digest(sig[3:], want)
            for sig in headers.get("webhook-signature", "").split()
        )

    async def serve(reader, writer):
        try:
            # One delivery per request; keep-alive connections carry several (bounded by the
            # sender: the loop ends when it closes the connection).
            while True:
                line = await asyncio.wait_for(reader.readline(), 30)
                if not line:
                    break
                headers = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b""):
                        break
                    name, _, value = h.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                entry = {
                    "id": headers.get("webhook-id"),
                    "signed": verified(headers, body),
                    "body": body.decode("utf-8", "replace"),
                }
                log.write(json.dumps(entry) + "\n")
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()

    async def run():
        server = await asyncio.start_server(serve, "127.0.0.1", port)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(run())


if __name__ == "__main__":
    main()
