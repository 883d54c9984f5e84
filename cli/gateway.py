"""What a command does, locally or through a server: one interface, two ways.

Locally (the default) a :class:`Local` gateway opens the stores and calls the services. With ``AGNT5_API_URL`` set
(and ``AGNT5_API_KEY`` when the server requires keys) a :class:`Remote` gateway makes the same calls on the
server's project API (``/api/v1/projects/{project}/...``): the server answers with the rows the services return,
and a problem body becomes the domain error it was, so a command prints the same output and exits with the same
code in both modes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import quote
from uuid import UUID

import httpx
import orjson

from agnt5_evals.adapters.bootstrap import Services
from agnt5_evals.cli.common import services
from agnt5_evals.domain.csv_import import CsvMapping
from agnt5_evals.domain.errors import Conflict, EvalsError, Forbidden, Invalid, NotFound, Unauthorized, Unavailable
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT, current_project
from agnt5_evals.projections import queries
from agnt5_evals.services import datasets

API_URL, API_KEY = "AGNT5_API_URL", "AGNT5_API_KEY"
ERRORS: dict[str, type[EvalsError]] = {
    "not_found": NotFound,
    "conflict": Conflict,
    "invalid": Invalid,
    "unauthorized": Unauthorized,
    "forbidden": Forbidden,
    "unavailable": Unavailable,
}


class Local:
    """The services over this machine's stores."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    # -- datasets ------------------------------------------------------------------------------------------------

    def create_dataset(self, name: str, description: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
        return datasets.create_dataset(self.svc, name, description, metadata)

    def datasets(self, search: str) -> list[dict[str, Any]]:
        return queries.datasets(self.svc.view, search)

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        return queries.dataset(self.svc.view, dataset_id)

    def dataset_versions(self, dataset_id: str) -> list[dict[str, Any]]:
        return queries.dataset_versions(self.svc.view, dataset_id)

    def add_example(self, dataset_id: str, item: dict[str, Any]) -> dict[str, Any]:
        return datasets.add_example(self.svc, _uuid(dataset_id), item)

    def add_items(self, dataset_id: str, items: list[Any]) -> dict[str, Any]:
        return datasets.add_items(self.svc, _uuid(dataset_id), items)

    def publish(self, dataset_id: str, description: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
        return datasets.publish(self.svc, _uuid(dataset_id), description, metadata)

    def add_run(
        self, dataset_id: str, run_id: str, run_item_ids: list[str], expected: tuple[Any, ...], metadata: Any
    ) -> dict[str, Any]:
        return datasets.add_run(self.svc, _uuid(dataset_id), _uuid(run_id), run_item_ids, expected, metadata)

    def upload_csv(self, dataset_id: str, text: str, mapping: CsvMapping, partial: bool) -> dict[str, Any]:
        return datasets.upload_csv(self.svc, _uuid(dataset_id), text, mapping, partial)

    def preview_dedup(self, dataset_id: str, include_preview: bool) -> dict[str, Any]:
        return datasets.preview_dedup(self.svc, _uuid(dataset_id), include_preview)

    def apply_dedup(self, dataset_id: str, item_ids: list[str] | None) -> dict[str, Any]:
        return datasets.apply_dedup(self.svc, _uuid(dataset_id), item_ids)

    def export_items(self, dataset_id: str, version_id: str) -> list[dict[str, Any]]:
        return datasets.export_items(self.svc, _uuid(dataset_id), _uuid(version_id))

    def compare_versions(self, dataset_id: str, base_id: str, compare_id: str) -> dict[str, Any]:
        return datasets.compare(self.svc, _uuid(dataset_id), _uuid(base_id), _uuid(compare_id))

    def restore_draft(self, dataset_id: str, version_id: str) -> dict[str, Any]:
        return datasets.restore_draft(self.svc, _uuid(dataset_id), _uuid(version_id))

    def examples(self, dataset_id: str, number: int | None, draft: bool, include_payload: bool) -> list[dict[str, Any]]:
        return datasets.examples(self.svc, _uuid(dataset_id), number, draft, include_payload)


class Remote:
    """The same calls on a server's project API."""

    def __init__(self, url: str, key: str | None, project: str, client: httpx.Client | None = None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.base = f"{url.rstrip('/').removesuffix('/api/v1')}/api/v1/projects/{quote(project, safe='')}"
        self.http = client or httpx.Client(headers=headers, timeout=httpx.Timeout(300.0, connect=10.0))

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """One request; the envelope's ``data`` (or, for JSON lines, the list of lines), or the domain error."""
        query = {name: _param(value) for name, value in params.items() if value is not None}
        try:
            response = self.http.request(method, self.base + path, json=body, params=query)
        except httpx.HTTPError as exc:
            raise Unavailable(f"cannot reach the server at {self.base}: {exc}") from None
        if response.status_code >= 400:
            raise _error(response)
        if response.headers.get("content-type", "").startswith("application/x-ndjson"):
            return [_json(line) for line in response.content.splitlines() if line.strip()]
        payload = response.json()
        return payload["data"] if isinstance(payload, dict) and "data" in payload else payload

    def one(self, method: str, path: str, body: Any = None, **params: Any) -> dict[str, Any]:
        return cast("dict[str, Any]", self.call(method, path, body, **params))

    def many(self, method: str, path: str, body: Any = None, **params: Any) -> list[dict[str, Any]]:
        return cast("list[dict[str, Any]]", self.call(method, path, body, **params))

    # -- datasets ------------------------------------------------------------------------------------------------

    def create_dataset(self, name: str, description: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
        return self.one("POST", "/datasets", {"name": name, "description": description, "metadata": metadata or {}})

    def datasets(self, search: str) -> list[dict[str, Any]]:
        return self.many("GET", "/datasets", search=search or None)

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        return self.one("GET", f"/datasets/{dataset_id}")

    def dataset_versions(self, dataset_id: str) -> list[dict[str, Any]]:
        return self.many("GET", f"/datasets/{dataset_id}/versions")

    def add_example(self, dataset_id: str, item: dict[str, Any]) -> dict[str, Any]:
        return self.one("POST", f"/datasets/{dataset_id}/examples", item)

    def add_items(self, dataset_id: str, items: list[Any]) -> dict[str, Any]:
        return self.one("POST", f"/datasets/{dataset_id}/items", {"items": items})

    def publish(self, dataset_id: str, description: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
        body = {"description": description, "metadata": metadata or {}}
        return self.one("POST", f"/datasets/{dataset_id}/publish", body)

    def add_run(
        self, dataset_id: str, run_id: str, run_item_ids: list[str], expected: tuple[Any, ...], metadata: Any
    ) -> dict[str, Any]:
        body = {"run_id": run_id, "run_item_ids": run_item_ids, "metadata": metadata or {}}
        return self.one(
            "POST", f"/datasets/{dataset_id}/runs", body | ({"expected_output": expected[0]} if expected else {})
        )

    def upload_csv(self, dataset_id: str, text: str, mapping: CsvMapping, partial: bool) -> dict[str, Any]:
        columns = {f"{name}_column": column for name, column in mapping.columns.items()}
        body = {"csv": text, **columns, "source_ref": mapping.source_ref, "delimiter": mapping.delimiter,
                "header": mapping.header, "partial": partial}  # fmt: skip
        return self.one("POST", f"/datasets/{dataset_id}/csv", body)

    def preview_dedup(self, dataset_id: str, include_preview: bool) -> dict[str, Any]:
        return self.one("GET", f"/datasets/{dataset_id}/dedup", include_preview=include_preview)

    def apply_dedup(self, dataset_id: str, item_ids: list[str] | None) -> dict[str, Any]:
        return self.one("POST", f"/datasets/{dataset_id}/dedup", {"remove_item_ids": item_ids})

    def export_items(self, dataset_id: str, version_id: str) -> list[dict[str, Any]]:
        return self.many("GET", f"/datasets/{dataset_id}/versions/{version_id}/export")

    def compare_versions(self, dataset_id: str, base_id: str, compare_id: str) -> dict[str, Any]:
        return self.one("GET", f"/datasets/{dataset_id}/versions/{base_id}/compare/{compare_id}")

    def restore_draft(self, dataset_id: str, version_id: str) -> dict[str, Any]:
        return self.one("POST", f"/datasets/{dataset_id}/versions/{version_id}/restore-draft")

    def examples(self, dataset_id: str, number: int | None, draft: bool, include_payload: bool) -> list[dict[str, Any]]:
        return self.many(
            "GET", f"/datasets/{dataset_id}/examples", version=number, draft=draft, include_payload=include_payload
        )


Gateway = Local | Remote


def remote_url() -> str | None:
    """The server the CLI talks to (``AGNT5_API_URL``), or None: work on this machine's stores."""
    return os.environ.get(API_URL, "").strip() or None


@contextmanager
def gateway() -> Iterator[Gateway]:
    """The gateway for one command: :class:`Remote` when ``AGNT5_API_URL`` is set, else :class:`Local`."""
    url = remote_url()
    if url is None:
        with services() as svc:
            yield Local(svc)
        return
    remote = Remote(url, os.environ.get(API_KEY) or None, current_project() or DEFAULT_PROJECT)
    try:
        yield remote
    finally:
        remote.close()


def _uuid(value: str) -> UUID:
    return UUID(value)


def _param(value: Any) -> Any:
    return str(value).lower() if isinstance(value, bool) else value


def _json(line: bytes) -> Any:
    return orjson.loads(line)


def _error(response: httpx.Response) -> EvalsError:
    """The domain error a problem body stands for (its ``code``, ``message`` and ``field``)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return Unavailable(f"the server answered HTTP {response.status_code} {response.reason_phrase}")
    kind = ERRORS.get(str(body.get("code")), EvalsError)
    field = body.get("field")
    return kind(body["message"], field=field if isinstance(field, str) else None)
