"""The demo's webhook receiver: prints every delivery it gets, with its signature checked."""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


def serve(port, secret):
    webhook = Webhook(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                payload = webhook.verify(body, dict(self.headers))
                verdict = "signature ok"
            except WebhookVerificationError as error:
                payload, verdict = json.loads(body or b"null"), f"BAD SIGNATURE ({error})"
            print(
                f"[receiver] {payload.get('type')} {verdict}: "
                f"{json.dumps(payload.get('data'))[:200]}",
                flush=True,
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"[receiver] listening on http://127.0.0.1:{port}/hook", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
