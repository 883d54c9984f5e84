"""`agnt5 --help` imports no command: the root lists them from ``cli.main.COMMANDS`` (issue 16: an instant CLI)."""

from __future__ import annotations

import subprocess
import sys

import typer

from agnt5_evals.cli.main import COMMANDS, app

PROBE = """
import sys
from agnt5_evals.cli.main import app
try:
    app(["--help"], prog_name="agnt5")
except SystemExit:
    pass
heavy = ("agnt5_evals.cli.common", "agnt5_evals.adapters.bootstrap", "agnt5_evals.services", "numpy", "httpx",
         "psycopg", "fastapi", "agnt5_evals.cli.datasets")
print("LOADED", [name for name in heavy if name in sys.modules])
"""


def test_the_root_help_imports_no_command_and_no_store():
    probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    assert "LOADED []" in probe.stdout, probe.stdout[-500:]
    assert "experiments  Create experiments and run them over a dataset version." in probe.stdout


def test_each_listed_help_line_is_its_command_s_own():
    root = typer.main.get_command(app)
    assert list(root.commands) == list(COMMANDS)
    for name, (_, _, text) in COMMANDS.items():
        command = root.commands[name]
        assert command.name == name
        assert (command.help or "").split("\n\n")[0].strip() == text, name
