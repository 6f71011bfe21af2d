"""chatroom-bench: its pure parts (line format, checks, percentiles, limits, tables), then the real thing.

The end-to-end tests run `python -m chatroom.bench` as a child process in a
tiny configuration against a server it starts (and one it is given) and read
the JSON it writes. They check that everything was delivered and that every
number is there and sane; speed is never asserted.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.bench_steps import delivered_exactly
from support.processes import REPO_ROOT, ServerProcess, child_env
from support.procfs import unused_port

from chatroom.bench.body import LineKind, LineSpec, body, client_name, header, run_tag
from chatroom.bench.cli import build_parser, options_from
from chatroom.bench.loadgen import Tally
from chatroom.bench.options import OptionError, parse_cpus, parse_int_list, parse_rates
from chatroom.bench.oslimits import Capacity
from chatroom.bench.report import Report, fanout_text, scale_text, share, soak_text, text
from chatroom.bench.results import FanoutResult, FanoutStep, ScaleResult, ServerRun, SoakResult
from chatroom.bench.stats import WeightedSamples

RUN_TIMEOUT_S = 60.0

# -- the benchmark's lines ----------------------------------------------------------------


def spec(step: int = 3, senders: int = 4) -> LineSpec:
    return LineSpec(step, "b1k2s", len("b1k2s0000"), 96, senders)


def line_from(sender: int, seq: int, ts: int, step: int = 3) -> bytes:
    name = client_name("b1k2", "s", sender, 4)
    return spec(step).line(b"@" + name.encode() + b": ", seq, ts)


def test_a_body_is_step_sequence_and_scheduled_send_time_padded_to_the_asked_length() -> None:
    text = body(7, 42, 123_456_789, 96)
    assert text.startswith(b"|7|000000042|00000000000123456789|")
    assert len(text) == 96 and text.endswith(b"x")
    assert header(7, 42, 1) == b"|7|000000042|00000000000000000001|"


def test_every_line_of_a_phase_has_the_same_length_and_gives_back_its_send_time() -> None:
    lines = [line_from(seq % 4, seq, 10**18 + seq) for seq in range(8)]
    shape = spec()
    assert {len(line) for line in lines} == {shape.length}
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    assert [shape.ts(line, 0) for line in lines] == [10**18 + seq for seq in range(8)]
    assert all(shape.classify(line[:-1]) is LineKind.OK for line in lines)


def test_a_chunk_of_well_formed_lines_is_counted_in_one_pass() -> None:
    chunk = b"".join(line_from(seq % 4, seq, 5) for seq in range(50))
    assert spec().count_whole(chunk, len(chunk)) == 50


@pytest.mark.parametrize(
    ("bad", "kind"),
    [
        (line_from(1, 1, 5, step=2)[:-1], LineKind.STALE),
        (b"@someone: hello", LineKind.FOREIGN),
        (line_from(1, 1, 5)[:-10], LineKind.FOREIGN),  # truncated
        (line_from(1, 1, 5)[:-1].replace(b"|x", b"/x"), LineKind.FOREIGN),  # a separator garbled
        (b"y" + line_from(1, 1, 5)[1:-1], LineKind.FOREIGN),  # no '@'
        (b"DISCONNECT CHAT/1.0", LineKind.NOTICE),
        (b"413 Line too long", LineKind.NOTICE),
    ],
)
def test_a_chunk_with_one_bad_line_is_refused_whole_and_the_line_judged_alone(
    bad: bytes, kind: LineKind
) -> None:
    good = line_from(0, 0, 5) + line_from(1, 1, 5)
    chunk = good + bad + b"\n"
    assert spec().count_whole(chunk, len(chunk)) == -1
    assert spec().classify(bad) is kind


def test_sampled_lines_are_checked_against_the_sender_that_owns_their_sequence_number() -> None:
    shape = spec()
    assert shape.sender_matches(line_from(3, 7, 1), 0)
    assert not shape.sender_matches(line_from(2, 7, 1), 0)  # message 7 is sender 3's
    assert shape.classify(line_from(2, 7, 1)[:-1]) is LineKind.FOREIGN


def test_run_tags_and_names_are_valid_usernames_of_fixed_width() -> None:
    from chatroom.protocol import is_valid_username

    tag = run_tag()
    names = [client_name(tag, "r", index, 6) for index in (0, 7, 999_999)]
    assert all(is_valid_username(name) for name in names)
    assert len({len(name) for name in names}) == 1


# -- counting what arrives ----------------------------------------------------------------


def test_the_latency_samples_of_a_chunk_stand_for_exactly_its_deliveries() -> None:
    tally = Tally(spec(), sample_every=1)
    chunk = bytearray(b"".join(line_from(seq % 4, seq, 1_000) for seq in range(10)))
    tally.reads = 4  # sampled: reads & mask == 0 for sample_every 1
    assert tally.chunk(chunk, len(chunk), now=3_000) == 10
    assert tally.got == 10
    assert len(tally.samples) == 4 and sum(tally.weights) == pytest.approx(10)
    assert set(tally.samples) == {2_000} and tally.max_ns == 2_000


def test_a_mixed_chunk_counts_only_this_phases_lines_and_notes_the_rest() -> None:
    tally = Tally(spec(), sample_every=1)
    data = line_from(0, 0, 1) + b"@stranger: hi\n" + line_from(1, 1, 1, step=2) + b"DISCONNECT CHAT/1.0\n"
    assert tally.chunk(bytearray(data), len(data), now=10) == 1
    assert (tally.got, tally.foreign, tally.stale) == (1, 1, 1)
    assert tally.notices == {"DISCONNECT CHAT/1.0": 1}
    assert tally.bad_examples == ["@stranger: hi"]


def test_lines_counted_after_the_deadline_are_late_not_delivered() -> None:
    tally = Tally(spec(), sample_every=1)
    tally.late_mode = True
    chunk = bytearray(line_from(0, 0, 1))
    tally.chunk(chunk, len(chunk), now=5)
    assert (tally.got, tally.late) == (0, 1)


# -- percentiles --------------------------------------------------------------------------


def test_unweighted_percentiles_are_the_nearest_sample_at_or_above_the_rank() -> None:
    samples = WeightedSamples()
    for value_ms in range(1, 101):
        samples.add(value_ms * 1_000_000)
    assert samples.quantile(0.5) == 50.0
    assert samples.quantile(0.99) == 99.0
    assert samples.quantile(1.0) == 100.0


def test_a_sample_that_stands_for_many_deliveries_weighs_that_much() -> None:
    samples = WeightedSamples()
    samples.add(1_000_000, weight=99)
    samples.add(1_000_000_000, weight=1)
    assert samples.quantile(0.99) == 1.0
    assert samples.quantile(1.0) == 1000.0


def test_each_workers_samples_are_scaled_to_the_deliveries_it_counted() -> None:
    samples = WeightedSamples()
    samples.extend([1_000_000] * 10, [1.0] * 10, total=100)  # a worker that counted 100 deliveries
    samples.extend([9_000_000], [1.0], total=900)  # one sample for 900 deliveries
    assert samples.quantile(0.5) == 9.0


def test_no_samples_means_no_percentile() -> None:
    assert WeightedSamples().quantile(0.99) is None


@given(st.lists(st.tuples(st.integers(0, 10**10), st.floats(0.01, 100)), min_size=1), st.floats(0, 1))
def test_a_percentile_is_one_of_the_samples_and_grows_with_the_fraction(
    pairs: list[tuple[int, float]], fraction: float
) -> None:
    samples = WeightedSamples()
    for value, weight in pairs:
        samples.add(value, weight)
    low, high = samples.quantile(fraction * 0.5), samples.quantile(fraction)
    assert low is not None and high is not None
    assert low <= high
    assert high * 1e6 in {float(value) for value, _ in pairs} or any(
        abs(high * 1e6 - value) < 1 for value, _ in pairs
    )


# -- options and limits -------------------------------------------------------------------


def test_list_options_take_commas_and_k_suffixes() -> None:
    assert parse_int_list("100,500, 1_000", "--clients") == (100, 500, 1000)
    assert parse_rates("1000,3k,2.5k") == (1000.0, 3000.0, 2500.0)
    assert parse_cpus("0", "--lg-cpus") == frozenset({0})
    assert parse_cpus("none", "--lg-cpus") is None


@pytest.mark.parametrize(
    "call",
    [
        lambda: parse_int_list("ten", "--clients"),
        lambda: parse_int_list("1", "--clients", minimum=2),
        lambda: parse_rates("-5"),
        lambda: parse_cpus("3-1", "--lg-cpus"),
        lambda: parse_cpus("9999", "--lg-cpus"),
    ],
)
def test_malformed_list_options_are_refused_with_a_sentence(call: Any) -> None:
    with pytest.raises(OptionError):
        call()


def test_positional_words_are_workloads_and_a_chat_url_is_the_server() -> None:
    options = options_from(build_parser().parse_args(["soak", "fanout", "chat://example.org:5000"]))
    assert options.workloads == ("fanout", "soak")
    assert str(options.address) == "chat://example.org:5000"
    assert options_from(build_parser().parse_args([])).workloads == ("fanout", "scale", "soak", "rooms")


def test_a_client_count_the_fd_limit_cannot_hold_is_capped_with_the_reason() -> None:
    capacity = Capacity(workers=1, worker_fds=4096, server_fds=None, ports=28232)
    assert capacity.cap(10000) == (
        4032,
        "10000 clients need 10000 fds in one load-generator process; its limit is 4096: capped at 4032",
    )
    assert capacity.cap(1000) == (1000, None)
    allowed, why = Capacity(workers=2, worker_fds=None, server_fds=None, ports=3000).cap(5000)
    assert allowed == 2900 and why is not None and "local ports" in why


# -- tables -------------------------------------------------------------------------------


def step_row(**changes: Any) -> FanoutStep:
    row = FanoutStep(
        step=1,
        rate_msgs=1000,
        messages=5000,
        offered_deliveries_s=99000,
        expected=495000,
        delivered=495000,
        late=0,
        unsent=0,
        lost=0,
        lost_open=0,
        disconnected=0,
        delivered_pct=100.0,
        deliveries_s=98990.5,
        p50_ms=1.234,
        p99_ms=5.5,
        max_ms=12.0,
        latency_samples=100,
        server_cpu_pct=25.0,
        server_rss_kb=20480,
        server_us_per_delivery=2.5,
        lg_cpu_pct=40.0,
        lg_cores=1,
        lg_bound=False,
        machine_cpu_pct=80.0,
        machine_cores=2,
        passed=True,
        problems=[],
        wall_s=5.0,
        lg_round_max_ms=1.0,
        sender_lag_max_ms=0.5,
        stale_lines=0,
        foreign_lines=0,
        clients_alive=100,
    )
    for key, value in changes.items():
        setattr(row, key, value)
    return row


def fanout_result(steps: list[FanoutStep]) -> FanoutResult:
    return FanoutResult(
        clients_wanted=100,
        clients=100,
        senders=10,
        step_seconds=5,
        drain_seconds=5,
        body_bytes=96,
        registered=100,
        register_s=0.05,
        steps=steps,
        max_sustainable_deliveries_s=98990.5,
        max_sustainable_rate_msgs=1000,
        max_is_lower_bound=False,
        server=ServerRun("chat://127.0.0.1:1", True, 1, 0),
        cap_note=None,
        problems=[],
    )


def test_the_fanout_table_has_a_row_per_step_and_names_the_maximum_sustainable_rate() -> None:
    failing = step_row(
        step=2, rate_msgs=3000, delivered_pct=99.9996, passed=False, p99_ms=150.0, problems=["p99 150.0 ms"]
    )
    shown = fanout_text(fanout_result([step_row(), failing]))
    rows = [line for line in shown.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    assert len(rows) == 3  # the header and two steps
    assert rows[1] == (
        "| 1,000 | 99,000 | 98,990 | 100% | 1.23 | 5.50 | 12.0 | 25% | 20.0 MiB | 2.50 | 40% "
        "| 80% of 200% | ok |"
    )
    assert "99.999%" in rows[2] and "FAIL: p99 150.0 ms" in rows[2]
    assert "Maximum sustainable rate (100% delivered, p99 < 100 ms): 98,990 deliveries/s" in shown


def test_nothing_short_of_everything_is_shown_as_100_percent() -> None:
    assert share(100.0) == "100%"
    assert share(99.99999) == "99.999%"


def test_unknown_server_numbers_are_shown_as_n_a() -> None:
    shown = fanout_text(
        fanout_result([step_row(server_cpu_pct=None, server_rss_kb=None, server_us_per_delivery=None)])
    )
    assert "| n/a | n/a | n/a |" in shown


def test_a_report_with_a_delivery_lost_on_an_open_connection_is_not_clean() -> None:
    report = Report("chatroom-bench", {}, {}, fanout=[fanout_result([step_row()])])
    assert report.clean
    report.fanout[0].steps[0].lost = 5
    report.fanout[0].steps[0].disconnected = 1
    assert report.clean  # went with a client the server cut off: reported, not a bug
    report.fanout[0].steps[0].lost_open = 1
    assert not report.clean


# -- the real thing -----------------------------------------------------------------------


def run_bench(*args: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "chatroom.bench", *args, "--json", str(out)],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert "Traceback" not in done.stderr, done.stderr
    data = json.loads(out.read_text()) if out.exists() else {}
    return done, data


HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def test_a_tiny_run_of_every_workload_on_a_server_it_starts_delivers_everything(tmp_path: Path) -> None:
    plot = tmp_path / "bench.png"
    extra = ["--plot", str(plot)] if HAVE_MATPLOTLIB else []
    done, data = run_bench(
        "all",
        *("--clients", "4", "--senders", "2", "--rates", "50", "--step-seconds", "1", "--drain-seconds", "2"),
        *("--sizes", "20", "--duration", "2", "--soak-sessions", "6", "--soak-rate", "100", *extra),
        *("--room-users", "6", "--rooms", "2", "--room-rates", "50"),
        tmp_path=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert data["clean"] is True
    assert "### fanout: 4 clients" in done.stdout and "### scale" in done.stdout and "### soak" in done.stdout
    assert "### rooms: 6 users in 2 rooms" in done.stdout

    (fanout,) = data["fanout"]
    assert fanout["registered"] == 4 and fanout["server"]["exit_code"] == 0
    (step,) = fanout["steps"]
    assert step["expected"] == 50 * 3 and step["delivered"] == step["expected"]
    assert step["delivered_pct"] == 100.0 and delivered_exactly(step), step["problems"]
    assert 0 < step["p50_ms"] <= step["p99_ms"] <= step["max_ms"] < 1000
    assert step["server_cpu_pct"] is not None and step["server_rss_kb"] > 1000
    assert step["lg_cpu_pct"] >= 0 and step["latency_samples"] > 0
    assert fanout["max_sustainable_deliveries_s"] > 0

    (scale,) = data["scale"]
    assert scale["registered"] == 20 and scale["server"]["exit_code"] == 0
    assert scale["broadcast_received"] == scale["broadcast_expected"] == 19
    assert 0 < scale["broadcast_all_ms"] < 10_000
    assert scale["rss_after_kb"] >= scale["rss_before_kb"] > 1000
    assert scale["rss_per_client_bytes"] is not None and scale["fds_after"] >= 20

    soak = data["soak"]
    assert soak["errors"] == {} and soak["lost"] == 0 and soak["server"]["exit_code"] == 0
    assert soak["sessions_completed"] > 0 and soak["sent"] > 0
    assert soak["delivered"] == soak["expected"] == soak["sent"] * soak["residents"]
    assert soak["fds_after"] == soak["fds_before"]
    assert soak["rss_start_kb"] > 1000 and soak["samples"]
    if HAVE_MATPLOTLIB:
        assert plot.read_bytes().startswith(b"\x89PNG")


def test_a_server_given_by_address_is_measured_without_its_cpu_and_memory(
    server: ServerProcess, tmp_path: Path
) -> None:
    done, data = run_bench(
        "fanout",
        f"chat://127.0.0.1:{server.port}",
        *(
            "--clients",
            "3",
            "--senders",
            "1",
            "--rates",
            "20",
            "--step-seconds",
            "0.5",
            "--drain-seconds",
            "2",
        ),
        tmp_path=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (step,) = data["fanout"][0]["steps"]
    assert step["delivered"] == step["expected"] == 10 * 2
    assert step["server_cpu_pct"] is None and step["server_rss_kb"] is None
    assert data["fanout"][0]["server"] == {
        "address": f"chat://127.0.0.1:{server.port}",
        "started_here": False,
        "pid": None,
        "exit_code": None,
        "said": [],
    }
    assert "| n/a |" in done.stdout


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["chat://localhost"], 2, "has no port"),
        (["fanout", "http://localhost:80"], 2, "invalid address"),
        (["tea"], 2, "unknown workload"),
        (["--clients", "1"], 2, "--clients"),
        (["fanout", "chat://127.0.0.1:{unused}"], 1, "cannot connect to chat://127.0.0.1:"),
    ],
)
def test_user_mistakes_get_one_sentence_and_no_traceback(args: list[str], status: int, message: str) -> None:
    args = [arg.replace("{unused}", str(unused_port())) for arg in args]
    done = subprocess.run(
        [sys.executable, "-m", "chatroom.bench", *args],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == status
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chatroom-bench: ") and message in lines[0], done.stderr
    assert done.stdout == ""


def test_without_matplotlib_plot_is_a_one_line_error_before_anything_runs(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from chatroom.bench.cli import main\n"
        f"sys.exit(main(['fanout', '--plot', {str(tmp_path / 'x.png')!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "chatroom-bench: --plot needs matplotlib, which is not installed (pip install 'chatroom[bench]')"
    )


def test_the_tables_read_well_together() -> None:
    scale = ScaleResult(
        clients_wanted=1000,
        clients=1000,
        registered=1000,
        register_s=0.5,
        registrations_s=2000.0,
        register_p50_ms=1.0,
        register_p99_ms=3.0,
        stalls_retried=0,
        rss_before_kb=15000,
        rss_after_kb=16024,
        rss_per_client_bytes=1048.6,
        fds_after=1010,
        server_cpu_register_s=0.4,
        lg_cpu_register_s=0.3,
        broadcast_expected=999,
        broadcast_received=999,
        broadcast_all_ms=12.5,
        broadcast_p50_ms=6.0,
        server=ServerRun("chat://127.0.0.1:1", True, 1, 0),
        cap_note=None,
        problems=[],
    )
    assert (
        "| 1,000 | 1,000 | 0.50 s | 2,000 | 14.6 MiB | 15.6 MiB | 1.02 KiB | 1,010 | 12.5 ms | 6.00 ms |  |"
        in (scale_text([scale]))
    )
    soak = soak_result()
    shown = soak_text(soak)
    assert "| delivered to residents | 100% (300,000 of 300,000) |" in shown
    assert "| errors | none |" in shown
    whole = text(Report("chatroom-bench soak", machine_info(), {}, soak=soak, started="now"))
    assert whole.startswith("## chatroom-bench") and "### soak: 60 s" in whole


def machine_info() -> dict[str, str]:
    return {
        "nproc": str(os.cpu_count()),
        "python": "3.x",
        "implementation": "CPython",
        "kernel": "k",
        "system": "Linux",
        "chatroom": "0",
    }


def soak_result() -> SoakResult:
    return SoakResult(
        duration_s=60.0,
        rate_msgs=500.0,
        sessions=50,
        residents=10,
        session_messages=5,
        sessions_started=6050,
        sessions_completed=6000,
        sessions_per_s=100.0,
        sent=30000,
        expected=300000,
        delivered=300000,
        lost=0,
        delivered_pct=100.0,
        p50_ms=1.0,
        p99_ms=4.0,
        max_ms=9.0,
        register_p50_ms=0.5,
        register_p99_ms=2.0,
        errors={},
        bad_examples=[],
        rss_before_kb=15000,
        rss_start_kb=15100,
        rss_end_kb=15100,
        rss_max_kb=15200,
        rss_after_kb=15100,
        rss_growth_pct=0.0,
        fds_before=17,
        fds_start=60,
        fds_end=61,
        fds_max=67,
        fds_after=17,
        server_cpu_pct=12.0,
        lg_cpu_pct=20.0,
        machine_cpu_pct=40.0,
        samples=[],
        server=ServerRun("chat://127.0.0.1:1", True, 1, 0),
        problems=[],
    )
