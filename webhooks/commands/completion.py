"""`pmo-bridge completion bash|zsh`: completion scripts generated from the argparse parser
by shtab, so they never drift from the commands and options."""

from __future__ import annotations

import argparse
import sys

import shtab

from webhooks.commands.main import build_parser


def completion_script(shell: str) -> str:
    return shtab.complete(build_parser(), shell=shell)


def completion_command(args: argparse.Namespace) -> int:
    sys.stdout.write(completion_script(args.shell))
    return 0
