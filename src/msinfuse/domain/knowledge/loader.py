"""Load and validate the knowledge-base data files.

:func:`load_knowledge_base` reads the YAML files under a data directory (the packaged
``data/`` by default), validates each against the typed schema and cross-checks them
(every cited source key resolves, every agent file is named after its agent, the PML
default table exists). Any problem raises :class:`~msinfuse.errors.KnowledgeBaseError`
naming the file, the field path and the problem.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from msinfuse.domain.knowledge.entry_limits import EntryLimits
from msinfuse.domain.knowledge.facts import Citation
from msinfuse.domain.knowledge.schema import (
    Agent,
    Alternative,
    ClinicPolicy,
    KnowledgeBase,
    LabTest,
    PmlTable,
    Source,
    Terminology,
)
from msinfuse.errors import KnowledgeBaseError

DATA_DIR = Path(__file__).parent / "data"

M = TypeVar("M")


def _format_loc(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError:
        raise KnowledgeBaseError(path.name, "", "file is missing") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f"line {where.line + 1}" if where is not None else ""
        raise KnowledgeBaseError(path.name, line, f"not valid YAML: {exc}") from None


def _yaml_loc(data: Any, loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """The error location as the YAML keys: drop the model names pydantic adds for union
    branches, and the ``us``/``eu`` keys of a value written once for both profiles."""
    kept: list[int | str] = []
    node = data
    for part in loc:
        if isinstance(part, str) and part[:1].isupper():
            continue
        if part in ("us", "eu") and isinstance(node, dict) and part not in node:
            continue
        kept.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(kept)


def _validate(adapter: TypeAdapter[M], data: Any, file: str, prefix: str = "") -> M:
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = _format_loc(_yaml_loc(data, first["loc"]))
        if prefix:
            path = f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise KnowledgeBaseError(file, path, f"{first['msg']}{more}") from None


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(path, value)`` for every node of a loaded model, depth first."""
    yield path, value
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            child = getattr(value, name)
            yield from walk(child, f"{path}.{name}" if path else name)
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from walk(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, tuple | list):
        for index, child in enumerate(value):
            yield from walk(child, f"{path}[{index}]")


def _check_citations(model: Any, file: str, sources: dict[str, Source], prefix: str = "") -> None:
    for path, node in walk(model, prefix):
        if isinstance(node, Citation) and node.source not in sources:
            raise KnowledgeBaseError(
                file, path, f"cites unknown source {node.source!r} (not in sources.yaml)"
            )


def load_knowledge_base(data_dir: Path | None = None) -> KnowledgeBase:
    """Load, validate and cross-check the knowledge base under ``data_dir``."""
    root = data_dir or DATA_DIR

    sources_raw = _read_yaml(root / "sources.yaml")
    if not isinstance(sources_raw, dict) or "sources" not in sources_raw:
        raise KnowledgeBaseError("sources.yaml", "sources", "missing the 'sources' list")
    version = str(sources_raw.get("version", "unversioned"))
    source_list = _validate(
        TypeAdapter(list[Source]), sources_raw["sources"], "sources.yaml", "sources"
    )
    sources: dict[str, Source] = {}
    for index, source in enumerate(source_list):
        if source.key in sources:
            raise KnowledgeBaseError(
                "sources.yaml", f"sources[{index}].key", f"duplicate source key {source.key!r}"
            )
        sources[source.key] = source

    agents: dict[str, Agent] = {}
    agent_files = sorted((root / "agents").glob("*.yaml"))
    if not agent_files:
        raise KnowledgeBaseError("agents/", "", "no agent files found")
    for path in agent_files:
        file = f"agents/{path.name}"
        agent = _validate(TypeAdapter(Agent), _read_yaml(path), file)
        if agent.id != path.stem:
            raise KnowledgeBaseError(file, "id", f"agent id {agent.id!r} must match the file name")
        _check_citations(agent, file, sources)
        agents[agent.id] = agent

    alternatives_raw = _read_yaml(root / "alternatives.yaml")
    alternatives = _validate(
        TypeAdapter(tuple[Alternative, ...]),
        (alternatives_raw or {}).get("alternatives"),
        "alternatives.yaml",
        "alternatives",
    )
    _check_citations(alternatives, "alternatives.yaml", sources, "alternatives")

    labs_raw = _read_yaml(root / "labs.yaml")
    lab_list = _validate(
        TypeAdapter(tuple[LabTest, ...]), (labs_raw or {}).get("labs"), "labs.yaml", "labs"
    )
    _check_citations(lab_list, "labs.yaml", sources, "labs")
    labs = {lab.code: lab for lab in lab_list}

    pml_raw = _read_yaml(root / "pml.yaml")
    pml_tables = _validate(
        TypeAdapter(tuple[PmlTable, ...]), (pml_raw or {}).get("tables"), "pml.yaml", "tables"
    )
    _check_citations(pml_tables, "pml.yaml", sources, "tables")

    clinic = _validate(TypeAdapter(ClinicPolicy), _read_yaml(root / "clinic.yaml"), "clinic.yaml")
    _check_citations(clinic, "clinic.yaml", sources)

    terminology = _validate(
        TypeAdapter(Terminology), _read_yaml(root / "terminology.yaml"), "terminology.yaml"
    )
    _check_citations(terminology, "terminology.yaml", sources)

    limits = _validate(TypeAdapter(EntryLimits), _read_yaml(root / "limits.yaml"), "limits.yaml")
    _check_citations(limits, "limits.yaml", sources)

    kb = KnowledgeBase(
        version=version,
        sources=sources,
        agents=agents,
        alternatives=alternatives,
        labs=labs,
        pml_tables=pml_tables,
        clinic=clinic,
        terminology=terminology,
        limits=limits,
    )
    _cross_check(kb)
    return kb


def _cross_check(kb: KnowledgeBase) -> None:
    units = {t.id: t.unit for t in kb.terminology.vital_signs}
    for index, vital in enumerate(kb.limits.vital_signs):
        if units.get(vital.kind) != vital.unit:
            raise KnowledgeBaseError(
                "limits.yaml",
                f"vital_signs[{index}].unit",
                f"{vital.unit!r} is not the terminology unit of {vital.kind} "
                f"({units.get(vital.kind)!r})",
            )
    for agent in kb.agents.values():
        file = f"agents/{agent.id}.yaml"
        if agent.pml is not None and kb.pml_table(agent.pml.default_table) is None:
            raise KnowledgeBaseError(
                file, "pml.default_table", f"unknown PML table {agent.pml.default_table!r}"
            )
        for index, req in enumerate(agent.screening):
            if not req.window_from_monitoring:
                continue
            for profile in req.profiles:
                for code in req.tests:
                    if not any(
                        code in m.satisfied_by and profile in m.profiles for m in agent.monitoring
                    ):
                        raise KnowledgeBaseError(
                            file,
                            f"screening[{index}].window_from_monitoring",
                            f"no {profile} monitoring item of {agent.id} is satisfied by {code!r}",
                        )
        for index, premed in enumerate(agent.premedications):
            if premed.lead_from_protocol is None:
                continue
            other_id, _, protocol_id = premed.lead_from_protocol.partition(":")
            other = kb.agent(other_id)
            if other is None or all(p.id != protocol_id for p in other.rate_protocols):
                raise KnowledgeBaseError(
                    file,
                    f"premedications[{index}].lead_from_protocol",
                    f"unknown rate protocol {premed.lead_from_protocol!r}",
                )


@lru_cache(maxsize=1)
def default_knowledge_base() -> KnowledgeBase:
    """The packaged knowledge base, loaded once per process."""
    return load_knowledge_base()
