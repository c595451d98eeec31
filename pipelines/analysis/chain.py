"""Combined analysis (组合分析): a chain of models where each step reads only the persons of a chosen result cell of
the step before, e.g. a funnel's step-3 drop-offs -> their paths after step 2 -> their 7-day retention -> saved as
an audience.

- Request: `{"model": "chain", app_id, date_from, date_to, timezone, filters, sample, "steps": [{"request": {a model
  request}, "persons": {that model's persons selector, without limit/offset}}, ...], "save_as": name}`. The chain's
  app, range, timezone and sample override every step's (a saved chain re-runs with a new range by changing the
  chain's); its `filters` are added to every step's.
- Persons travel inside the warehouse: step k's cell persons are written as a new version of a temporary audience
  (`chain_<hash of the cell>`, kind 'chain') with an INSERT ... SELECT of their person keys only (`oneid_hash`,
  which the audience filter matches; no OneID strings, so `chain_` audiences are for the next step alone:
  pipelines/cdp/names.py), and step k+1 runs with `{"audience": name, "op": "in", "version": v}` added to its
  global filters, so running that request by hand gives the same numbers. `save_as` writes the last step's cell
  persons as a real audience (kind 'chain'), named by their OneIDs.
- A step whose cell goes on computes its model's per-person rows once (AnalysisModel.per_person: for the funnel,
  each person's best attempt; for paths, each person's edges), with one touchpoint hash per person (no id string
  read per event: a saved cell's OneIDs are named afterwards from the warehouse's id strings,
  persons.named_cell_sql), into scratch Memory tables (`chain_rows_<unix time>_<random>`, dropped when the step
  and its carry are done, also when they fail; a killed process's are swept a day later): the step's result and the
  cell's members are both read from them, instead of the carry running the step's per-person pass again and
  scanning its events for the OneIDs. A model or request without that path runs as it does alone, and its carry runs the persons
  listing's query over the whole cell.
- Temporary audiences are removed by age: a TTL on the CDP tables (sql/migrations/0071_chain_ttl.sql) drops
  `chain_*` members and versions a day after they were written; `chain_` names are reserved for them.
- Validation names the step: a selector the model does not take is `steps.1.persons.<field>`, a step's own error
  `steps.1.request.steps.0.event`, a step without persons before the last `steps.0.persons`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from typing import Annotated, Any, Literal, Union

from pydantic import Field, StringConstraints, ValidationError, create_model, model_validator

from pipelines.analysis.contract import PERSONS_FIELD, AnalysisModel, Registry, ResultTooLarge, Steps
from pipelines.analysis.request import QueryScope, Strict
from pipelines.cdp.names import AUDIENCE_NAME, TEMPORARY_PREFIX, is_temporary

MAX_STEPS = 5  # each step after the first reads a temporary audience written by the one before
SCRATCH_PREFIX = "chain_rows_"  # a step's materialised per-person rows (tables, not audiences)
SCRATCH_LEFT_AFTER_S = 86_400  # no step runs this long: an older scratch table was left by a process that died
KIND = "chain"
PAGE_FIELDS = ("limit", "offset")  # a chain carries all of a cell's persons: paging makes no sense there
SCOPE_FIELDS = ("app_id", "date_from", "date_to", "timezone", "sample")  # the chain's override every step's
MAX_FILTERS = 20  # of one request's global filters (request.QueryScope)
AudienceName = Annotated[str, StringConstraints(pattern=AUDIENCE_NAME.pattern)]


class ChainStepBase(Strict):
    """One step: a model request and the cell whose persons the next step reads."""

    persons: dict[str, Any] | None = Field(
        None, description="the cell whose persons go on: the step's model's `persons` selector without limit/offset"
    )


class ChainQueryBase(QueryScope):
    """A chain of model requests, each reading only the persons of the previous step's chosen cell."""

    model: Literal["chain"] = "chain"
    save_as: AudienceName | None = Field(None, description="save the last step's cell persons as this audience")

    @model_validator(mode="before")
    @classmethod
    def _scope_every_step(cls, data: Any) -> Any:
        """The chain's app, range, timezone and sample go into every step's request before it is validated, so a
        step's own errors are about the step and its numbers are about the chain's range."""
        if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
            return data
        scope = {name: data[name] for name in SCOPE_FIELDS if name in data}
        steps = [
            {**step, "request": {**step["request"], **scope}} if isinstance(step, dict) and isinstance(step.get("request"), dict) else step
            for step in data["steps"]
        ]
        return {**data, "steps": steps}

    @model_validator(mode="after")
    def _cells_exist(self):
        last = len(self.steps) - 1
        if self.save_as is not None and is_temporary(self.save_as):
            raise ValueError(f"save_as: names starting with {TEMPORARY_PREFIX!r} are the chain's temporary audiences")
        for index, step in enumerate(self.steps):
            if len(self.filters) + len(step.request.filters) + (index > 0) > MAX_FILTERS:
                raise ValueError(f"steps.{index}.request.filters: with the chain's filters and the persons carried in, more than {MAX_FILTERS}")
            if step.persons is None:
                if index < last:
                    raise ValueError(f"steps.{index}.persons: the next step reads this step's persons; choose a cell")
                if self.save_as is not None:
                    raise ValueError(f"steps.{index}.persons: save_as saves the last step's persons; choose a cell")
                continue
            cell_request(step.request, step.persons, index)  # raises naming the selector's field
        return self


def cell_request(request, persons: dict[str, Any], index: int):
    """`request` with the step's persons selector as the model's `persons` field (checked by the model), or a
    ValueError naming `steps.<index>.persons.<field>`."""
    where = f"steps.{index}.{PERSONS_FIELD}"
    if PERSONS_FIELD not in type(request).model_fields:
        raise ValueError(f"{where}: the {request.model} model lists no persons; choose a step of a model that does")
    if paged := [name for name in PAGE_FIELDS if name in persons]:
        raise ValueError(f"{where}.{paged[0]}: a chain carries all of a cell's persons (no paging)")
    try:
        return type(request).model_validate({**request.model_dump(), PERSONS_FIELD: persons})
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        loc = ".".join(map(str, error["loc"]))
        message = error["msg"].removeprefix("Value error, ")
        # The model's cross-field check names its field first ("persons.step: the funnel has 3 steps").
        named = message if not loc else f"{loc}: {message}"
        raise ValueError(f"steps.{index}.{named}") from None


def temporary_name(chain, index: int) -> str:
    """The persons of step `index` depend on the chain up to it: the same prefix of the same chain gets the same
    name, a new version each run."""
    prefix = {"scope": chain.model_dump(mode="json", exclude={"steps", "save_as"}), "steps": [step.model_dump(mode="json") for step in chain.steps[: index + 1]]}
    digest = hashlib.sha256(json.dumps(prefix, sort_keys=True).encode()).hexdigest()[:24]
    return f"{TEMPORARY_PREFIX}{digest}"


def step_request(chain, index: int, carried: dict[str, Any] | None) -> dict[str, Any]:
    """The request step `index` runs: the chain's filters, the step's, and the persons carried from the previous
    step as a pinned audience version. Running it by hand gives the step's numbers."""
    request = chain.steps[index].request
    filters = [f.model_dump(exclude_none=True) for f in (*chain.filters, *request.filters)]
    if carried is not None:
        filters.append({"audience": carried["audience"], "op": "in", "version": carried["version"]})
    return {**request.model_dump(mode="json"), "filters": filters}


@contextlib.contextmanager
def per_person_rows(writer, model: AnalysisModel, request, limits):
    """The base name of scratch tables holding `request`'s per-person rows (AnalysisModel.per_person), for as long
    as the block runs, then dropped (also when it fails); None when the model has no such path for the request."""
    base = f"{SCRATCH_PREFIX}{int(time.time())}_{uuid.uuid4().hex}"  # created when: see sweep_scratch
    tables = model.per_person(request, base) if model.per_person is not None else None
    if not tables:
        yield None
        return
    created = []
    try:
        for name, query in tables:
            created.append(name)
            writer.command(f"CREATE TABLE {name} ENGINE = Memory AS {query.sql}", query.parameters, settings={"max_execution_time": limits.timeout_s})
        yield base
    finally:
        for name in reversed(created):
            writer.command(f"DROP TABLE IF EXISTS {name}")


def sweep_scratch(writer, older_than_s: float = SCRATCH_LEFT_AFTER_S) -> list[str]:
    """Drops the scratch tables a process that died mid-step left behind (`per_person_rows` drops its own), those
    created more than `older_than_s` ago by the time in their name; returns their names. (The name, not the
    engine's metadata time: a test on a long-running server saw that stay within a second of now.)"""
    cutoff = time.time() - older_than_s
    left = []
    for (name,) in writer.rows(
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND startsWith(name, {prefix:String})",
        {"prefix": SCRATCH_PREFIX},
    ):
        created = name[len(SCRATCH_PREFIX) :].split("_", 1)[0]
        if created.isdigit() and int(created) < cutoff:
            left.append(name)
    for name in left:  # names from system.tables with the scratch prefix and a time: identifiers, not user input
        writer.command(f"DROP TABLE IF EXISTS {name}")
    return left


def _carry(writer, analyst, cell, model: AnalysisModel, audience: str, index: int, over: str | None) -> dict[str, Any]:
    """Writes the persons of `cell` (a prepared request with its persons selector, of `model`) as a new version of
    `audience` inside the warehouse, read from the step's per-person rows in tables `over` when given; its name,
    version and size."""
    from pipelines.analysis.person_filters import UnknownPersonNames
    from pipelines.analysis.result_persons import FIELD, Invalid, save_result_persons
    from pipelines.cdp import store

    try:
        version, size = save_result_persons(
            writer, analyst, cell, model, audience, KIND, f"chain steps.{index}", writer.settings.cdp_max_audience_persons, over,
            keys_only=is_temporary(audience),
        )
    except store.AudienceTooLarge as exc:
        raise ResultTooLarge(f"steps.{index}.persons: {exc}") from None
    except Invalid as exc:  # an event the app never heard of: refused rather than carrying nobody on
        raise UnknownPersonNames(
            [{**e, "field": f"steps.{index}.request.{e['field'].removeprefix(FIELD + '.')}"} for e in exc.errors]
        ) from None
    return {"audience": audience, "version": version, "persons": size}


def run(chain, analyst, limits, parts: Steps) -> dict[str, Any]:
    """Runs the steps in order (through the runner's `parts`), each over the persons the previous one carried (a
    step whose cell goes on over its per-person rows computed once, `per_person_rows`); returns each step's request
    (as run: by hand it gives the same result), result (its model's response) and the persons it carried on, the
    audience saved and the timings. Scratch tables a died process left behind are swept first (`sweep_scratch`)."""
    from pipelines.warehouse.client import Warehouse

    writer = Warehouse(analyst.settings, url=analyst.url, database=analyst.database)
    steps, carried, started = [], None, time.perf_counter()
    try:
        sweep_scratch(writer)
        for index, step in enumerate(chain.steps):
            began = time.perf_counter()
            body = step_request(chain, index, carried)
            request = parts.prepare(body)
            model = parts.model_of(request)
            goes_on = step.persons is not None
            with per_person_rows(writer, model, request, limits) if goes_on else contextlib.nullcontext() as over:
                result = parts.run(request, over)
                query_ms = (time.perf_counter() - began) * 1000
                carried = None
                if goes_on:
                    began = time.perf_counter()
                    last = index == len(chain.steps) - 1
                    audience = chain.save_as if last and chain.save_as else temporary_name(chain, index)
                    carried = _carry(writer, analyst, cell_request(request, step.persons, index), model, audience, index, over)
                    carried["carry_ms"] = round((time.perf_counter() - began) * 1000, 1)
            steps.append({"request": body, "persons": step.persons, "result": result, "carried": carried, "query_ms": round(query_ms, 1)})
    finally:
        writer.close()
    return {"steps": steps, "saved": carried if chain.save_as else None, "total_ms": round((time.perf_counter() - started) * 1000, 1)}


def model_over(registry: Registry) -> AnalysisModel:
    """The chain model over the models registered so far (a chain's steps are single models, not chains)."""
    requests = registry.request_types()
    step_type = create_model(
        "ChainStep",
        __base__=ChainStepBase,
        request=(Annotated[Union[requests], Field(discriminator="model")], Field(description="the step's model request; its app, range, timezone and sample are the chain's")),
    )  # fmt: skip
    query_type = create_model(
        "ChainQuery",
        __base__=ChainQueryBase,
        __doc__=ChainQueryBase.__doc__,
        steps=(list[step_type], Field(min_length=2, max_length=MAX_STEPS)),
    )
    return AnalysisModel(
        request_type=query_type,
        run=run,
        summary="A chain of models, each over the persons of a chosen result cell of the step before",
    )
