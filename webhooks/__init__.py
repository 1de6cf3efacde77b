"""The pmo-bridge service, in rooms by job (docs/architecture.md draws them):

- `http/`: the Flask app, webhook intake, admin and portfolio endpoints, OpenAPI;
- `commands/`: the command line, one module per command;
- `governance/`: process an event, evaluate, write back, rollups, sweep, audit;
- `worker/`: the queue's tasks and retries, the outbox relay, the consumer;
- `dashboard/`: the portfolio snapshot and its page;
- `resources.py`: what a process holds (settings, store, queue, rules, clients);
- `store/`, `queue/`, `rulesource.py`, `telemetry/`: persistence, the task queue, the
  rules in force, metrics and logs.

Imports point down that list; `tests/architecture/` checks it.
"""
