#!/usr/bin/env python3
"""Screenshots of the Studio for docs/studio.md, from a fresh store.

It makes the demo's world with the `agnt5` CLI (scripts/demo: a dataset, a good and a regressed deployment, an
experiment, a baseline run and a candidate run), serves it with `agnt5 server`, and saves each page as seen by
Debian's chromium (Playwright with executable_path; no browser is downloaded) to docs/images/studio/.

    scripts/studio-screenshots [--out docs/images/studio]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
AGNT5 = str(ROOT / ".venv" / "bin" / "agnt5")
CHROMIUM = "/usr/bin/chromium"


def agnt5(*args: str, ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run([AGNT5, *args], capture_output=True, text=True, env=os.environ, timeout=600)
    if done.returncode not in ok:
        sys.exit(f"agnt5 {' '.join(args)}: exit {done.returncode}\n{done.stderr}")
    return done.stdout.strip()


def world() -> dict[str, str]:
    agents = str(ROOT / "scripts" / "demo_agents")
    dataset = agnt5("datasets", "create", "--name", "support-cases", "--description", "Order-status questions")
    agnt5("datasets", "upload", dataset, "--file", str(ROOT / "scripts" / "demo_data" / "support_cases.jsonl"))
    version = agnt5("datasets", "publish", dataset, "--description", "eight support questions")
    good = agnt5("deployments", "create", "--name", "support-agent-v1", "--module", "support_good", "--path", agents)
    bad = agnt5("deployments", "create", "--name", "support-agent-v2-candidate", "--module", "support_regressed",
                "--path", agents)  # fmt: skip
    experiment = agnt5(
        "experiments", "create", "--name", "support-agent-quality", "--dataset-id", dataset,
        "--dataset-version-id", version, "--target-type", "component", "--deployment-id", good,
        "--component-name", "support_agent", "--component-type", "agent", "--builtin-scorer", "json_valid",
        "--builtin-scorer", '{"name":"tool_called","config":{"tool":"search_orders"}}',
        "--config", '{"passed_threshold":1}',
    )  # fmt: skip
    agnt5("experiments", "run", experiment, "--name", "baseline", "--wait", "--timeout", "10m")
    agnt5("experiments", "run", experiment, "--name", "candidate", "--deployment-id", bad, "--wait", "--timeout",
          "10m", ok=(0, 2))  # fmt: skip
    runs = json.loads(agnt5("experiments", "runs", "list", experiment, "--format", "json"))
    base, candidate = runs[0]["id"], runs[-1]["id"]
    failures = json.loads(agnt5("reports", "failures", candidate, "--format", "json"))
    item = failures[0]["id"] if failures else ""
    return {"dataset": dataset, "version": version, "experiment": experiment, "base": base,
            "candidate": candidate, "item": item}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "images" / "studio"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["AGNT5_HOME"] = tempfile.mkdtemp(prefix="agnt5-shots-")
    os.environ.pop("AGNT5_DATABASE_URL", None)
    os.environ.pop("AGNT5_API_URL", None)
    ids = world()
    port = free_port()
    server = subprocess.Popen([AGNT5, "server", "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}/studio"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        pages = {
            "datasets": "/datasets",
            "dataset-version": f"/datasets/{ids['dataset']}/versions/{ids['version']}",
            "experiments": "/experiments",
            "experiment-new": "/experiments/new",
            "experiment": f"/experiments/{ids['experiment']}",
            "run": f"/runs/{ids['candidate']}",
            "run-failures": f"/runs/{ids['candidate']}?outcome=failures",
            "item": f"/runs/{ids['candidate']}/items/{ids['item']}",
            "compare": f"/compare?base={ids['base']}&candidate={ids['candidate']}",
        }
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            tab = browser.new_page(viewport={"width": 1280, "height": 860})
            for name, path in pages.items():
                tab.goto(base + path)
                tab.wait_for_load_state("networkidle")
                tab.screenshot(path=str(out / f"{name}.png"), full_page=False)
                print(f"{out / (name + '.png')}  {path}")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
