"""Tables of the read model. ``{p}`` is the table prefix (schema-qualified on PostgreSQL); ``{real}`` the
float type. A change of any table here, or of what a column holds, must bump ``VIEW_NAME`` so the views rebuild
from position 0 (``agnt5v17``: a run item's trace stored compact, ``projections.traces``).

The tables of the resources a project owns have a ``project_id`` column (its rows' project; ``default`` for those
written before projects); their children's tables are read through them (``queries`` filters by it).
"""

from __future__ import annotations

VIEW_NAME = "agnt5v17"

TABLES = {
    "projects": """(id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL)""",
    "datasets": """(id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, metadata TEXT NOT NULL,
        draft_items INTEGER NOT NULL, versions INTEGER NOT NULL, created_at TEXT NOT NULL,
        project_id TEXT NOT NULL, archived INTEGER NOT NULL)""",
    "draft_items": """(dataset_id TEXT NOT NULL, item_id TEXT NOT NULL, seq BIGINT NOT NULL, input TEXT NOT NULL,
        expected_output TEXT NOT NULL, metadata TEXT NOT NULL, events TEXT NOT NULL, split TEXT,
        PRIMARY KEY (dataset_id, item_id))""",
    "upload_items": """(upload_id TEXT NOT NULL, position INTEGER NOT NULL, chunk_id TEXT NOT NULL,
        item_id TEXT NOT NULL, input TEXT NOT NULL, expected_output TEXT NOT NULL, metadata TEXT NOT NULL,
        events TEXT NOT NULL, split TEXT, PRIMARY KEY (upload_id, position))""",
    "dataset_versions": """(id TEXT PRIMARY KEY, dataset_id TEXT NOT NULL, number INTEGER NOT NULL,
        description TEXT NOT NULL, metadata TEXT NOT NULL, n_items INTEGER NOT NULL, created_at TEXT NOT NULL,
        project_id TEXT NOT NULL)""",
    "dataset_items": """(version_id TEXT NOT NULL, position INTEGER NOT NULL, chunk_id TEXT NOT NULL,
        item_id TEXT NOT NULL, input TEXT NOT NULL, expected_output TEXT NOT NULL, metadata TEXT NOT NULL,
        events TEXT NOT NULL, split TEXT, live INTEGER NOT NULL, PRIMARY KEY (version_id, chunk_id, position))""",
    "deployments": """(id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, module TEXT NOT NULL,
        path TEXT NOT NULL, url TEXT NOT NULL, components TEXT NOT NULL, created_at TEXT NOT NULL,
        editable INTEGER NOT NULL, bundle_digest TEXT NOT NULL, bundle_size BIGINT NOT NULL,
        bundle_files INTEGER NOT NULL, include_globs TEXT NOT NULL, exclude_globs TEXT NOT NULL, build TEXT NOT NULL,
        archived INTEGER NOT NULL,
        project_id TEXT NOT NULL)""",
    "scorers": """(id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, deployment_id TEXT NOT NULL,
        component_name TEXT NOT NULL, created_at TEXT NOT NULL,
        project_id TEXT NOT NULL)""",
    "experiments": """(id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, dataset_id TEXT NOT NULL,
        dataset_version_id TEXT NOT NULL, definition TEXT NOT NULL, revision INTEGER NOT NULL,
        versions INTEGER NOT NULL, latest_version_id TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        project_id TEXT NOT NULL, archived INTEGER NOT NULL)""",
    "experiment_versions": """(id TEXT PRIMARY KEY, experiment_id TEXT NOT NULL, number INTEGER NOT NULL,
        definition TEXT NOT NULL, created_at TEXT NOT NULL,
        project_id TEXT NOT NULL)""",
    "runs": """(id TEXT PRIMARY KEY, experiment_id TEXT NOT NULL, experiment_version_id TEXT NOT NULL,
        dataset_id TEXT NOT NULL, dataset_version_id TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL,
        status TEXT NOT NULL, total INTEGER NOT NULL, done INTEGER NOT NULL, passed INTEGER NOT NULL,
        failed INTEGER NOT NULL, errored INTEGER NOT NULL, reason TEXT, created_at TEXT NOT NULL,
        finished_at TEXT,
        project_id TEXT NOT NULL)""",
    "run_items": """(id TEXT PRIMARY KEY, run_id TEXT NOT NULL, position INTEGER NOT NULL,
        dataset_item_id TEXT NOT NULL, repetition INTEGER NOT NULL, status TEXT NOT NULL, output TEXT NOT NULL,
        error TEXT, events TEXT NOT NULL, started_at TEXT NOT NULL, duration_ms {real} NOT NULL,
        attempts INTEGER NOT NULL, tokens INTEGER NOT NULL)""",
    "scores": """(id TEXT PRIMARY KEY, run_id TEXT NOT NULL, run_item_id TEXT NOT NULL, position INTEGER NOT NULL,
        scorer_index INTEGER NOT NULL, scorer_key TEXT NOT NULL, scorer_name TEXT NOT NULL, config TEXT NOT NULL,
        score {real} NOT NULL, passed INTEGER NOT NULL, errored INTEGER NOT NULL, label TEXT, explanation TEXT,
        metadata TEXT NOT NULL, evidence TEXT NOT NULL, created_at TEXT NOT NULL, rescore_id TEXT,
        is_current INTEGER NOT NULL)""",
    "rescores": """(id TEXT PRIMARY KEY, run_id TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
        scorers TEXT NOT NULL, chosen INTEGER NOT NULL, replace_latest INTEGER NOT NULL, total INTEGER NOT NULL,
        done INTEGER NOT NULL, passed INTEGER NOT NULL, failed INTEGER NOT NULL, errored INTEGER NOT NULL,
        failure TEXT, created_at TEXT NOT NULL, finished_at TEXT,
        project_id TEXT NOT NULL)""",
    "rescore_items": """(rescore_id TEXT NOT NULL, run_item_id TEXT NOT NULL, position INTEGER NOT NULL,
        status TEXT NOT NULL, previous_status TEXT NOT NULL, PRIMARY KEY (rescore_id, run_item_id))""",
    "annotations": """(id TEXT PRIMARY KEY, run_id TEXT NOT NULL, run_item_id TEXT NOT NULL, name TEXT NOT NULL,
        label TEXT, score {real}, explanation TEXT, metadata TEXT NOT NULL, created_at TEXT NOT NULL,
        project_id TEXT NOT NULL)""",
    "run_scorers": """(run_id TEXT NOT NULL, scorer_key TEXT NOT NULL, scorer_index INTEGER NOT NULL,
        n INTEGER NOT NULL, sum_score_e9 BIGINT NOT NULL, n_passed INTEGER NOT NULL, n_failed INTEGER NOT NULL,
        n_errored INTEGER NOT NULL, PRIMARY KEY (run_id, scorer_key))""",
    "prompts": """(id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, versions INTEGER NOT NULL,
        latest_version_id TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        project_id TEXT NOT NULL)""",
    "prompt_versions": """(id TEXT PRIMARY KEY, prompt_id TEXT NOT NULL, number INTEGER NOT NULL, model TEXT NOT NULL,
        messages TEXT NOT NULL, parameters TEXT NOT NULL, output_format TEXT NOT NULL, response_schema TEXT NOT NULL,
        created_at TEXT NOT NULL,
        project_id TEXT NOT NULL)""",
    # a finished run's verdicts and scores, packed (projections.vectors); {blob} is BLOB or BYTEA
    "run_vectors": """(run_id TEXT PRIMARY KEY, stamp TEXT NOT NULL, header TEXT NOT NULL, data {blob} NOT NULL)""",
    "version_vectors": """(version_id TEXT PRIMARY KEY, header TEXT NOT NULL, data {blob} NOT NULL)""",
}

VECTOR_TABLES = ("run_vectors", "version_vectors")

INDEXES = [
    # A run's items by position, covering what pairs them (else a planner without statistics takes the pair index,
    # which also covers these columns, and walks the run to find one position)
    "CREATE INDEX IF NOT EXISTS {n}_run_items_run ON {p}run_items (run_id, position, status, dataset_item_id, "
    "repetition, id)",
    "CREATE INDEX IF NOT EXISTS {n}_dataset_items_item ON {p}dataset_items (version_id, item_id)",
    "CREATE INDEX IF NOT EXISTS {n}_dataset_items_position ON {p}dataset_items (version_id, position)",
    # A run's scores in order, covering what a comparison pairs and sums (verdict, score) without the row
    "CREATE INDEX IF NOT EXISTS {n}_scores_run ON {p}scores (run_id, position, scorer_index, is_current, scorer_key, "
    "score, passed)",
    # the Studio's run page: items by duration (latency percentiles, the duration sort, tokens) and by a scorer's
    # score (the score sort and the score histograms), read from the index alone
    "CREATE INDEX IF NOT EXISTS {n}_run_items_duration ON {p}run_items (run_id, duration_ms, position, tokens)",
    "CREATE INDEX IF NOT EXISTS {n}_scores_scorer ON {p}scores (run_id, is_current, scorer_key, score, position)",
    # Pairing two runs' items by (dataset item, repetition), covering their status, position and id
    "CREATE INDEX IF NOT EXISTS {n}_run_items_pair ON {p}run_items (run_id, dataset_item_id, repetition, status, "
    "position, id)",
    # A status's items in order (failures, ?status=): a page without walking the run
    "CREATE INDEX IF NOT EXISTS {n}_run_items_status ON {p}run_items (run_id, status, position)",
    "CREATE INDEX IF NOT EXISTS {n}_scores_rescore ON {p}scores (rescore_id)",
    "CREATE INDEX IF NOT EXISTS {n}_rescores_run ON {p}rescores (run_id, created_at)",
    "CREATE INDEX IF NOT EXISTS {n}_annotations_run ON {p}annotations (run_id, created_at)",
    "CREATE INDEX IF NOT EXISTS {n}_runs_experiment ON {p}runs (experiment_id, created_at)",
    "CREATE INDEX IF NOT EXISTS {n}_draft_seq ON {p}draft_items (dataset_id, seq)",
    # not {n}_prompt_versions: on PostgreSQL that is the table's own name, and the index was silently never created
    "CREATE INDEX IF NOT EXISTS {n}_prompt_versions_number ON {p}prompt_versions (prompt_id, number)",
    "CREATE INDEX IF NOT EXISTS {n}_datasets_project ON {p}datasets (project_id, created_at)",
    "CREATE INDEX IF NOT EXISTS {n}_experiments_project ON {p}experiments (project_id, created_at)",
    "CREATE INDEX IF NOT EXISTS {n}_deployments_project ON {p}deployments (project_id, created_at)",
]


GENERATION_TABLE = "generation"  # one row: the live generation and the next one a rebuild takes
GENERATION_COLUMNS = "(id INTEGER PRIMARY KEY, live INTEGER NOT NULL, next INTEGER NOT NULL)"


def generation_prefix(generation: int) -> str:
    """Generation 0 is the tables of a store built before rebuilds made generations; later ones get a suffix."""
    return f"g{generation}_" if generation else ""


def create_statements(
    prefix: str, real: str, generation: int = 0, blob: str = "BLOB", indexes: bool = True
) -> list[str]:
    """The tables and (unless ``indexes`` is False: a rebuild creates them after its first pass) the indexes of one
    generation (``prefix`` already names it)."""
    tables = [
        f"CREATE TABLE IF NOT EXISTS {prefix}{name} " + columns.replace("{real}", real).replace("{blob}", blob)
        for name, columns in TABLES.items()
    ]
    if blob == "BYTEA":  # PostgreSQL: packed arrays do not compress; unpacking a compressed value costs more
        tables += [f"ALTER TABLE {prefix}{t} ALTER COLUMN data SET STORAGE EXTERNAL" for t in VECTOR_TABLES]
    return tables + (index_statements(prefix, generation) if indexes else [])


def index_statements(prefix: str, generation: int) -> list[str]:
    """The secondary indexes of one generation; their names are per schema."""
    names = VIEW_NAME + (f"_g{generation}" if generation else "")
    return [index.format(n=names, p=prefix) for index in INDEXES]


def drop_statements(prefix: str) -> list[str]:
    return [f"DROP TABLE IF EXISTS {prefix}{name}" for name in TABLES]
