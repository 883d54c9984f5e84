"""Issue 9: a killed `agnt5 datasets upload` leaves the draft as it was; uploading again gives each item once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from agnt5_evals.adapters.bootstrap import build
from tests.cli.conftest import data, log_head, out
from tests.support import wait_until

N_ITEMS = 20_000  # 40 staged chunks, each its own save: the kill lands long before the commit


def draft_size(agnt5, dataset: str) -> int:
    agnt5("projections", "catch-up")  # the killed writer never caught its read model up
    return int(data(agnt5("datasets", "show", dataset, "--format", "json"))["draft_items"])


def topics_since(position: int) -> list[str]:
    with build() as svc:
        return [n.topic.rsplit(":", 1)[1] for n in svc.app.recorder.select_notifications(position + 1, 100_000)]


def test_a_killed_upload_adds_nothing_and_a_second_upload_adds_each_item_once(agnt5, tmp_path: Path):
    dataset = out(agnt5("datasets", "create", "--name", "big"))
    agnt5("datasets", "upload", dataset, input="\n".join(json.dumps({"input": {"n": n}}) for n in range(3)))
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(json.dumps({"input": {"n": n}, "expected_output": n}) for n in range(N_ITEMS)))
    head = log_head()

    upload = [sys.executable, "-c", "from agnt5_evals.cli.main import main; main()"]
    proc = subprocess.Popen([*upload, "datasets", "upload", dataset, "--file", str(path)], env=os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        wait_until(lambda: log_head() > head or proc.poll() is not None, message="the upload wrote nothing")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the upload finished before it was killed"

    written = topics_since(head)
    assert written and set(written) == {"UploadChunk.Created"}  # staged, never committed
    assert draft_size(agnt5, dataset) == 3  # exactly as before

    agnt5("datasets", "upload", dataset, "--file", str(path))
    assert draft_size(agnt5, dataset) == 3 + N_ITEMS
    assert topics_since(head).count("Dataset.UploadCommitted") == 1
