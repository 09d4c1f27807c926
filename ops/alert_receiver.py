#!/usr/bin/env python3
"""A minimal receiver for duankad's alert webhook ([alerts] webhook_url), for the demo and as a
starting point for an integrator: it appends each alert (one JSON object per POST) as a line to
--out, keyed by its Idempotency-Key so that a redelivery (at-least-once) is recognised, and answers
204. A real receiver hands the alert to the core banking system before it answers 2xx: duankad
moves its cursor only after a 2xx, so nothing acknowledged is lost.

  ops/alert_receiver.py --port 8089 --out alerts.jsonl
"""
import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A webhook POST carries one alert: a few hundred bytes. Anything far larger is not ours.
MAX_BODY_BYTES = 1 << 20


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="loopback port to listen on")
    parser.add_argument("--out", required=True, help="file the alerts are appended to")
    args = parser.parse_args()
    seen = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            key = self.headers.get("Idempotency-Key", "")
            if length <= 0 or length > MAX_BODY_BYTES or not key:
                self.send_error(400, "expected a JSON body and an Idempotency-Key header")
                return
            body = self.rfile.read(length)
            try:
                alert = json.loads(body)
            except ValueError:
                self.send_error(400, "the body is not JSON")
                return
            if key not in seen:  # a redelivery of an alert already handed on changes nothing
                seen.add(key)
                with open(args.out, "a", encoding="utf-8") as out:
                    out.write(json.dumps(alert, separators=(",", ":")) + "\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, format, *log_args):  # keep the demo's output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"alert receiver on 127.0.0.1:{args.port}, writing {args.out}", file=sys.stderr)
    server.serve_forever()


if __name__ == "__main__":
    main()
