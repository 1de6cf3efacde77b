"""A Flask app that does no work: the ceiling `intake_bench.py` measures intake against.

    python bench/noop_app.py --port 8090 [--host 127.0.0.1] [--workers 2]

It reads the body and answers 202 JSON, as intake does, and runs under the very same
gunicorn settings as `pmo-bridge serve` (`webhooks.commands.serve.run_gunicorn`), so the difference
between the two is the work intake does, not the server.
"""

from __future__ import annotations

import argparse

from flask import Flask, jsonify, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/webhooks/<name>")
    def receive(name: str):
        request.get_data()
        return jsonify(status="accepted"), 202

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from webhooks.commands.serve import run_gunicorn

    run_gunicorn(create_app, args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
