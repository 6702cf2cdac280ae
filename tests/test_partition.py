"""The split-point model: frame sizes as the protocol makes them, each split's device energy and
latency from the cost model and a link file, and the recommendation under a latency bound."""

import numpy as np
import pytest

from eenn import cli, protocol
from eenn.costs import predict
from eenn.device import link
from eenn.errors import EennError
from eenn.hardware import boards, links
from eenn.project import DeploymentConfig
from eenn.studies import partition


def test_frame_bytes_are_those_the_protocol_sends(rng):
    for n in [0, 1, 200, 253, 254, 255, 1000, 3000]:
        nonzero = rng.integers(1, 256, n).astype(np.uint8).tobytes()
        assert len(link.encode(protocol.OFFLOAD, nonzero)) == protocol.frame_bytes(n)
        anything = rng.integers(0, 256, n).astype(np.uint8).tobytes()
        assert 0 <= protocol.frame_bytes(n) - len(link.encode(protocol.OFFLOAD, anything)) <= 1 + n // 254


@pytest.mark.parametrize("name", links.names())
def test_every_split_costs_what_its_parts_add_up_to(generated_build, name):
    board, link_model = boards.get("nrf52"), links.load(name)
    found = partition.options(generated_build, board, link_model)
    model = predict.model_costs(generated_build, board)
    exits = np.asarray(model["exit_histogram"]) / sum(model["exit_histogram"])
    assert [o.split for o in found] == [1, 2, None]
    unsplit = found[-1]
    assert unsplit.sent_share == 0 and unsplit.link_j == 0
    assert unsplit.compute_j == pytest.approx(model["expected"]["energy_j"])
    for o in found[:-1]:
        assert o.sent_share == pytest.approx(exits[o.split:].sum())
        exchange = link_model.seconds(o.sent_bytes, o.received_bytes)
        assert o.latency_s > o.compute_j / (board.power.active_mw * 1e-3)  # compute time, plus the link's
        assert o.worst_latency_s > exchange
    assert found[0].compute_j < found[1].compute_j < unsplit.compute_j  # fewer stages on the device


def test_the_recommendation_is_the_cheapest_within_the_latency_bound(generated_build):
    found = partition.options(generated_build, boards.get("nrf52"), links.load("ble-1m"))
    cheapest = partition.recommend(found)
    assert cheapest.energy_j == min(o.energy_j for o in found)
    fastest = min(found, key=lambda o: o.worst_latency_s)
    assert partition.recommend(found, fastest.worst_latency_s) is fastest
    with pytest.raises(EennError, match="no split keeps every sample within"):
        partition.recommend(found, fastest.worst_latency_s / 2)


def test_a_deployment_that_names_a_link_gets_the_recommended_split(generated_build):
    board = boards.get("nrf52")
    found = partition.options(generated_build, board, links.load("ble-1m"))
    fastest = min(found, key=lambda o: o.worst_latency_s)
    bound_ms = 1e3 * fastest.worst_latency_s
    deployment, line = partition.deployed(generated_build, board, DeploymentConfig(link="ble-1m",
                                                                                   max_latency_ms=bound_ms))
    assert deployment == DeploymentConfig(fastest.split)
    assert line.startswith(f"split chosen for nrf52840 over ble-1m: {fastest.label} (")
    assert line.endswith(f"table in {generated_build.directory}/partition-nrf52840-ble-1m.txt")
    assert partition.deployed(generated_build, board, DeploymentConfig(split=1)) == (DeploymentConfig(split=1), None)


@pytest.mark.parametrize("deployment, message", [
    (DeploymentConfig(link="wifi"), "unknown link 'wifi'; known links: ble-1m, uart-115200"),
    (DeploymentConfig(split=1, link="ble-1m"), "give the split, or the link to have it chosen, not both"),
    (DeploymentConfig(max_latency_ms=10.0), "deployment.max_latency_ms bounds the latency of a split chosen for a"),
    (DeploymentConfig(link="ble-1m", max_latency_ms=0.0), "deployment.max_latency_ms must be positive"),
])
def test_a_bad_link_in_the_project_is_refused(deployment, message):
    with pytest.raises(EennError, match=message):
        deployment.validate(3)
    assert DeploymentConfig(link="ble-1m", fallback=False).validate(3)


def test_links_are_data_and_bad_ones_are_refused(tmp_path, monkeypatch):
    with pytest.raises(EennError, match="unknown link 'wifi'; known links: ble-1m, uart-115200"):
        links.load("wifi")
    monkeypatch.setattr(links, "LINKS_DIR", tmp_path)
    (tmp_path / "odd.toml").write_text('name = "odd"\n')
    with pytest.raises(EennError, match="missing key 'bytes_per_s'"):
        links.load("odd")


def test_the_cli_writes_the_table_and_the_plot(generated_build, capsys):
    status = cli.main(["partition", "--board", "nrf52", "--link", "uart-115200", "--name", generated_build.name,
                       "--out", str(generated_build.directory.parent)])
    out = capsys.readouterr().out
    assert status == cli.EXIT_OK and "recommended: split" in out
    assert (generated_build.directory / "partition-nrf52840-uart-115200.png").stat().st_size > 0
    assert (generated_build.directory / "partition-nrf52840-uart-115200.txt").read_text().splitlines()[0] in out
