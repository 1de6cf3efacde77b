"""Tracker adapters (Jira, Azure DevOps) and the common project model."""
