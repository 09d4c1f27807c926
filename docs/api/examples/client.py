#!/usr/bin/python3
"""A minimal client of the duanka node API (docs/api/openapi.yaml), Python standard library only.

    client.py [CONNECTION] status
    client.py [CONNECTION] lookup TYPE VALUE [--purpose PURPOSE]
    client.py [CONNECTION] batch [--purpose PURPOSE] TYPE:VALUE...

CONNECTION: --url URL (default http://127.0.0.1:7480), and for an API opened to the network
--cacert FILE (the CA of the API's certificate), --token-file FILE (a bearer token from
`duanka-admin api-client add NAME`) and/or --cert FILE --key FILE (a client certificate).
The token is read from a file, never taken on the command line, where `ps` would show it.

Exit codes follow `duanka lookup`: 0 listed (batch: at least one item listed), 1 not listed,
2 invalid input (an invalid batch item is reported on its line and does not count), 3 the node
could not answer (unreachable, refused, or an error status). `status` exits 0 or 3.
Errors are one line on stderr. The identifier looked up is never printed back: answers name the
entry, not the person.
"""

import argparse
import json
import ssl
import sys
import urllib.error
import urllib.request

EXIT_LISTED, EXIT_NOT_LISTED, EXIT_INVALID, EXIT_FAILED = 0, 1, 2, 3
# A lookup is answered in well under a second; this bounds a node that hangs.
TIMEOUT_SECONDS = 20
PURPOSES = ("account-opening", "periodic-review", "transaction-review", "appeal", "investigation")


class ApiError(Exception):
    """An error status (with the node's one-line {"error"} message), or no answer at all."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Client:
    def __init__(self, url, cacert=None, token=None, cert=None, key=None):
        self.url = url.rstrip("/")
        self.token = token
        self.context = None
        if self.url.startswith("https://"):
            self.context = ssl.create_default_context(cafile=cacert)
            if cert:
                self.context.load_cert_chain(cert, key)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS,
                                        context=self.context) as response:
                return json.load(response)
        except urllib.error.HTTPError as e:
            # Every error the API answers is {"error": "..."}: what was wrong, what is expected.
            try:
                message = json.load(e).get("error", e.reason)
            except ValueError:
                message = e.reason
            raise ApiError(e.code, f"HTTP {e.code}: {message}") from None
        except (urllib.error.URLError, OSError) as e:
            raise ApiError(None, f"cannot reach {self.url}: {getattr(e, 'reason', e)}") from None

    def status(self):
        return self.call("GET", "/v1/status")

    def lookup(self, id_type, value, purpose):
        body = {"type": id_type, "value": value, "purpose": purpose}
        return self.call("POST", "/v1/lookup", body)

    def lookup_batch(self, items, purpose):
        body = {"purpose": purpose, "items": [{"type": t, "value": v} for t, v in items]}
        return self.call("POST", "/v1/lookup/batch", body)


def describe(answer):
    """One line for an answer: listed with its active entries, or not listed."""
    if not answer["listed"]:
        return "not listed"
    entries = ", ".join(f"{e['entry']} {e['category']} ({e['basis']}, until {e['expires_at']})"
                        for e in answer["entries"] if e["state"] == "active")
    return f"listed: {entries}"


def main(argv):
    parser = argparse.ArgumentParser(description="A minimal client of the duanka node API.")
    parser.add_argument("--url", default="http://127.0.0.1:7480")
    parser.add_argument("--cacert", help="CA certificate of the API's TLS certificate")
    parser.add_argument("--token-file", help="file holding a bearer token")
    parser.add_argument("--cert", help="client certificate (PEM)")
    parser.add_argument("--key", help="the client certificate's key (PEM)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status")
    one = commands.add_parser("lookup")
    one.add_argument("type")
    one.add_argument("value")
    one.add_argument("--purpose", default="account-opening", choices=PURPOSES)
    many = commands.add_parser("batch")
    many.add_argument("--purpose", default="account-opening", choices=PURPOSES)
    many.add_argument("items", nargs="+", metavar="TYPE:VALUE")
    args = parser.parse_args(argv[1:])

    token = None
    try:
        if args.token_file:
            with open(args.token_file, encoding="utf-8") as f:
                token = f.read().strip()
        client = Client(args.url, args.cacert, token, args.cert, args.key)
    except (OSError, ssl.SSLError) as e:
        print(f"client: {e}", file=sys.stderr)
        return EXIT_FAILED

    try:
        if args.command == "status":
            s = client.status()
            ready = sum(1 for p in s["configured_peers"] if p["state"] == "ready")
            print(f"status: institution {s['institution']}, consortium {s['consortium']}, "
                  f"{s['totals']['feeds']} feeds, {s['totals']['active']} active entries, "
                  f"{ready} of {len(s['configured_peers'])} configured peers ready")
            return 0
        if args.command == "lookup":
            answer = client.lookup(args.type, args.value, args.purpose)
            print(f"lookup {answer['type']} {answer['subject'][:8]}: {describe(answer)}")
            return EXIT_LISTED if answer["listed"] else EXIT_NOT_LISTED
        items = []
        for item in args.items:
            id_type, sep, value = item.partition(":")
            if not sep:
                print(f"client: batch item {len(items) + 1}: expected TYPE:VALUE", file=sys.stderr)
                return EXIT_INVALID
            items.append((id_type, value))
        answers = client.lookup_batch(items, args.purpose)["results"]
        for number, answer in enumerate(answers, 1):
            if "error" in answer:
                print(f"batch {number}: invalid: {answer['error']}")
            else:
                print(f"batch {number} {answer['type']} {answer['subject'][:8]}: "
                      f"{describe(answer)}")
        return EXIT_LISTED if any(a.get("listed") for a in answers) else EXIT_NOT_LISTED
    except ApiError as e:
        print(f"client: {e}", file=sys.stderr)
        return EXIT_INVALID if e.status == 400 else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv))
