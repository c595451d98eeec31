"""The contract every analysis model keeps, and the registry that serves the registered ones.

A model is one module that declares `MODEL = AnalysisModel(...)`: its request class (pydantic, with a
`model: Literal["<name>"] = "<name>"` tag), `build` (request -> named parameterised queries), `shape` (request and
the rows of those queries -> response), a one-line summary, and, where it can list the persons behind a figure,
`persons` (request -> the persons query; the request then has a `persons` page field, the response a `persons`
key). A model made of other models (the chain, chain.py) gives `run` instead of `build` and `shape`: it runs its
parts through the runner itself. `pipelines/analysis/registry.py` registers it in one line. The runner's dispatch,
the request union the API validates and reports errors against, the OpenAPI document and the model catalogue a UI
reads all come from the registry, so nothing else names the models.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args

from pydantic import BaseModel, Field, TypeAdapter

from pipelines.analysis.shaping import Rows
from pipelines.analysis.sqlparams import BuiltQuery

PERSONS_FIELD = "persons"  # the request's persons page, the query's name and the response's key, for every model


class ResultTooLarge(RuntimeError):
    """The result has more rows than the limit allows."""


@dataclass(frozen=True)
class Steps:
    """What the runner lends a model made of other models (`run`): its parts prepared and run as the runner runs
    any request, over the same warehouse and limits, without that model importing the runner or the registry (which
    registers it) back."""

    prepare: Callable[[Any], Any]  # a request body -> the validated request, person-level names resolved
    # (a prepared single-model request, the table base of its materialised per-person rows or None) -> its response
    run: Callable[..., dict[str, Any]]
    model_of: Callable[[Any], "AnalysisModel"]  # a prepared request -> its registered model


@dataclass(frozen=True)
class AnalysisModel:
    """One analysis model as the engine runs it."""

    request_type: type[BaseModel]
    summary: str
    build: Callable[[Any], dict[str, BuiltQuery]] | None = None
    shape: Callable[[Any, dict[str, Rows]], dict[str, Any]] | None = None
    persons: Callable[[Any], BuiltQuery] | None = None
    # (request, warehouse, limits, Steps) -> response: a model that runs other models instead of SQL of its own.
    run: Callable[[Any, Any, Any, Steps], dict[str, Any]] | None = None
    # (request, table base) -> [(table, SELECT)] to create in order, or None when the request has no such path: the
    # model's per-person rows (with `person_key` and a `touchpoint`, persons.TOUCHPOINT), so that a chain carrying
    # the step computes them once; `build` and `persons` then take `over=<table base>` and read them (`persons` of a
    # whole cell through persons.named_cell_sql: each person once, which the carry's audience write relies on).
    per_person: Callable[[Any, str], list[tuple[str, BuiltQuery]] | None] | None = None

    @property
    def name(self) -> str:
        """The `model` tag of its requests."""
        return self.request_type.model_fields["model"].default

    def queries(self, request, over: str | None = None) -> dict[str, BuiltQuery]:
        """Every query a request needs: the model's own, and its persons query when the request asks for a page
        (none for a model that runs other models: theirs are in its response); over the per-person rows
        materialised in the tables of base `over` (`per_person`) when given."""
        if self.build is None:
            return {}
        on = {} if over is None else {"over": over}
        queries = self.build(request, **on)
        if self.persons is not None and getattr(request, PERSONS_FIELD) is not None:
            queries[PERSONS_FIELD] = self.persons(request, **on)
        return queries

    def describe(self) -> dict[str, Any]:
        """What a UI needs to offer the model: its name, summary, whether it lists persons, its request schema."""
        return {
            "model": self.name,
            "summary": self.summary,
            "lists_persons": self.persons is not None,
            "request_schema": self.request_type.model_json_schema(),
        }


def _contract_problem(model: AnalysisModel) -> str | None:
    fields = model.request_type.model_fields
    tag = fields.get("model")
    if tag is None or get_args(tag.annotation) != (tag.default,):
        return 'its request needs a `model: Literal["<name>"] = "<name>"` field'
    if (model.run is None) == (model.build is None or model.shape is None):
        return "it needs either `build` and `shape` or `run`"
    if model.persons is not None and PERSONS_FIELD not in fields:
        return f"it has a persons query, so its request needs a `{PERSONS_FIELD}` page field"
    if model.per_person is not None and model.persons is None:
        return "its per-person rows serve a chain's carried cell, so it needs a persons query"
    return None


class Registry:
    """The registered models by name, in registration order (the order of the OpenAPI union and of a UI's list)."""

    def __init__(self, models: Iterable[AnalysisModel] = ()):
        self._models: dict[str, AnalysisModel] = {}
        for model in models:
            self.register(model)

    def register(self, model: AnalysisModel) -> AnalysisModel:
        if problem := _contract_problem(model):
            raise TypeError(f"analysis model {model.request_type.__name__}: {problem}")
        if model.name in self._models:
            raise ValueError(f"an analysis model named {model.name!r} is registered already")
        self._models[model.name] = model
        return model

    def unregister(self, name: str) -> None:
        del self._models[name]

    def __iter__(self) -> Iterator[AnalysisModel]:
        return iter(list(self._models.values()))

    def names(self) -> list[str]:
        return list(self._models)

    def of(self, request) -> AnalysisModel:
        """The model of a validated request."""
        return self._models[request.model]

    def request_types(self) -> tuple[type[BaseModel], ...]:
        return tuple(model.request_type for model in self)

    def request_adapter(self) -> TypeAdapter:
        """Validates any registered model's request, chosen by its `model` tag."""
        return _union_adapter(self.request_types())

    def describe(self) -> list[dict[str, Any]]:
        return [model.describe() for model in self]


@functools.lru_cache(maxsize=8)
def _union_adapter(request_types: tuple[type[BaseModel], ...]) -> TypeAdapter:
    # Cached by the registered request types: built once, and again only when a model is (un)registered.
    return TypeAdapter(Annotated[Union[request_types], Field(discriminator="model")])
