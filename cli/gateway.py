"""What a command does, locally or through a server: one interface, two ways.

Locally (the default) a :class:`Local` gateway opens the stores and calls the services. With ``AGNT5_API_URL`` set
(and ``AGNT5_API_KEY`` when the server requires keys) a :class:`Remote` gateway makes the same calls on the
server's project API (``/api/v1/projects/{project}/...``): the server answers with the rows the services return,
and a problem body becomes the domain error it was, so a command prints the same output and exits with the same
code in both modes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote
from uuid import UUID

import orjson

from agnt5_evals.cli.common import reads, services
from agnt5_evals.domain.errors import Conflict, EvalsError, Forbidden, Invalid, NotFound, Unauthorized, Unavailable
from agnt5_evals.domain.lazy import LazyModule
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT, current_project, project_scope
from agnt5_evals.projections import names, queries
from agnt5_evals.services import summaries

if TYPE_CHECKING:  # the write side and the use cases, imported on first use: read-only commands never need them
    import httpx

    from agnt5_evals.adapters import bundles
    from agnt5_evals.adapters.bootstrap import Services
    from agnt5_evals.adapters.reads import Reader
    from agnt5_evals.domain import compare as compare_rules
    from agnt5_evals.domain.csv_import import CsvMapping
    from agnt5_evals.services import (
        archiving,
        audit,
        catalog,
        compare,
        datasets,
        definitions,
        experiments,
        exports,
        keys,
        operations,
        projects,
        runs,
        scores,
    )
    from agnt5_evals.services import verify as verification
    from agnt5_evals.services.audit import AuditFilter
    from agnt5_evals.worker import standby as standbys
    from agnt5_evals.worker.standby import Standby
else:
    httpx = LazyModule("httpx")  # only the remote CLI (AGNT5_API_URL) calls a server
    bundles = LazyModule("agnt5_evals.adapters.bundles")
    compare_rules = LazyModule("agnt5_evals.domain.compare")
    standbys = LazyModule("agnt5_evals.worker.standby")
    verification = LazyModule("agnt5_evals.services.verify")
    archiving, audit, catalog = (LazyModule(f"agnt5_evals.services.{n}") for n in ("archiving", "audit", "catalog"))
    compare, datasets, definitions = (LazyModule(f"agnt5_evals.services.{n}")
                                      for n in ("compare", "datasets", "definitions"))  # fmt: skip
    experiments, exports, keys = (LazyModule(f"agnt5_evals.services.{n}") for n in ("experiments", "exports", "keys"))
    operations, projects = LazyModule("agnt5_evals.services.operations"), LazyModule("agnt5_evals.services.projects")
    runs, scores = LazyModule("agnt5_evals.services.runs"), LazyModule("agnt5_evals.services.scores")

API_URL, API_KEY = "AGNT5_API_URL", "AGNT5_API_KEY"
STREAM_TIMEOUT = (60.0, 10.0)  # read and connect seconds: the server sends a keep-alive every 15 s


def _stream_timeout() -> httpx.Timeout:
    return httpx.Timeout(STREAM_TIMEOUT[0], connect=STREAM_TIMEOUT[1])


Progress = Callable[[dict[str, Any]], None]
AUDIT_PAGE = 200  # events asked of GET /audit/events at a time (a run chunk's event holds up to 1 MiB of items)
SCORES_PAGE = 2000  # scores asked for at a time by a streamed listing
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

    def resolve(self, kind: str, ref: str, field: str, parent: str = "") -> str:
        """The id ``ref`` (an id, a name, a version's number under ``parent``) stands for (``domain.names``)."""
        return names.resolve(self.svc.view, kind, ref, field, parent)

    # -- datasets ------------------------------------------------------------------------------------------------

    def create_dataset(self, name: str, description: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
        return datasets.create_dataset(self.svc, name, description, metadata)

    def datasets(self, search: str, archived: bool = False) -> list[dict[str, Any]]:
        return queries.datasets(self.svc.view, search, archived)

    def set_archived(self, kind: str, ident: str, archived: bool) -> dict[str, Any]:
        """Archive or unarchive a dataset or an experiment (``kind``); its row."""
        change = archiving.set_dataset_archived if kind == "dataset" else archiving.set_experiment_archived
        return change(self.svc, _uuid(ident), archived)

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

    # -- runs, scores and reports ----------------------------------------------------------------------------------

    def summary(self, run_id: str, detail: bool = True) -> dict[str, Any]:
        return summaries.summary(self.svc, run_id, detail)

    def wait_for_run(self, run_id: str, timeout: float | None, progress: Progress | None) -> dict[str, Any] | None:
        return operations.wait_for_run(self.svc, run_id, timeout, progress)

    def wait_for_rescore(
        self, rescore_id: str, timeout: float | None, progress: Progress | None
    ) -> dict[str, Any] | None:
        return operations.wait_for_rescore(self.svc, rescore_id, timeout, progress)

    def failures(self, run_id: str, scorer: str = "", limit: int | None = None) -> list[dict[str, Any]]:
        return runs.failures(self.svc, run_id, scorer, limit)

    def export_file(self, run_id: str, fmt: str, layout: str, baseline: str | None) -> bytes:
        return exports.export_file(self.svc, run_id, fmt, layout, baseline)[0]

    def export_stream(self, run_id: str, fmt: str, layout: str, baseline: str | None) -> Iterator[bytes]:
        return exports.stream_export(self.svc, run_id, fmt, layout, baseline)[0]

    def failures_stream(self, run_id: str, scorer: str = "") -> Iterator[dict[str, Any]]:
        return runs.iter_failures(self.svc, run_id, scorer)

    def scores(self, run_id: str, run_item_id: str, scorer: str, rescore_id: str) -> list[dict[str, Any]]:
        return scores.list_scores(self.svc, run_id, run_item_id, scorer, rescore_id)

    def scores_stream(self, run_id: str, run_item_id: str, scorer: str, rescore_id: str) -> Iterator[dict[str, Any]]:
        return scores.iter_scores(self.svc, run_id, run_item_id, scorer, rescore_id)

    def score_evidence(self, score_id: str, include: str) -> dict[str, Any]:
        return operations.score_evidence(self.svc, score_id, include)

    def annotate(self, run_id: str, run_item_id: str, note: dict[str, Any]) -> dict[str, Any]:
        return operations.annotate(self.svc, run_id, run_item_id, note["name"], note["label"], note["score"],
                                   note["explanation"], note["metadata"])  # fmt: skip

    def annotations(self, run_id: str, run_item_id: str, name: str) -> list[dict[str, Any]]:
        return queries.run_annotations(self.svc.view, run_id, run_item_id, name)

    def agreement(self, run_id: str, name: str) -> dict[str, Any]:
        return operations.agreement_report(self.svc, run_id, name)

    # -- prompts and scorers ---------------------------------------------------------------------------------------

    def create_prompt(self, name: str, content: dict[str, Any], description: str) -> dict[str, Any]:
        return catalog.create_prompt(self.svc, name, content, description)

    def prompts(self) -> list[dict[str, Any]]:
        return queries.prompts(self.svc.view)

    def prompt_versions(self, prompt_id: str) -> list[dict[str, Any]]:
        return queries.prompt_versions(self.svc.view, prompt_id)

    def create_prompt_version(self, prompt_id: str, content: dict[str, Any]) -> dict[str, Any]:
        return catalog.create_prompt_version(self.svc, _uuid(prompt_id), content)

    def custom_scorers(self) -> list[dict[str, Any]]:
        return queries.scorers(self.svc.view)

    def create_scorer(self, name: str, description: str, deployment_id: str, component_name: str) -> dict[str, Any]:
        return catalog.create_scorer(self.svc, name, description, _uuid(deployment_id), component_name)

    # -- deployments -----------------------------------------------------------------------------------------------

    def create_deployment(self, name: str, how: dict[str, Any]) -> dict[str, Any]:
        source = definitions.deployment_source(how["module"], how["url"], how["path"], self.svc.settings.home,
                                               how["editable"], how["include"], how["exclude"],
                                               how["max_size"])  # fmt: skip
        return catalog.create_deployment(self.svc, name, source)

    def deployments(self, archived: bool) -> list[dict[str, Any]]:
        return queries.deployments(self.svc.view, archived=archived)

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        return catalog.deployment_detail(self.svc, _uuid(deployment_id))

    def archive_deployment(self, deployment_id: str) -> dict[str, Any]:
        return catalog.archive_deployment(self.svc, _uuid(deployment_id))

    # -- experiments and runs --------------------------------------------------------------------------------------

    def create_experiment(self, body: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
        return experiments.create_experiment(
            self.svc, body["name"], body["description"], _uuid(body["dataset_id"]), _uuid(body["dataset_version_id"]),
            target, body["scorers"], body["scorer_ids"], body["config"],
        )  # fmt: skip

    def update_experiment(self, experiment_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        version = changes.get("dataset_version_id")
        return experiments.update_experiment(self.svc, _uuid(experiment_id), changes.get("scorers"),
                                             changes.get("scorer_ids"), changes.get("config"),
                                             _uuid(version) if version else None)  # fmt: skip

    def experiments(
        self, dataset_id: str, status: str, kind: str, page: int, page_size: int, archived: bool = False
    ) -> list[dict[str, Any]]:
        return operations.list_experiments(self.svc, dataset_id, status, kind, page, page_size, archived)

    def experiment_versions(self, experiment_id: str) -> list[dict[str, Any]]:
        return queries.experiment_versions(self.svc.view, experiment_id)

    def runs(self, experiment_id: str) -> list[dict[str, Any]]:
        return runs.list_runs(self.svc, experiment_id)

    def start_run(self, experiment_id: str, body: dict[str, Any], standby: Standby | None = None) -> dict[str, Any]:
        deployment, version = body.get("deployment_id"), body.get("experiment_version_id")
        return operations.start_run(self.svc, _uuid(experiment_id), body.get("name", ""),
                                    _uuid(deployment) if deployment else None, _uuid(version) if version else None,
                                    standby=standby, config=body.get("config"))  # fmt: skip

    def cancel_run(self, experiment_id: str, run_id: str) -> dict[str, Any]:
        return runs.cancel_run(self.svc, _uuid(run_id), _uuid(experiment_id))

    def compare_runs(self, base_id: str, compare_id: str, **options: Any) -> dict[str, Any]:
        return compare.compare_runs(self.svc, base_id, compare_id, **options)

    def compare_stream(self, base_id: str, compare_id: str, **options: Any) -> dict[str, Any]:
        """``compare_runs`` with each kind of flips an iterator that reads their values a page at a time."""
        result = compare.compare_runs(self.svc, base_id, compare_id, details=False, **options)
        return result | {kind: compare.stream_details(self.svc, result, kind) for kind in compare_rules.FLIP_KINDS}

    def flaky(self, experiment_id: str, last: int) -> dict[str, Any]:
        return compare.flaky(self.svc, experiment_id, last)

    def rerun(self, run_id: str, name: str, standby: Standby | None = None) -> dict[str, Any]:
        return operations.rerun_run(self.svc, _uuid(run_id), name, standby=standby)

    def regression_dataset(self, run_id: str, body: dict[str, Any], standby: Standby | None = None) -> dict[str, Any]:
        deployment = body.get("deployment_id")
        return operations.regression_dataset(self.svc, run_id, body["name"], body["run_item_ids"], body["start_run"],
                                             _uuid(deployment) if deployment else None, standby=standby)  # fmt: skip

    def start_rescore(self, run_id: str, body: dict[str, Any], standby: Standby | None = None) -> dict[str, Any]:
        given = body["scorers"] or body["scorer_version_ids"]
        scorers = definitions.scorers_from(self.svc, body["scorers"], body["scorer_version_ids"]) if given else None
        return operations.start_rescore(self.svc, run_id, scorers, body["run_item_ids"], body["reason"],
                                        body["replace_latest"], body["idempotency_key"], standby=standby)  # fmt: skip

    def rescores(self, run_id: str) -> list[dict[str, Any]]:
        return queries.rescores(self.svc.view, run_id)

    def rescore(self, rescore_id: str) -> dict[str, Any]:
        return operations.rescore_summary(self.svc, rescore_id)

    def cancel_rescore(self, rescore_id: str) -> dict[str, Any]:
        return runs.cancel_rescore(self.svc, _uuid(rescore_id))

    # -- audit -----------------------------------------------------------------------------------------------------

    def audit_events(self, spec: AuditFilter) -> Iterator[dict[str, Any]]:
        for event in audit.events(self.svc, spec):  # times as the API gives them (ISO 8601)
            yield {**event, "timestamp": event["timestamp"].isoformat() if event["timestamp"] is not None else None}

    def verify(self, run_id: str | None) -> dict[str, Any]:
        return verification.verify(self.svc, _uuid(run_id) if run_id else None)

    # -- projects and keys (this machine's store: its owner acts on every project) ---------------------------------

    def create_project(self, name: str, project_id: str) -> dict[str, Any]:
        return projects.create_project(self.svc, name, project_id)

    def projects(self) -> list[dict[str, Any]]:
        return projects.list_projects(self.svc)

    def create_key(self, project_id: str, scope: str, name: str) -> dict[str, Any]:
        with project_scope(None):  # --project names the project
            return keys.create_key(self.svc, project_id, scope, name)

    def keys(self, project_id: str) -> list[dict[str, Any]]:
        with project_scope(None):
            return keys.list_keys(self.svc, project_id)

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        with project_scope(None):
            return keys.revoke_key(self.svc, _uuid(key_id))


class LocalReads:
    """The read-only calls of :class:`Local` over the read model alone (``adapters.reads``): what ``runs show`` and
    ``reports ci`` need, without importing or opening the write side."""

    def __init__(self, svc: Reader) -> None:
        self.svc = svc

    def resolve(self, kind: str, ref: str, field: str, parent: str = "") -> str:
        return names.resolve(self.svc.view, kind, ref, field, parent)

    def summary(self, run_id: str, detail: bool = True) -> dict[str, Any]:
        return summaries.summary(self.svc, run_id, detail)


class Remote:
    """The same calls on a server's project API."""

    def __init__(self, url: str, key: str | None, project: str, client: httpx.Client | None = None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.api = f"{url.rstrip('/').removesuffix('/api/v1')}/api/v1"
        self.base = f"{self.api}/projects/{quote(project, safe='')}"
        self.http = client or httpx.Client(headers=headers, timeout=httpx.Timeout(300.0, connect=10.0))

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, body: Any = None, base: str = "", **params: Any) -> Any:
        """One request (to ``path`` under ``base``, default the project's); the envelope's ``data`` (or, for JSON
        lines, the list of lines), or the domain error."""
        response = self.request(method, path, body, base, **params)
        if response.headers.get("content-type", "").startswith("application/x-ndjson"):
            return [_json(line) for line in response.content.splitlines() if line.strip()]
        payload = response.json()
        return payload["data"] if isinstance(payload, dict) and "data" in payload else payload

    def request(self, method: str, path: str, body: Any = None, base: str = "", **params: Any) -> httpx.Response:
        """One request (to ``path`` under ``base``, default the project's): the answer, or the domain error."""
        query = {name: _param(value) for name, value in params.items() if value is not None}
        try:
            response = self.http.request(method, (base or self.base) + path, json=body, params=query)
        except httpx.HTTPError as exc:
            raise Unavailable(f"cannot reach the server at {self.base}: {exc}") from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    def raw(self, method: str, path: str, **params: Any) -> bytes:
        """The body of one answer as it came (a file the server made)."""
        return self.request(method, path, **params).content

    def one(self, method: str, path: str, body: Any = None, **params: Any) -> dict[str, Any]:
        return cast("dict[str, Any]", self.call(method, path, body, **params))

    def many(self, method: str, path: str, body: Any = None, **params: Any) -> list[dict[str, Any]]:
        return cast("list[dict[str, Any]]", self.call(method, path, body, **params))

    def resolve(self, kind: str, ref: str, field: str, parent: str = "") -> str:
        """``GET /resolve``: the server looks the name up in this project; its error names ``field``."""
        try:
            return str(self.one("GET", "/resolve", kind=kind, ref=ref, parent=parent or None)["id"])
        except (NotFound, Invalid) as exc:
            if exc.field != "ref":  # not the reference at fault (the project, say): as the server said
                raise
            raise type(exc)(exc.message, field=field) from None

    # -- datasets ------------------------------------------------------------------------------------------------

    def create_dataset(self, name: str, description: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
        return self.one("POST", "/datasets", {"name": name, "description": description, "metadata": metadata or {}})

    def datasets(self, search: str, archived: bool = False) -> list[dict[str, Any]]:
        return self.many("GET", "/datasets", search=search or None, archived=archived or None)

    def set_archived(self, kind: str, ident: str, archived: bool) -> dict[str, Any]:
        return self.one("POST", f"/{kind}s/{ident}/{'archive' if archived else 'unarchive'}")

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

    # -- runs, scores and reports ----------------------------------------------------------------------------------

    def summary(self, run_id: str, detail: bool = True) -> dict[str, Any]:
        return self.one("GET", f"/runs/{run_id}")

    def wait_for_run(self, run_id: str, timeout: float | None, progress: Progress | None) -> dict[str, Any] | None:
        return self.follow(f"/runs/{run_id}/progress", timeout, progress)

    def wait_for_rescore(
        self, rescore_id: str, timeout: float | None, progress: Progress | None
    ) -> dict[str, Any] | None:
        return self.follow(f"/rescores/{rescore_id}/progress", timeout, progress)

    def failures(self, run_id: str, scorer: str = "", limit: int | None = None) -> list[dict[str, Any]]:
        return self.many("GET", f"/runs/{run_id}/failures", scorer=scorer or None, limit=limit)

    def export_file(self, run_id: str, fmt: str, layout: str, baseline: str | None) -> bytes:
        """The server's export file, byte for byte."""
        return self.raw("GET", f"/runs/{run_id}/export", format=fmt, layout=layout, baseline=baseline)

    def export_stream(self, run_id: str, fmt: str, layout: str, baseline: str | None) -> Iterator[bytes]:
        """The server's export file as it streams it (a refusal is raised before the first piece)."""
        query = {name: value for name, value in (("format", fmt), ("layout", layout), ("baseline", baseline)) if value}
        try:
            stream = self.http.stream("GET", f"{self.base}/runs/{run_id}/export", params=query)
            response = stream.__enter__()
        except httpx.HTTPError as exc:
            raise Unavailable(f"cannot reach the server at {self.base}: {exc}") from None
        if response.status_code >= 400:
            response.read()
            stream.__exit__(None, None, None)
            raise _error(response)
        return self._pieces(stream, response)

    def _pieces(self, stream: Any, response: httpx.Response) -> Iterator[bytes]:
        try:
            yield from response.iter_bytes()
        except httpx.HTTPError as exc:
            raise Unavailable(f"the server at {self.base} stopped sending the export: {exc}") from None
        finally:
            stream.__exit__(None, None, None)

    def failures_stream(self, run_id: str, scorer: str = "") -> Iterator[dict[str, Any]]:
        return iter(self.failures(run_id, scorer))

    def scores(self, run_id: str, run_item_id: str, scorer: str, rescore_id: str) -> list[dict[str, Any]]:
        params = {"run_id": run_id, "run_item_id": run_item_id, "scorer": scorer, "rescore_id": rescore_id}
        return self.many("GET", "/scores", **{name: value for name, value in params.items() if value})

    def scores_stream(self, run_id: str, run_item_id: str, scorer: str, rescore_id: str) -> Iterator[dict[str, Any]]:
        """Every score, a page of ``SCORES_PAGE`` at a time, each after the last one of the page before (the
        ``after`` cursor); the first page is asked for at once: it checks the run."""
        params = {"run_id": run_id, "run_item_id": run_item_id, "scorer": scorer, "rescore_id": rescore_id}
        query = {name: value for name, value in params.items() if value}
        first = self.many("GET", "/scores", **query, page=1, page_size=SCORES_PAGE)

        def pages() -> Iterator[dict[str, Any]]:
            rows = first
            while True:
                yield from rows
                if len(rows) < SCORES_PAGE:
                    return
                rows = self.many("GET", "/scores", **query, page=1, page_size=SCORES_PAGE, after=rows[-1]["id"])

        return pages()

    def score_evidence(self, score_id: str, include: str) -> dict[str, Any]:
        return self.one("GET", f"/scores/{score_id}/evidence", include=include)

    def annotate(self, run_id: str, run_item_id: str, note: dict[str, Any]) -> dict[str, Any]:
        body = {name: value for name, value in note.items() if value is not None}
        return self.one("POST", f"/eval/runs/{run_id}/items/{run_item_id}/annotations", body)

    def annotations(self, run_id: str, run_item_id: str, name: str) -> list[dict[str, Any]]:
        return self.many("GET", f"/runs/{run_id}/annotations", run_item_id=run_item_id or None, name=name or None)

    def agreement(self, run_id: str, name: str) -> dict[str, Any]:
        return self.one("GET", f"/runs/{run_id}/agreement", name=name or None)

    # -- prompts and scorers ---------------------------------------------------------------------------------------

    def create_prompt(self, name: str, content: dict[str, Any], description: str) -> dict[str, Any]:
        return self.one("POST", "/prompts", {**content, "name": name, "description": description})

    def prompts(self) -> list[dict[str, Any]]:
        return self.many("GET", "/prompts")

    def prompt_versions(self, prompt_id: str) -> list[dict[str, Any]]:
        return self.many("GET", f"/prompts/{prompt_id}/versions")

    def create_prompt_version(self, prompt_id: str, content: dict[str, Any]) -> dict[str, Any]:
        return self.one("POST", f"/prompts/{prompt_id}/versions", content)

    def custom_scorers(self) -> list[dict[str, Any]]:
        return cast("list[dict[str, Any]]", self.one("GET", "/scorers")["custom"])

    def create_scorer(self, name: str, description: str, deployment_id: str, component_name: str) -> dict[str, Any]:
        body = {"name": name, "description": description, "deployment_id": deployment_id,
                "component_name": component_name}  # fmt: skip
        return self.one("POST", "/scorers", body)

    # -- deployments -----------------------------------------------------------------------------------------------

    def create_deployment(self, name: str, how: dict[str, Any]) -> dict[str, Any]:
        """An HTTP worker is registered by its URL; a module is snapshotted here and uploaded (the server imports
        nothing from this machine's disk)."""
        if how["url"] or not how["module"]:  # the server checks the options as it would locally
            return self.one("POST", "/deployments", {"name": name, **how})
        if how["editable"]:
            raise Invalid("a server cannot run the live files of this machine: leave out --editable to upload a "
                          "snapshot", field="editable")  # fmt: skip
        root = os.path.abspath(how["path"] or ".")
        if not os.path.isdir(root):
            raise Invalid(f"{root} is not a directory", field="path")
        limit = bundles.parse_size(how["max_size"]) if how["max_size"] else bundles.DEFAULT_MAX_SIZE
        snap = bundles.snapshot(root, how["include"], how["exclude"], limit)
        if not snap.files:
            raise Invalid(f"no file under {root} is left to snapshot (see the include and exclude globs)", field="path")
        bundle = {"digest": snap.digest, "encoding": bundles.ENCODING, "chunks": bundles.encode(snap)}
        body = {"name": name, "module": how["module"], "path": root, "include": how["include"],
                "exclude": how["exclude"], "bundle": bundle}  # fmt: skip
        return self.one("POST", "/deployments", body)

    def deployments(self, archived: bool) -> list[dict[str, Any]]:
        return self.many("GET", "/deployments", all=archived)

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        return self.one("GET", f"/deployments/{deployment_id}")

    def archive_deployment(self, deployment_id: str) -> dict[str, Any]:
        return self.one("POST", f"/deployments/{deployment_id}/archive")

    # -- experiments and runs --------------------------------------------------------------------------------------

    def create_experiment(self, body: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
        return self.one("POST", "/experiments", body)

    def update_experiment(self, experiment_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self.one("PATCH", f"/experiments/{experiment_id}", changes)

    def experiments(
        self, dataset_id: str, status: str, kind: str, page: int, page_size: int, archived: bool = False
    ) -> list[dict[str, Any]]:
        params = {"dataset_id": dataset_id or None, "status": status or None, "type": kind or None,
                  "archived": archived or None}  # fmt: skip
        return self.many("GET", "/experiments", page=page, page_size=page_size, **params)

    def experiment_versions(self, experiment_id: str) -> list[dict[str, Any]]:
        return self.many("GET", f"/experiments/{experiment_id}/versions")

    def runs(self, experiment_id: str) -> list[dict[str, Any]]:
        return self.many("GET", f"/experiments/{experiment_id}/runs")

    def start_run(self, experiment_id: str, body: dict[str, Any], standby: Standby | None = None) -> dict[str, Any]:
        return self.one("POST", f"/experiments/{experiment_id}/runs", body)

    def cancel_run(self, experiment_id: str, run_id: str) -> dict[str, Any]:
        return self.one("POST", f"/experiments/{experiment_id}/runs/{run_id}/cancel")

    def compare_runs(self, base_id: str, compare_id: str, **options: Any) -> dict[str, Any]:
        return self.one("GET", f"/runs/{base_id}/compare/{compare_id}", **options)

    def compare_stream(self, base_id: str, compare_id: str, **options: Any) -> dict[str, Any]:
        return self.compare_runs(base_id, compare_id, **options)

    def flaky(self, experiment_id: str, last: int) -> dict[str, Any]:
        return self.one("GET", f"/experiments/{experiment_id}/flaky", last=last)

    def rerun(self, run_id: str, name: str, standby: Standby | None = None) -> dict[str, Any]:
        return self.one("POST", f"/runs/{run_id}/rerun", {"name": name})

    def regression_dataset(self, run_id: str, body: dict[str, Any], standby: Standby | None = None) -> dict[str, Any]:
        return self.one("POST", f"/runs/{run_id}/regression-dataset", body)

    def start_rescore(self, run_id: str, body: dict[str, Any], standby: Standby | None = None) -> dict[str, Any]:
        return self.one("POST", f"/eval/runs/{run_id}/rescore", body)

    def rescores(self, run_id: str) -> list[dict[str, Any]]:
        return self.many("GET", f"/runs/{run_id}/rescores")

    def rescore(self, rescore_id: str) -> dict[str, Any]:
        return self.one("GET", f"/rescores/{rescore_id}")

    def cancel_rescore(self, rescore_id: str) -> dict[str, Any]:
        return self.one("POST", f"/rescores/{rescore_id}/cancel")

    # -- audit -----------------------------------------------------------------------------------------------------

    def audit_events(self, spec: AuditFilter) -> Iterator[dict[str, Any]]:
        """The log in pages of ``GET /audit/events`` (each after the last position seen), up to ``spec.limit``."""
        ids = {"run_id": spec.run_id, "experiment_id": spec.experiment_id, "dataset_id": spec.dataset_id}
        params = {name: str(value) for name, value in ids.items() if value is not None}
        after, left = spec.after, spec.limit
        while left is None or left > 0:
            page = min(AUDIT_PAGE, left) if left is not None else AUDIT_PAGE
            rows = self.many("GET", "/audit/events", after=after, limit=page, **params)
            yield from rows
            if len(rows) < page:
                return
            after, left = rows[-1]["position"], None if left is None else left - len(rows)

    def verify(self, run_id: str | None) -> dict[str, Any]:
        return self.one("GET", "/audit/verify", run_id=run_id)

    # -- projects and keys (the server's owner, or an admin key of the project) ------------------------------------

    def create_project(self, name: str, project_id: str) -> dict[str, Any]:
        return cast("dict[str, Any]", self.call("POST", "/projects", {"name": name, "id": project_id}, base=self.api))

    def projects(self) -> list[dict[str, Any]]:
        return cast("list[dict[str, Any]]", self.call("GET", "/projects", base=self.api))

    def create_key(self, project_id: str, scope: str, name: str) -> dict[str, Any]:
        base = f"{self.api}/projects/{quote(project_id, safe='')}"
        return cast("dict[str, Any]", self.call("POST", "/keys", {"scope": scope, "name": name}, base=base))

    def keys(self, project_id: str) -> list[dict[str, Any]]:
        base = f"{self.api}/projects/{quote(project_id, safe='')}"
        return cast("list[dict[str, Any]]", self.call("GET", "/keys", base=base))

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        return self.one("POST", f"/keys/{key_id}/revoke")

    def follow(self, path: str, timeout: float | None, progress: Progress | None) -> dict[str, Any] | None:
        """Follow a progress stream (server-sent events) to its end: the final summary, or None at ``timeout``."""
        params = {} if timeout is None else {"timeout": timeout}
        try:
            with self.http.stream(
                "GET",
                self.base + path,
                params=params,
                timeout=httpx.Timeout(STREAM_TIMEOUT[0], connect=STREAM_TIMEOUT[1]),
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                for name, data in _events(response.iter_lines()):
                    if name == "progress" and progress is not None:
                        progress(data)
                    elif name == "summary":
                        return cast("dict[str, Any]", data)
                    elif name == "timeout":
                        return None
                    elif name == "error":
                        raise ERRORS.get(str(data.get("code")), EvalsError)(data["message"], field=data.get("field"))
        except httpx.HTTPError as exc:
            raise Unavailable(f"lost the server at {self.base} while waiting: {exc}") from None
        raise Unavailable(f"the server at {self.base} ended the progress stream early")


Gateway = Local | Remote


def standby_worker(start: bool = True, experiment_id: UUID | None = None) -> AbstractContextManager[Standby | None]:
    """A worker process booted while the command does its checks (``worker.standby``), locally; through a server,
    none: the server starts its own."""
    if remote_url() is not None:
        return nullcontext(None)
    return standbys.standby(start, experiment_id=experiment_id)


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


@contextmanager
def read_gateway() -> Iterator[LocalReads | Remote]:
    """:func:`gateway` for a read-only command: locally, the read model alone (``cli.common.reads``)."""
    if remote_url() is not None:
        with gateway() as remote:  # AGNT5_API_URL set: a Remote
            yield cast("Remote", remote)
        return
    with reads() as svc:
        yield LocalReads(svc)


def _uuid(value: str) -> UUID:
    return UUID(value)


def _param(value: Any) -> Any:
    return str(value).lower() if isinstance(value, bool) else value


def _json(line: bytes) -> Any:
    return orjson.loads(line)


def _events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """``(event, data)`` of each server-sent event; comments (keep-alives) are skipped."""
    name, data = "message", ""
    for line in lines:
        if not line:
            if data:
                yield name, orjson.loads(data)
            name, data = "message", ""
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


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
