"""``bench``: the end-to-end benchmark (issue 7), on a vhost and database of its own."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from efacture.cli.output import emit, fail, json_option


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option("--n", "n", type=click.IntRange(min=1), default=2000, show_default=True,
                  help="Invoices in the throughput phase (and messages per ceiling run).")
    @click.option("--mix", type=click.Choice(["corpus", "synthetic", "both"]), default="both",
                  show_default=True, help="Corpus XML, the synthetic 30 KB Factur-X, or both.")
    @click.option("--latency-ms", type=click.IntRange(min=0), default=20, show_default=True,
                  help="PA simulator latency.")
    @click.option("--latency-seconds", type=click.FloatRange(min=1), default=30.0,
                  show_default=True, help="Length of the open-loop latency phase (half load).")
    @click.option("--latency-rate", type=click.FloatRange(min=0.1), default=None,
                  help="Invoices/s of the latency phase, to compare two versions at one load"
                       " (default: half the measured throughput).")
    @click.option("--threads", type=click.IntRange(min=1), default=8, show_default=True,
                  help="Publisher connections (messages in flight).")
    @click.option("--no-ceiling", is_flag=True, help="Skip the broker ceiling measurements.")
    @click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path),
                  help="The test corpus (default: ../shared/corpus beside the repository).")
    @click.option("--replicas", metavar="SERVICE=N,…", default="",
                  help="Processes per service for `efacture up`, e.g."
                       " ingest=2,archive=2,transmit=2,metering=2 (default: one each).")
    @click.option("--blob-url", default="", metavar="URL",
                  help="Where the documents go: file (local disk, the default), s3 (a SeaweedFS"
                       " started for the run), file:///path, or s3://bucket/prefix (the store"
                       " of EFACTURE_S3_ENDPOINT and AWS_*; SeaweedFS started there if it is a"
                       " silent loopback address).")
    @click.option("--archive-entries", type=click.IntRange(min=0), default=0, show_default=True,
                  help="Fill the archive with this many entries directly in PostgreSQL before"
                       " the run (see benchmarks/big_archive.py).")
    @json_option
    def bench(n: int, mix: str, latency_ms: int, latency_seconds: float,
              latency_rate: float | None, threads: int,
              no_ceiling: bool, corpus: Path | None, replicas: str, blob_url: str,
              archive_entries: int, as_json: bool) -> None:
        """Drive N invoices through the four services; print throughput, latency, RSS, ceiling."""
        from efacture.bench.report import render
        from efacture.bench.runner import BenchConfig, default_corpus, run
        from efacture.replicas import ReplicasError, parse_replicas

        try:
            parse_replicas(replicas)
        except ReplicasError as exc:
            raise click.BadParameter(str(exc), param_hint="--replicas") from exc
        if blob_url not in ("", "file", "s3") and not blob_url.startswith(("file:///", "s3://")):
            raise click.BadParameter("use file, s3, file:///path or s3://bucket/prefix",
                                     param_hint="--blob-url")
        corpus = corpus or default_corpus()
        if not (corpus / "MANIFEST.tsv").exists():
            fail(f"no corpus at {corpus}: give --corpus PATH.", 2)
        config = BenchConfig(n=n, mix=mix, latency_ms=latency_ms, latency_seconds=latency_seconds,
                             threads=threads, ceiling=not no_ceiling, corpus=corpus,
                             replicas=replicas, blob_url=blob_url,
                             archive_entries=archive_entries, latency_rate=latency_rate)
        console = Console(stderr=True)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            try:
                result = run(config, progress)
            except (RuntimeError, ValueError) as exc:
                fail(str(exc).splitlines()[0] if str(exc) else "the benchmark failed.")
        emit(result, as_json, lambda: render(result))
