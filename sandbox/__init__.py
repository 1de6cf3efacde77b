"""Local Jira- and Azure DevOps-compatible trackers for the demo and end-to-end tests."""

from __future__ import annotations
