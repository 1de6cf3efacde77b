"""Metrics (Prometheus) and structured logs, with the one list of secrets to mask."""
