#!/usr/bin/python3
"""An alert webhook receiver for alert_webhook_test: a real HTTP(S) server on loopback.

Each POST is recorded as one JSON line in --record: its Idempotency-Key, Content-Type, the status
answered and the body. The first --fail-first POSTs are answered 500; with --hang each POST is
recorded and then never answered. --cert/--key serve HTTPS. --ready is written once listening.
"""
import argparse
import http.server
import json
import ssl
import threading
import time

# A hanging answer waits this long: far beyond any test.
HANG_SECONDS = 3600


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    lock = threading.Lock()
    seen = [0]

    def record(entry):
        with lock, open(args.record, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            entry = {
                "key": self.headers.get("Idempotency-Key"),
                "content_type": self.headers.get("Content-Type"),
                "body": body,
            }
            if args.hang:
                entry["status"] = 0
                record(entry)
                time.sleep(HANG_SECONDS)
                return
            with lock:
                seen[0] += 1
                status = 500 if seen[0] <= args.fail_first else 200
            entry["status"] = status
            record(entry)
            reply = b"{}"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(args.ready, "w", encoding="utf-8") as ready:
        ready.write("ready\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
