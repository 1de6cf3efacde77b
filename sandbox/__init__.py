"""Local Jira- and Azure DevOps-compatible trackers for the demo and end-to-end tests."""

from __future__ import annotations

from sandbox.azure_app import create_azure_app
from sandbox.azure_state import AzureState
from sandbox.jira_app import create_jira_app
from sandbox.jira_state import JiraState
from sandbox.server import Sandbox, run_in_thread

__all__ = [
    "AzureState",
    "JiraState",
    "Sandbox",
    "create_azure_app",
    "create_jira_app",
    "run_in_thread",
]
