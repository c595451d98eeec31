"""Push definitions (`pushes.yaml`): what each downstream department receives, where, how fast and by when.

Loaded into pydantic models so a mistake is reported as one line naming the push and the field, e.g.
`pushes.yaml: push 'orders_to_finance' > target > table: field required`.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")  # usable as a Dagster asset name and a PostgreSQL identifier
TARGET_TYPES = ("text", "bigint", "integer", "double", "boolean", "timestamptz", "date", "uuid", "json")


class PushDefinitionError(ValueError):
    """The definitions file is missing, not YAML, or a push in it is invalid."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(Strict):
    name: str = Field(description="Target column name.")
    source: str = Field("", description="Warehouse SQL expression feeding it; empty: the source column of that name.")
    type: Literal[TARGET_TYPES] = Field("text", description="Target type; a non-empty value that does not convert is dirty.")  # type: ignore[valid-type]
    required: bool = Field(False, description="An empty value is dirty (instead of NULL).")

    _identifier = field_validator("name")(lambda value: _lower_identifier(value))

    @property
    def expression(self) -> str:
        return self.source or self.name


class Source(Strict):
    table: str = Field(description="Warehouse table (e.g. `events`, `dwd_default`).")
    columns: list[Column] = Field(min_length=1)
    filter: str = Field("", description="Extra SQL condition, e.g. app_id = 'demo-shop'.")
    time_column: str = Field("ts", description="Column whose day (in the push's timezone) is the partition.")

    @field_validator("columns", mode="before")
    @classmethod
    def _short_columns(cls, value):
        # `- event` is short for `- {name: event}`.
        return [{"name": item} if isinstance(item, str) else item for item in value or []]

    @field_validator("columns")
    @classmethod
    def _unique(cls, value: list[Column]) -> list[Column]:
        _refuse_repeats([c.name for c in value], "column names")
        return value


class Target(Strict):
    kind: Literal["postgres", "parquet", "csv"]
    table: str = Field("", description="PostgreSQL table (schema.table allowed) for kind postgres.")
    folder: str = Field("", description="Folder for parquet/csv files; relative to TRACKFLOW_PUSH_FILES_DIR.")

    @model_validator(mode="after")
    def _where(self):
        if self.kind == "postgres" and not re.match(r"^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$", self.table):
            raise ValueError("kind postgres needs `table`: a lower-case [schema.]table name")
        if self.kind != "postgres" and not self.folder:
            raise ValueError(f"kind {self.kind} needs `folder`")
        return self


class Chunking(Strict):
    by: Literal["key_hash", "hour"] = "key_hash"
    key: str = Field("event_id", description="Warehouse expression hashed into ranges (by: key_hash).")
    chunks: int = Field(8, ge=1, le=1024, description="Number of hash ranges (by: hour always makes 24).")

    @property
    def count(self) -> int:
        return 24 if self.by == "hour" else self.chunks


class DirtyLimit(Strict):
    """Like DataX's errorLimit: the push fails when either limit is exceeded (checked before anything is written)."""

    max_rows: int = Field(0, ge=0)
    max_percent: float = Field(0.0, ge=0, le=100)


class Schedule(Strict):
    cron: str = Field("0 2 * * *", description="When the push of yesterday's partition starts.")
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from dagster._utils.schedules import is_valid_cron_string

        if not is_valid_cron_string(value):
            raise ValueError(f"{value!r} is not a valid cron expression")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return _zone(value).key


class Deadline(Strict):
    """`09:30 Asia/Shanghai`: the day after the partition, at that local time."""

    time: dt.time
    timezone: str

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value):
        if isinstance(value, str):
            parts = value.split()
            if len(parts) != 2 or not re.match(r"^\d{1,2}:\d{2}$", parts[0]):
                raise ValueError(f"{value!r} is not 'HH:MM Zone/Name', e.g. '09:30 Asia/Shanghai'")
            hour, minute = map(int, parts[0].split(":"))
            return {"time": dt.time(hour, minute), "timezone": parts[1]}
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return _zone(value).key

    def due(self, partition: dt.date) -> dt.datetime:
        """When partition `partition` must have arrived (timezone-aware)."""
        return dt.datetime.combine(partition + dt.timedelta(days=1), self.time, ZoneInfo(self.timezone))

    def __str__(self) -> str:
        return f"{self.time:%H:%M} {self.timezone}"


class Push(Strict):
    name: str
    department: str
    description: str = ""
    source: Source
    target: Target
    write_mode: Literal["replace", "upsert"] = "replace"
    key: list[str] = Field(default_factory=list, description="Upsert key columns (write_mode upsert).")
    chunking: Chunking = Chunking()
    parallelism: int = Field(2, ge=1, le=64)
    rows_per_s: int = Field(0, ge=0, description="Throttle for the whole push (0: unlimited).")
    dirty: DirtyLimit = DirtyLimit()
    schedule: Schedule = Schedule()
    deadline: Deadline | None = None
    start_date: dt.date = dt.date(2026, 1, 1)

    _identifier = field_validator("name")(lambda value: _lower_identifier(value))

    @model_validator(mode="after")
    def _consistent(self):
        names = {c.name for c in self.source.columns}
        if self.write_mode == "upsert":
            if self.target.kind != "postgres":
                raise ValueError("write_mode upsert needs a postgres target (files are replaced per partition)")
            if not self.key:
                raise ValueError("write_mode upsert needs `key`: the columns that identify a row")
        missing = [k for k in self.key if k not in names]
        if missing:
            raise ValueError(f"key columns {missing} are not among the source columns")
        return self

    @property
    def timezone(self) -> str:
        """The partition's day boundaries: the deadline's timezone, else the schedule's."""
        return self.deadline.timezone if self.deadline else self.schedule.timezone


class PushFile(Strict):
    pushes: list[Push]

    @field_validator("pushes")
    @classmethod
    def _unique(cls, value: list[Push]) -> list[Push]:
        _refuse_repeats([p.name for p in value], "push names")
        return value


def _lower_identifier(value: str) -> str:
    if not NAME.match(value):
        raise ValueError(f"{value!r} is not a lower-case identifier (letters, digits, _)")
    return value


def _refuse_repeats(names: list[str], what: str) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{what} repeated: {', '.join(repeated)}")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r} (use an IANA name such as Asia/Shanghai)") from None


def _describe(error: ValidationError, document: dict, source: str, items: str = "pushes", noun: str = "push") -> str:
    """One line per error naming the file, the item (by its name) and the field; shared with cdp.yaml's sources."""
    lines = []
    for item in error.errors():
        location = list(item["loc"])
        label = ""
        if len(location) >= 2 and location[0] == items and isinstance(location[1], int):
            try:
                label = f"{noun} {document[items][location[1]].get('name', '#' + str(location[1] + 1))!r}"
            except (KeyError, IndexError, AttributeError, TypeError):
                label = f"{noun} #{location[1] + 1}"
            location = location[2:]
        path = " > ".join(str(part) for part in [label, *location] if part != "")
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: {path}: {message}" if path else f"{source}: {message}")
    return "\n".join(lines)


def parse_named_list(text: str, origin: str, model: type[BaseModel], items: str, noun: str, error: type[ValueError]) -> list:
    """The `items:` list of a YAML file validated by `model` (a model with that one field); every mistake is raised
    as `error`, one line each naming the file, the item and the field. Shared with cdp.yaml's sources."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{origin}: not valid YAML: {exc}") from None
    if not isinstance(document, dict) or items not in document:
        raise error(f"{origin}: expected a mapping with a `{items}:` list")
    try:
        return getattr(model.model_validate(document), items)
    except ValidationError as exc:
        raise error(_describe(exc, document, origin, items, noun)) from None


def find_named(found: list, name: str, what: str, error: type[ValueError]):
    """The item called `name`, or `error` listing the names there are."""
    for item in found:
        if item.name == name:
            return item
    raise error(f"no {what} named {name!r}; defined: {', '.join(i.name for i in found) or 'none'}")


def parse_pushes(text: str, source: str = "pushes.yaml") -> list[Push]:
    return parse_named_list(text, source, PushFile, "pushes", "push", PushDefinitionError)


def load_pushes(path: Path) -> list[Push]:
    if not path.exists():
        raise PushDefinitionError(f"push definitions file {path} not found (set TRACKFLOW_PUSH_DEFINITIONS)")
    return parse_pushes(path.read_text(), str(path))


def find_push(pushes: list[Push], name: str) -> Push:
    return find_named(pushes, name, "push", PushDefinitionError)
