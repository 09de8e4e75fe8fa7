"""``efacture up --replicas``: the counts it accepts and the ports each replica gets."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from efacture import ports
from efacture.cli.main import cli
from efacture.replicas import ReplicasError, parse_replicas, plan
from shared.runtime import settings_port
from shared.settings import Settings

pytestmark = pytest.mark.unit

SERVICES = ("ingest", "archive", "transmit", "metering", "portal")


def test_counts_are_read_per_service_and_unnamed_services_run_once() -> None:
    counts = parse_replicas("ingest=2, archive=3,transmit=2,metering=2")
    assert counts == {"ingest": 2, "archive": 3, "transmit": 2, "metering": 2}
    assert parse_replicas("") == {}
    assert plan(SERVICES, {"archive": 2}) == [
        ("ingest", 0), ("archive", 0), ("archive", 1), ("transmit", 0), ("metering", 0),
        ("portal", 0)]


@pytest.mark.parametrize("bad", ["archive", "archive=0", "archive=x", "portal=2", "tsa=2",
                                 "archive=2,archive=3", "archive=99"])
def test_an_unusable_count_is_refused_with_a_sentence(bad: str) -> None:
    with pytest.raises(ReplicasError):
        parse_replicas(bad)


def test_up_refuses_bad_replicas_as_bad_usage() -> None:
    result = CliRunner().invoke(cli, ["up", "--replicas", "portal=2"])
    assert result.exit_code == 2
    assert "portal=2" in result.output


def test_every_replica_gets_its_own_port_and_replica_zero_keeps_the_single_port() -> None:
    settings = Settings(metrics_port_base=9470)
    single = ports.planned_ports(settings, ["pa-sim", "tsa"], SERVICES)
    planned = ports.planned_ports(settings, ["pa-sim", "tsa"], SERVICES,
                                  {"ingest": 2, "archive": 2, "transmit": 2, "metering": 2})
    assert planned["archive"] == single["archive"]
    assert planned["archive#1"] == single["archive"] + 10
    assert len(set(planned.values())) == len(planned), "two processes would share a port"
    assert ports.of_child("archive#1", planned) == {"archive#1": planned["archive#1"]}
    assert "archive#1" not in ports.of_child("archive", planned)


def test_a_served_process_takes_its_replica_port_or_the_one_it_is_given() -> None:
    assert settings_port(Settings(metrics_port_base=9470, replica=1), "transmit") == 9482
    assert settings_port(Settings(metrics_port_base=9470, metrics_port=0), "transmit") == 0
