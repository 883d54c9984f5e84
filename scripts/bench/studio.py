"""Studio pages on a finished big run: the server time of each page, p50/p99 over N requests.

    scripts/bench/studio --home DIR [--repeat 20] [--budget-ms 100]

``DIR`` is a store built by ``scripts/bench/reads --home DIR`` (two finished runs of one experiment over the same
N-item dataset version). The Studio runs in this process (a ``TestClient`` on the app ``agnt5 server`` serves,
without keys: local use) and each page is timed from the request to the whole answer, after a warm-up request:
server time, without a network or a browser. A page that answers 404 is reported as not built yet (the Studio is
built in parts); any other failure stops the benchmark. Exits 1 when a page's p50 is over ``--budget-ms``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import machine
from reads import STATE, catch_up, open_state

from agnt5_evals.api.auth import ServerConfig
from agnt5_evals.api.main import create_app

# (name, path): the Studio pages of a big run, as the URL contract of docs/studio.md names them
PAGES: list[tuple[str, Callable[[dict[str, str]], str]]] = [
    ("run page", lambda s: f"/studio/runs/{s['b']}"),
    ("run page, failures only", lambda s: f"/studio/runs/{s['b']}?outcome=failures"),
    ("item page", lambda s: f"/studio/runs/{s['b']}/items/{s['first_item']}"),
    ("compare", lambda s: f"/studio/compare?base={s['a']}&candidate={s['b']}"),
    ("experiment page", lambda s: f"/studio/experiments/{s['experiment']}"),
    ("flaky panel", lambda s: f"/studio/experiments/{s['experiment']}/flaky?last=5"),
    ("dataset version", lambda s: f"/studio/datasets/{s['dataset_id']}/versions/{s['dataset_version_id']}"),
    # every request a first view: the diff of two immutable versions is kept after it, and the cache is emptied
    (
        "dataset version diff (first view)",
        lambda s: (
            f"/studio/datasets/{s['dataset_id']}/diff?base={s['dataset_version_id']}&compare={s['dataset_version_2']}"
        ),
    ),
]
UNCACHED = {"dataset version diff (first view)"}


def second_version(home: Path, state: dict[str, Any]) -> dict[str, Any]:
    """A second version of the run's dataset (100 items removed, 100 edited, 100 added), for the version diff;
    made once and kept in the build's state."""
    if "dataset_version_2" not in state:
        from uuid import UUID

        from agnt5_evals.adapters.bootstrap import Services, Settings
        from agnt5_evals.projections import queries

        with Services(Settings.from_env()) as svc:
            app, dataset_id = svc.app, UUID(state["dataset_id"])
            draft = queries.draft_items(svc.view, state["dataset_id"])
            for row in draft[:100]:
                app.remove_item(dataset_id, row["item_id"])
            for row in draft[100:200]:
                app.replace_item(dataset_id, row["item_id"], {"input": {"text": "edited"}, "expected_output": None})
            app.add_items(dataset_id, [{"input": {"text": f"new {n}"}, "expected_output": None} for n in range(100)])
            state["dataset_version_2"] = str(app.publish(dataset_id).id)
            svc.catch_up()
        (home / STATE).write_text(json.dumps(state, indent=2))
    return state


def quantile(times: list[float], q: int) -> float:
    if len(times) == 1:
        return times[0] * 1000
    return statistics.quantiles(times, n=100, method="inclusive")[q - 1] * 1000


def time_page(client: Any, path: str, repeat: int, uncached: bool = False) -> tuple[int, list[float], int]:
    """The page's status, its times (s) and its size; a 404 is timed once. ``uncached``: each request is a first
    view (the Studio's kept version diffs are forgotten before it)."""
    from agnt5_evals.api.studio.pages import datasets as dataset_pages

    status = client.get(path).status_code  # a warm-up: the first read of a table pays for the cache
    if status == 404:
        return status, [], 0
    times, size = [], 0
    for _ in range(repeat):
        if uncached:
            dataset_pages._DIFFS.clear()
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        size = len(response.content)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code} {response.text[:500]}")
    return status, times, size


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a store built by scripts/bench/reads --home")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--budget-ms", type=float, default=100.0)
    args = parser.parse_args()
    if not (args.home / STATE).exists():
        raise SystemExit(f"no build in {args.home}: run scripts/bench/reads --home {args.home} --build-only first")
    state = open_state(args.home)
    print(f"catch-up on open: {catch_up(args.home):.1f} s", flush=True)
    state = second_version(args.home, state)
    from fastapi.testclient import TestClient

    rows, over = [], []
    with TestClient(create_app(None, ServerConfig())) as client:
        client.get("/studio/login")  # the CSRF cookie, as a browser gets it
        for name, path in PAGES:
            status, times, size = time_page(client, path(state), args.repeat, name in UNCACHED)
            if status == 404:
                rows.append(f"| {name} | not built (404) | | | |")
            else:
                p50, p99 = quantile(times, 50), quantile(times, 99)
                rows.append(f"| {name} | {len(times)} | {p50:.1f} | {p99:.1f} | {size:,} B |")
                if p50 > args.budget_ms:
                    over.append(name)
            print(rows[-1], flush=True)
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\n{state['store']}, {state['items']:,} items; server time in-process; load average after: {load}; "
          f"{machine()}\n")  # fmt: skip
    print("| page | requests | p50 (ms) | p99 (ms) | size |\n|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    if over:
        print(f"\nover {args.budget_ms:g} ms p50: {', '.join(over)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
