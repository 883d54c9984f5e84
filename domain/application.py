"""The Application: the only way to write. Commands check invariants, then save events atomically."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.domain import Aggregate

from agnt5_evals.domain.annotations import Annotation, check_annotation
from agnt5_evals.domain.app_archive import ArchiveCommands
from agnt5_evals.domain.app_base import Written
from agnt5_evals.domain.app_datasets import check_item
from agnt5_evals.domain.app_keys import KeyCommands
from agnt5_evals.domain.app_rescores import RescoreCommands
from agnt5_evals.domain.app_runs import RunCommands
from agnt5_evals.domain.errors import Conflict, Invalid, NotFound
from agnt5_evals.domain.gate_config import LAST_PASSED, check_config, check_gate_scorers, gate_field, gate_of
from agnt5_evals.domain.ids import parse_uuid
from agnt5_evals.domain.model import (
    Bundle,
    BundleChunk,
    DatasetVersion,
    Deployment,
    Experiment,
    ExperimentVersion,
    Scorer,
)
from agnt5_evals.domain.projects import Project
from agnt5_evals.domain.prompts import Prompt, PromptVersion
from agnt5_evals.domain.runs import DEFAULT_SHARD_SIZE, RUN_CODE_KEYS, Run
from agnt5_evals.domain.tenancy import DEFAULT_PROJECT, check_project_id, project_scope
from agnt5_evals.domain.text_rules import check_description, check_name

__all__ = ["EvalsApplication", "Written", "check_item"]

COMPONENT_TYPES = ("function", "agent", "workflow", "tool", "scorer")


class EvalsApplication(RunCommands, RescoreCommands, KeyCommands, ArchiveCommands):
    """Datasets, deployments, scorers, prompts, experiments and runs, as one event-sourced application."""

    # Digests an editable deployment's live files at a run's start; set by ``adapters.bootstrap`` (the domain
    # reads no files). None: the run records no digest.
    code_digester: Callable[[Deployment], str | None] | None = None
    shard_runs = True  # runs start split into shards (False: one contiguous range, as before shards; tests only)
    pool_runs = False  # runs start for the worker pool (``Services.queued``), not for the process that starts them

    # -- projects ------------------------------------------------------------------------------------

    def create_project(self, project_id: str, name: str) -> Written:
        """Create a project (``project_id``: a slug or a UUID string); ``default`` exists always."""
        check_project_id(project_id, "id")
        name = check_name(name).strip()
        if project_id == DEFAULT_PROJECT or self.recorder.select_events(Project.create_id(project_id), limit=1):
            raise Conflict(f"project {project_id} already exists", field="id")
        project = Project(project_id=project_id, name=name)
        return Written(project.id, self._save(project))

    # -- deployments ---------------------------------------------------------------------------------

    @staticmethod
    def _source(kind: str, module: str, url: str) -> tuple[str, str]:
        """A deployment's flag and source: a module for ``python``, a URL for ``http`` (exactly one of them)."""
        if kind == "python" and module and not url:
            return "module", f"{module} defines"
        if kind == "http" and url and not module:
            return "url", f"{url} serves"
        if kind not in ("python", "http"):
            raise Invalid(f"unknown deployment kind {kind!r} (python or http)", field="kind")
        raise Invalid("give exactly one (module for a python deployment, url for http)", field="module, url")

    def create_deployment(
        self,
        name: str,
        module: str,
        path: str,
        components: list[dict[str, str]],
        url: str = "",
        kind: str = "python",
        bundle: dict[str, Any] | None = None,
        include: list[str] | None = None,
        exclude: list[str] | None = None,
        build: str = "",
    ) -> Written:
        """Register a deployment: a Python module (``kind="python"``) or a server (``kind="http"``, ``url``).

        A Python deployment is a snapshot (``bundle``: ``digest``, ``size``, ``n_files``, ``encoding`` and the
        ``chunk_ids`` that ``stage_bundle`` returned), or else editable: it runs the live files under ``path``. The
        bundle is saved with the deployment, atomically, unless the same code is stored already.
        """
        self.check_deployment(name, kind, module, url, components)
        if bundle is not None and kind != "python":
            raise Invalid("only a python deployment stores its code", field="bundle")
        editable = kind == "python" and bundle is None
        to_save: list[Aggregate] = []
        if bundle is not None and self._bundle(bundle["digest"]) is None:
            to_save.append(self._new_bundle(bundle))
        deployment = Deployment(
            name=name.strip(), kind=kind, module=module, path=path, url=url, components=components,
            bundle_digest=bundle["digest"] if bundle else "", bundle_size=bundle["size"] if bundle else 0,
            bundle_files=bundle["n_files"] if bundle else 0, editable=editable, include=list(include or []),
            exclude=list(exclude or []), build=build, project_id=self.project_for_new(),
        )  # fmt: skip
        return Written(deployment.id, self._save(*to_save, deployment))

    def check_deployment(self, name: str, kind: str, module: str, url: str, components: list[dict[str, str]]) -> None:
        """What ``create_deployment`` checks before anything is staged: the name, the source, the components."""
        check_name(name)
        flag, source = self._source(kind, module, url)
        if not components:
            raise Invalid(f"{source} no components (mark callables with @component)", field=flag)
        for component in components:
            if component.get("type") not in COMPONENT_TYPES:
                raise Invalid(
                    f"component {component.get('name')!r}: unknown type {component.get('type')!r}", field="components"
                )

    def _bundle(self, digest: str) -> Bundle | None:
        try:
            return self.get(Bundle, Bundle.create_id(digest), "bundle")
        except NotFound:
            return None

    def _new_bundle(self, bundle: dict[str, Any]) -> Bundle:
        """A bundle over staged chunks, each checked to be saved and to belong to this digest."""
        for chunk_id in bundle["chunk_ids"]:
            chunk = self.get(BundleChunk, UUID(chunk_id), "bundle chunk", field="bundle")
            if chunk.digest != bundle["digest"]:
                raise Invalid(f"chunk {chunk_id} belongs to bundle {chunk.digest}", field="bundle")
        return Bundle(
            digest=bundle["digest"], size=bundle["size"], n_files=bundle["n_files"], encoding=bundle["encoding"],
            chunk_ids=list(bundle["chunk_ids"]),
        )  # fmt: skip

    def stage_bundle(self, digest: str, chunks: list[str]) -> list[str]:
        """Save a bundle's chunks, one small save each, and return their ids; nothing reads them until a deployment
        commits the bundle. Chunks saved before (a create killed meanwhile, or another one of the same code) are
        reused; a bundle stored already needs none."""
        stored = self._bundle(digest)
        if stored is not None:
            return list(stored.chunk_ids)
        chunk_ids = []
        for index, data in enumerate(chunks):
            chunk_id = BundleChunk.create_id(digest, index, data)
            if not self.recorder.select_events(chunk_id, limit=1):
                with contextlib.suppress(Conflict):  # saved meanwhile by another create of the same code
                    self._save(BundleChunk(digest=digest, index=index, data=data), notify=False)
            chunk_ids.append(str(chunk_id))
        return chunk_ids

    def bundle_chunks(self, digest: str) -> list[str]:
        """The chunk payloads of a stored bundle, in order."""
        bundle = self.get(Bundle, Bundle.create_id(digest), "bundle")
        return [self.get(BundleChunk, UUID(c), "bundle chunk").data for c in bundle.chunk_ids]

    def archive_deployment(self, deployment_id: UUID) -> Written:
        """Archive a deployment: it starts no new runs; its runs and experiments keep their reference."""
        deployment = self.get(Deployment, deployment_id, "deployment")
        deployment.archive()
        return Written(deployment.id, self._save(deployment))

    # -- scorers -------------------------------------------------------------------------------------

    def create_scorer(self, name: str, description: str, deployment_id: UUID, component_name: str) -> Written:
        """Register a deployed scorer component as a project scorer."""
        from agnt5_evals.domain.scoring import BUILTINS

        name, description = check_name(name), check_description(description)
        if name.strip() in BUILTINS:
            raise Invalid(f"scorer name collision: {name.strip()!r} is a built-in scorer", field="name")
        project = self.project_for_new()
        deployment = self.get(Deployment, deployment_id, "deployment", field="deployment_id")
        deployment.check_component(component_name, "scorer")
        scorer = Scorer(
            name=name.strip(), description=description, deployment_id=deployment.id, component_name=component_name,
            project_id=project,
        )  # fmt: skip
        return Written(scorer.id, self._save(scorer))

    def scorer_spec(self, scorer_id: UUID) -> dict[str, Any]:
        return self.get(Scorer, scorer_id, "scorer").spec()

    # -- prompts -------------------------------------------------------------------------------------

    def create_prompt(self, name: str, content: dict[str, Any], description: str = "") -> Written:
        """Create a prompt and its version 1 atomically; ``content`` as ``PromptVersion.check_content`` takes."""
        name, description = check_name(name), check_description(description)
        checked = PromptVersion.check_content(content)
        prompt = Prompt(name=name.strip(), description=description, project_id=self.project_for_new())
        version = self._add_prompt_version(prompt, checked)
        return Written(prompt.id, self._save(prompt, version), version.number)

    def create_prompt_version(self, prompt_id: UUID, content: dict[str, Any]) -> Written:
        """Add the next numbered, immutable version of a prompt."""
        checked = PromptVersion.check_content(content)
        prompt = self.get(Prompt, prompt_id, "prompt")
        version = self._add_prompt_version(prompt, checked)
        return Written(version.id, self._save(prompt, version), version.number)

    def _add_prompt_version(self, prompt: Prompt, content: dict[str, Any]) -> PromptVersion:
        version = PromptVersion(
            prompt_id=prompt.id, number=prompt.next_version_number, project_id=prompt.project_id, **content
        )
        prompt.record_version(version_id=version.id, number=version.number)
        return version

    def pin_prompt_version(self, target: dict[str, Any]) -> dict[str, Any]:
        """Check a prompt target; return it with its pinned version, or else the prompt's latest one."""
        prompt = self._get_for(
            "target.prompt_id", Prompt, parse_uuid(str(target["prompt_id"]), "target.prompt_id"), "prompt"
        )
        pinned = target.get("prompt_version_id")
        if pinned is None:
            return {**target, "prompt_version_id": str(prompt.latest_version_id)}
        version_id = parse_uuid(str(pinned), "target.prompt_version_id")
        if (
            self._get_for("target.prompt_version_id", PromptVersion, version_id, "prompt version").prompt_id
            != prompt.id
        ):
            raise Invalid(f"version {pinned} belongs to another prompt", field="target.prompt_version_id")
        return target

    # -- experiments ---------------------------------------------------------------------------------

    def check_target(self, target: dict[str, Any]) -> None:
        if target.get("type") == "prompt":
            self.pin_prompt_version(target)
            return
        deployment = self.get(
            Deployment, UUID(str(target["deployment_id"])), "deployment", field="target.deployment_id"
        )
        deployment.check_component(str(target["component_name"]), str(target["component_type"]))

    def _scorers_code(self, scorers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The scorers with, for each custom one, the code it will run (as ``_code_of`` gives a target's)."""
        recorded = []
        for scorer in scorers:
            if scorer.get("type") == "custom" and scorer.get("deployment_id"):
                bare = {key: value for key, value in scorer.items() if key not in RUN_CODE_KEYS}
                code = self._code_of({"deployment_id": bare["deployment_id"]})
                scorer = {**bare, **{key: code[key] for key in RUN_CODE_KEYS if key in code}}
            recorded.append(scorer)
        return recorded

    def _code_of(self, target: dict[str, Any]) -> dict[str, Any]:
        """A component target with the code a run of it runs: the snapshot's digest, the live files' digest now
        (an editable deployment), or the build an HTTP worker reported. An archived deployment runs nothing."""
        deployment = self.get(
            Deployment, UUID(str(target["deployment_id"])), "deployment", field="target.deployment_id"
        )
        deployment.check_runnable()
        if deployment.kind == "http":
            return {**target, "build": deployment.build or None}
        if deployment.editable:
            digest = self.code_digester(deployment) if self.code_digester is not None else None
            return {**target, "code_digest": digest, "editable": True}
        return {**target, "code_digest": deployment.bundle_digest, "editable": False}

    def check_definition(self, definition: dict[str, Any], known_keys: bool = True) -> dict[str, Any]:
        """Check a definition; everything it names (dataset version, deployment or prompt, custom scorers, a
        baseline run) must be visible from the current context, i.e. of the experiment's project (the callers
        scope to it). ``known_keys``: refuse unknown config keys (off when an edit leaves a stored config as is)."""
        self.dataset_version(UUID(definition["dataset_id"]), UUID(definition["dataset_version_id"]))
        self.check_target(definition["target"])
        if not definition["scorers"]:
            raise Invalid("attach at least one scorer", field="scorers")
        self.check_scorers(definition["scorers"])
        self.check_run_config(check_config(definition["config"], known_keys), definition["scorers"])
        return definition

    def check_run_config(self, config: dict[str, Any], scorers: list[dict[str, Any]]) -> None:
        """The gate's per-scorer rules name scorers of the definition; an explicit baseline run exists here."""
        check_gate_scorers(config, [str(s.get("key") or s.get("name")) for s in scorers])
        baseline = gate_of(config).get("baseline")
        if baseline is not None and baseline != LAST_PASSED:
            self.get(Run, UUID(str(baseline)), "baseline run", field=gate_field(config, "baseline"))

    def create_experiment(
        self, name: str, description: str, definition: dict[str, Any], known_keys: bool = True
    ) -> Written:
        """Create an experiment; ``known_keys`` off: a config copied from a run recorded before keys were checked."""
        name, description = check_name(name), check_description(description)
        project = self.project_for_new()
        with project_scope(project):  # what it names must be of its project, even from the system scope
            checked = self.check_definition(definition, known_keys)
        experiment = Experiment(name=name.strip(), description=description, definition=checked, project_id=project)
        return Written(experiment.id, self._save(experiment))

    def update_experiment(self, experiment_id: UUID, changes: dict[str, Any]) -> Written:
        experiment = self.get(Experiment, experiment_id, "experiment")
        definition = {**experiment.definition, **changes}
        with project_scope(experiment.project_id):
            experiment.update_definition(self.check_definition(definition, known_keys="config" in changes))
        return Written(experiment.id, self._save(experiment), experiment.revision)

    # -- runs ----------------------------------------------------------------------------------------

    def start_run(
        self,
        experiment_id: UUID,
        name: str = "",
        deployment_id: UUID | None = None,
        experiment_version_id: UUID | None = None,
        config: dict[str, Any] | None = None,
    ) -> Written:
        """Snapshot the definition (reusing the latest version if unchanged) and start a run.

        ``config`` overrides keys of the version's config for this run only (``experiments run --config``): the
        run records the merged config and the overrides; the experiment and its versions are unchanged.

        Two runs started at once may both snapshot the same new version: the second one's save clashes, and it
        starts again, now reusing the version the first one recorded.
        """
        if name:
            check_name(name)  # bad input is named before any lookup
        if config is not None:
            check_config(config)
        self.get(Experiment, experiment_id, "experiment").check_runnable()  # refused before any retry
        for attempt in range(5):
            try:
                return self._start_run(experiment_id, name, deployment_id, experiment_version_id, config)
            except Conflict:
                if attempt == 4:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def _start_run(
        self,
        experiment_id: UUID,
        name: str,
        deployment_id: UUID | None,
        experiment_version_id: UUID | None,
        config: dict[str, Any] | None,
    ) -> Written:
        name = check_name(name) if name else ""
        if config is not None:
            check_config(config)  # the overrides alone first: a bad one is named before any lookup
        experiment = self.get(Experiment, experiment_id, "experiment")
        with project_scope(experiment.project_id):  # what the run names must be of its experiment's project
            return self._start_run_of(experiment, deployment_id, experiment_version_id, config, name)

    def _start_run_of(
        self,
        experiment: Experiment,
        deployment_id: UUID | None,
        experiment_version_id: UUID | None,
        config: dict[str, Any] | None,
        name: str,
    ) -> Written:
        project = experiment.project_id
        to_save: list[Aggregate] = [experiment]
        if experiment_version_id is not None:
            version = self.get(ExperimentVersion, experiment_version_id, "experiment version")
            if version.experiment_id != experiment.id:
                raise Invalid(f"{experiment_version_id} belongs to another experiment", field="experiment_version_id")
        elif experiment.needs_new_version:
            version = ExperimentVersion(
                experiment_id=experiment.id, number=experiment.versions + 1, definition=experiment.definition,
                project_id=project,
            )  # fmt: skip
            experiment.record_version(version_id=version.id, number=version.number, revision=experiment.revision)
            to_save.append(version)
        else:
            version = self.get(ExperimentVersion, cast(UUID, experiment.latest_version_id), "experiment version")
        spec = orjson.loads(orjson.dumps(version.definition))
        if config:
            spec["config"] = check_config({**spec.get("config", {}), **config}, known_keys=False)
            self.check_run_config(spec["config"], spec["scorers"])
            spec["config_overrides"] = config
        if deployment_id is not None:
            spec["target"] = {**spec["target"], "deployment_id": str(deployment_id)}
            self.check_target(spec["target"])
        if spec["target"].get("type") == "prompt":  # an unpinned prompt runs its latest version: record which
            spec["target"] = self.pin_prompt_version(spec["target"])
        else:
            spec["target"] = self._code_of(spec["target"])
        spec["scorers"] = self._scorers_code(spec["scorers"])
        dataset_version = self.get(DatasetVersion, UUID(spec["dataset_version_id"]), "dataset version")
        run = Run.start(
            experiment_id=experiment.id,
            experiment_version_id=version.id,
            dataset_id=dataset_version.dataset_id,
            dataset_version_id=dataset_version.id,
            name=name or f"run-{os.urandom(3).hex()}",
            spec=spec,
            n_items=dataset_version.n_items,
            repetitions=int(spec["config"].get("repetitions", 1)),
            dataset_digest=dataset_version.content_digest,
            project_id=project,
        )
        self._plan(run)
        to_save.append(run)
        return Written(run.id, self._save(*to_save), version.number)

    def rerun_run(self, run_id: UUID, name: str = "") -> Written:
        """Start a new run of what ``run_id`` ran: its experiment version, dataset version, config (with its
        overrides), target (the same deployment, or the same pinned prompt version) and scorers, linked to it by
        ``spec.source_run_id``. A snapshot deployment runs the same code; an editable one runs its files as they
        are now and records their digest (compare says when it differs). An archived deployment runs nothing."""
        source = self.get(Run, run_id, "run", field="run_id")
        self.get(Experiment, source.experiment_id, "experiment").check_runnable()
        with project_scope(source.project_id):
            return self._rerun(source, name)

    def _rerun(self, source: Run, name: str) -> Written:
        spec = orjson.loads(orjson.dumps(source.spec))
        spec["source_run_id"] = str(source.id)
        if spec["target"].get("type") != "prompt":
            target = {key: value for key, value in spec["target"].items() if key not in RUN_CODE_KEYS}
            spec["target"] = self._code_of(target)
        spec["scorers"] = self._scorers_code(spec["scorers"])
        run = Run.start(
            experiment_id=source.experiment_id,
            experiment_version_id=source.experiment_version_id,
            dataset_id=source.dataset_id,
            dataset_version_id=source.dataset_version_id,
            name=name or f"{source.name}-rerun",
            spec=spec,
            n_items=source.n_items,
            repetitions=source.repetitions,
            dataset_digest=source.dataset_digest,
            project_id=source.project_id,
        )
        self._plan(run)
        return Written(run.id, self._save(run))

    def _plan(self, run: Run) -> None:
        """A run is split into shards when it starts (``Run.plan_shards``): the unit of work of the worker pool and
        of the in-process executor alike."""
        if self.shard_runs:
            run.plan_shards(int(run.spec.get("config", {}).get("shard_size", DEFAULT_SHARD_SIZE)), self.pool_runs)

    def annotate(
        self,
        run_id: UUID,
        run_item_id: str,
        name: str,
        label: str | None = None,
        score: Any = None,
        explanation: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Written:
        """Record a human annotation on one of a run's recorded items."""
        value = check_annotation(name, label, score, explanation, metadata if metadata is not None else {})
        run = self.get(Run, run_id, "run")
        self.check_run_item(run, run_item_id)
        annotation = Annotation(
            run_id=run.id, run_item_id=run_item_id, name=name.strip(), label=label, score=value,
            explanation=explanation, metadata=metadata or {}, project_id=run.project_id,
        )  # fmt: skip
        return Written(annotation.id, self._save(annotation))

    def cancel_run(self, run_id: UUID, reason: str = "cancelled by user", experiment_id: UUID | None = None) -> Written:
        """Cancel a running run (retrying when its worker records a chunk at the same moment)."""

        def cancel(run: Run) -> None:
            if experiment_id is not None and run.experiment_id != experiment_id:
                raise Invalid(f"run {run_id} does not belong to experiment {experiment_id}", field="run_id")
            run.cancel(reason)

        return self._change_run(run_id, cancel)

    def fail_run(self, run_id: UUID, reason: str) -> Written:
        return self._change_run(run_id, lambda run: run.fail(reason))

    def complete_run(self, run_id: UUID) -> Written:
        """Complete a run whose every item is recorded (its last chunk usually completes it already)."""
        return self._change_run(run_id, lambda run: run.complete())

    def _change_run(self, run_id: UUID, change: Callable[[Run], None], attempts: int = 10) -> Written:
        """Apply a command to a run that its worker may be writing to: on a version clash, reload and retry."""
        for attempt in range(attempts):
            run = self.get(Run, run_id, "run")
            change(run)
            try:
                return Written(run.id, self._save(run))
            except Conflict:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")
