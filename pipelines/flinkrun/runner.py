"""Running the jobs on a local MiniCluster: `python -m pipelines.flinkrun.runner <job> [options]`.

`all` builds layering, dwd and metrics into one Flink job (one JVM: the embedded default on a small machine);
each job can also run alone. By default a job resumes from its newest retained checkpoint, so a crashed or killed
job restarted with the same command continues exactly where its last checkpoint left it.
"""

from __future__ import annotations

import argparse
import importlib
import logging

from pipelines.config import Settings, get_settings
from pipelines.flinkrun.checkpoints import latest_checkpoint
from pipelines.flinkrun.environment import checkpoint_dir, flink_configuration, runtime_settings, stream_environment

JOBS = ("layering", "dwd", "metrics", "oneid")
# What `all` (and `trackflow up --with-jobs`) runs: the event path. The identity job runs on its own so the
# event path keeps the local MiniCluster's two cores.
ALL = "all"
EVENT_PATH = ("layering", "dwd", "metrics")


def job_modules(job: str) -> list[str]:
    if job == ALL:
        return list(EVENT_PATH)
    if job not in JOBS:
        raise SystemExit(f"unknown job {job!r}; choose one of {', '.join(JOBS + (ALL,))}")
    return [job]


def build(env, job: str, settings: Settings) -> None:
    for name in job_modules(job):
        module = importlib.import_module(f"jobs.{name}")
        if name == "layering":
            from pipelines.layering.control import current_rules
            from pipelines.layering.rules import RuleSet

            module.build(env, settings, current_rules(settings) or RuleSet())
        else:
            module.build(env, settings)


def resolve_recovery(settings: Settings, job: str, recover: str) -> str | None:
    """`latest` (newest retained checkpoint, if any), `none`, or an explicit checkpoint/savepoint path."""
    if recover == "none":
        return None
    if recover == "latest":
        found = latest_checkpoint(checkpoint_dir(settings, job))
        return str(found) if found else None
    return recover


def run(
    job: str,
    settings: Settings | None = None,
    parallelism: int | None = None,
    recover: str = "latest",
    rest_port: int | None = None,
) -> None:
    from pipelines.messaging import ensure_topics

    settings = runtime_settings(settings or get_settings())
    ensure_topics(settings)
    recover_from = resolve_recovery(settings, job, recover)
    if recover_from:
        logging.getLogger("trackflow.jobs").warning("job %s resumes from %s", job, recover_from)
    options = flink_configuration(settings, job, parallelism, recover_from, rest_port)
    env = stream_environment(options)
    build(env, job, settings)
    env.execute(options["pipeline.name"])


def main(job: str | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    if job is None:
        parser.add_argument("job", choices=JOBS + (ALL,))
    parser.add_argument("--parallelism", type=int, default=None)
    parser.add_argument("--recover", default="latest", help="latest | none | a checkpoint or savepoint path")
    parser.add_argument("--rest-port", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run(job or args.job, parallelism=args.parallelism, recover=args.recover, rest_port=args.rest_port)


if __name__ == "__main__":
    main()
