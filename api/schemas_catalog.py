"""Response bodies of deployments, scorers, prompts and experiments (see ``api.schemas``)."""

from __future__ import annotations

from pydantic import Field

from agnt5_evals.api.schemas import AT, EXPERIMENT, Absent, Id, Json, Schema, Timestamp, examples

DEPLOYMENT, PROMPT = "ef871207-3bdf-4024-b973-efb784b592d2", "76eee9e4-6637-4189-b34e-077704fb86fc"
DS, DS_VERSION = "9e76ed80-030e-4c69-a02e-2a4e8743ded2", "a5519df7-4581-5af8-aef6-2d52d7a6ee3b"
EXP_VERSION, PROMPT_VERSION = "ba334120-ea4f-55d7-9132-9b4e9b897888", "9c425d99-feef-560d-ace6-4a13da5e52da"
COMPONENT = {"name": "support_agent", "type": "agent"}
CUSTOM_SCORER = {"id": "5db1e3bc-a3be-478c-9d10-1ac21411a43b", "name": "always-ok", "description": "",
                 "deployment_id": DEPLOYMENT, "component_name": "always", "created_at": AT}  # fmt: skip
BUILTIN_SCORER = {"name": "contains", "kind": "output", "requires_config": True,
                  "description": "Output text contains config.pattern.",
                  "config": {"pattern": "non-empty string (required)",
                             "case_sensitive": "bool (default true)"}}  # fmt: skip
PROMPT_ROW = {"id": PROMPT, "name": "greeting", "description": "", "versions": 1, "latest_version_id": PROMPT_VERSION,
              "created_at": AT, "updated_at": AT}  # fmt: skip
PROMPT_VERSION_ROW = {"id": PROMPT_VERSION, "prompt_id": PROMPT, "number": 1, "model": "gpt-4o-mini",
                      "messages": [{"role": "user", "content": "Hi {{ name }}"}], "parameters": {"temperature": 0},
                      "output_format": "text", "response_schema": None, "created_at": AT}  # fmt: skip
DEFINITION = {
    "dataset_id": DS, "dataset_version_id": DS_VERSION,
    "target": {"type": "component", "deployment_id": DEPLOYMENT, "component_name": "support_agent",
               "component_type": "agent"},
    "scorers": [{"type": "builtin", "name": "json_valid", "config": {}, "key": "json_valid"}],
    "config": {"passed_threshold": 1, "repetitions": 2},
}  # fmt: skip


class Component(Schema):
    """A component a deployment provides."""

    model_config = examples(COMPONENT)
    name: str
    type: str = Field(description="agent, function, workflow, scorer, ...")
    sdk: str | Absent = Field(None, description="agnt5: written with the public AGNT5 SDK's decorators")


DEPLOYMENT_ROW = {
    "id": DEPLOYMENT, "name": "good", "kind": "python", "module": "good_agent", "path": "/srv/agents", "url": "",
    "components": [COMPONENT], "created_at": AT, "editable": False,
    "bundle_digest": "sha256:9f2c4e1b5d0a7c3e8f6b2a1d4c7e0f3a6b9c2d5e8f1a4b7c0d3e6f9a2b5c8d1e", "bundle_size": 2310,
    "bundle_files": 2, "include_globs": [], "exclude_globs": ["*.csv"], "build": "", "archived": False,
}  # fmt: skip
BUNDLE_FILE = {"path": "good_agent.py", "size": 1830, "executable": False,
               "sha256": "4c1f9a0e2b7d5c3a8e6f1b0d9c2a7e5f3b8d6c1a0e9f7b2d5c3a8e6f1b0d9c2a"}  # fmt: skip


class Deployment(Schema):
    """A Python module's components (kind python: module, path; a snapshot of the tree, or editable: the live
    files) or an HTTP worker's (kind http: url, and the build it reported)."""

    model_config = examples(DEPLOYMENT_ROW)
    id: Id
    name: str
    kind: str
    module: str
    path: str
    url: str
    components: list[Component]
    created_at: Timestamp
    editable: bool = Field(description="runs the live files under path (each run records their digest)")
    bundle_digest: str = Field(description="the snapshot's sha256 digest; empty when editable or HTTP")
    bundle_size: int = Field(description="the snapshot's total size in bytes")
    bundle_files: int
    include_globs: list[str]
    exclude_globs: list[str]
    build: str = Field(description="the build or version an HTTP worker reported (empty when none)")
    archived: bool = Field(description="an archived deployment starts no new runs")


class BundleFile(Schema):
    """One file of a deployment's snapshot."""

    model_config = examples(BUNDLE_FILE)
    path: str
    size: int
    executable: bool
    sha256: str


class DeploymentDetail(Deployment):
    """A deployment with the files of its snapshot."""

    model_config = examples({**DEPLOYMENT_ROW, "files": [BUNDLE_FILE]})
    files: list[BundleFile]


class BuiltinScorer(Schema):
    """A built-in scorer and its config keys (``type (default)``)."""

    model_config = examples(BUILTIN_SCORER)
    name: str
    kind: str
    requires_config: bool
    description: str
    config: dict[str, Json]


class CustomScorer(Schema):
    """A deployed scorer component registered by name."""

    model_config = examples(CUSTOM_SCORER)
    id: Id
    name: str
    description: str
    deployment_id: Id
    component_name: str
    created_at: Timestamp


class ScorerCatalog(Schema):
    """The built-in scorers and the custom ones."""

    model_config = examples({"builtin": [BUILTIN_SCORER], "custom": [CUSTOM_SCORER]})
    builtin: list[BuiltinScorer]
    custom: list[CustomScorer]


class Prompt(Schema):
    """A prompt: a named series of immutable versions."""

    model_config = examples(PROMPT_ROW)
    id: Id
    name: str
    description: str
    versions: int
    latest_version_id: Id | None
    created_at: Timestamp
    updated_at: Timestamp


class PromptVersion(Schema):
    """One immutable version of a prompt: messages (templates), model, parameters and output format."""

    model_config = examples(PROMPT_VERSION_ROW)
    id: Id
    prompt_id: Id
    number: int
    model: str
    messages: list[Json]
    parameters: dict[str, Json]
    output_format: str
    response_schema: dict[str, Json] | None
    created_at: Timestamp


class PromptCreated(Prompt):
    """A new prompt with its version 1."""

    model_config = examples({**PROMPT_ROW, "version": PROMPT_VERSION_ROW})
    version: PromptVersion


class Experiment(Schema):
    """An experiment: its current definition (dataset version, target, scorers, config) and its versions."""

    model_config = examples({"id": EXPERIMENT, "name": "support-agent", "description": "", "dataset_id": DS,
                             "dataset_version_id": DS_VERSION, "definition": DEFINITION, "revision": 1,
                             "versions": 1, "latest_version_id": EXP_VERSION, "created_at": AT,
                             "updated_at": AT, "archived": False})  # fmt: skip
    id: Id
    name: str
    description: str
    dataset_id: Id
    dataset_version_id: Id
    definition: dict[str, Json]
    revision: int
    versions: int
    latest_version_id: Id | None
    created_at: Timestamp
    updated_at: Timestamp
    archived: bool = Field(description="hidden from lists (archived=true shows it) and starts no new runs")
    notes: list[str] = Field(
        default_factory=list,
        description="on create: what the server chose for you (no scorers given: exact_match); empty otherwise",
    )


class ExperimentVersion(Schema):
    """An immutable version of an experiment's definition; every run runs one."""

    model_config = examples({"id": EXP_VERSION, "experiment_id": EXPERIMENT, "number": 1, "definition": DEFINITION,
                             "created_at": AT})  # fmt: skip
    id: Id
    experiment_id: Id
    number: int
    definition: dict[str, Json]
    created_at: Timestamp
