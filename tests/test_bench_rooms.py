"""chatroom-bench rooms: who joins which room, which lines are private, what each user must get.

The end-to-end tests run `python -m chatroom.bench rooms` in a tiny
configuration (40 users in 4 rooms, one short step) against servers it starts,
history on and off, and one it is given, and compare what arrived with what
the plan says each user must receive. Speed is never asserted.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path
from typing import Any, TypeVar

import pytest
from support.bench_steps import delivered_exactly
from support.processes import ServerProcess
from test_bench import run_bench

from chatroom.bench.body import PRIVATE_TAG, LineKind, LineSpec, as_room_line, client_name
from chatroom.bench.cli import build_parser, options_from
from chatroom.bench.loadgen import Tally
from chatroom.bench.options import OptionError
from chatroom.bench.orders import PhaseReport
from chatroom.bench.report import Report, rooms_text
from chatroom.bench.results import FanoutStep, RoomsResult, ServerRun
from chatroom.bench.rooms import plan_step, room_name, room_of, rooms_step, server_args

RUN_TIMEOUT_S = 60.0
T = TypeVar("T")


def zeros(cls: type[T], **changes: Any) -> T:
    """A result dataclass with every number 0, every list and dict empty, but for `changes`."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        kind = str(field.type)
        values[field.name] = {} if kind.startswith("dict") else [] if kind.startswith("list") else 0
    return cls(**{**values, **changes})


# -- rooms and the plan of a step ---------------------------------------------------------


def test_user_i_joins_room_r_i_mod_k_so_the_rooms_fill_evenly() -> None:
    assert [room_name(room_of(user, 4)) for user in range(6)] == ["#r0", "#r1", "#r2", "#r3", "#r0", "#r1"]
    sizes = [sum(room_of(user, 100) == room for user in range(1000)) for room in range(100)]
    assert set(sizes) == {10}


def test_exactly_the_private_share_of_the_lines_is_private_and_never_to_the_sender_itself() -> None:
    plan = plan_step(messages=5000, users=1000, rooms=100, senders=100, share=0.1, seed=3)
    assert len(plan.private_to) == 500 and plan.room_lines == 4500
    assert all(0 <= user < 1000 and user != k % 100 for k, user in plan.private_to.items())
    assert len(set(plan.private_to.values())) > 300  # spread over the users, not a few


def test_a_step_plans_the_same_lines_in_every_run_and_another_step_others() -> None:
    first = plan_step(1000, 40, 4, 4, 0.1, seed=1)
    assert first == plan_step(1000, 40, 4, 4, 0.1, seed=1)
    assert first.private_to != plan_step(1000, 40, 4, 4, 0.1, seed=2).private_to


@pytest.mark.parametrize(
    ("messages", "users", "rooms", "senders", "share"),
    [(100, 40, 4, 4, 0.1), (37, 10, 3, 7, 0.3), (5, 9, 2, 9, 0.0), (50, 2, 1, 1, 1.0), (20, 7, 7, 3, 0.5)],
)
def test_each_user_must_get_its_rooms_lines_from_the_others_and_the_private_lines_to_it(
    messages: int, users: int, rooms: int, senders: int, share: float
) -> None:
    plan = plan_step(messages, users, rooms, senders, share, seed=7)
    expect = [0] * users
    for k in range(messages):  # line by line, the way the server routes them
        sender = k % senders
        if k in plan.private_to:
            expect[plan.private_to[k]] += 1
        else:
            for user in range(users):
                if user != sender and room_of(user, rooms) == room_of(sender, rooms):
                    expect[user] += 1
    assert plan.expect == expect
    assert plan.deliveries == sum(expect)
    assert plan.room_lines + len(plan.private_to) == messages


# -- private lines as received -------------------------------------------------------------


def spec() -> LineSpec:
    return LineSpec(2, "b1k2m", len("b1k2m000000"), 96, senders=4)


def room_line(sender: int, seq: int, ts: int) -> bytes:
    return spec().line(b"@" + client_name("b1k2", "m", sender, 6).encode() + b": ", seq, ts)


def private_line(sender: int, seq: int, ts: int) -> bytes:
    name = client_name("b1k2", "m", sender, 6).encode()
    return room_line(sender, seq, ts).replace(name + b": ", name + PRIVATE_TAG + b": ", 1)


def test_a_private_line_is_the_senders_line_with_the_private_tag_and_keeps_its_send_time() -> None:
    line = private_line(3, 7, 123_456)[:-1]
    assert line.startswith(b"@b1k2m000003 (private): |2|000000007|")
    assert spec().classify(line) is LineKind.PRIVATE
    assert as_room_line(line) == room_line(3, 7, 123_456)[:-1]
    assert spec().line_ts(as_room_line(line)) == 123_456


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (b"215 Sent to b1k2m000017.", LineKind.RECEIPT),
        (b"@stranger (private): hello", LineKind.FOREIGN),
        (private_line(2, 7, 1)[:-1], LineKind.FOREIGN),  # line 7 is sender 3's, not 2's
        (private_line(3, 7, 1)[:-1].replace(b"|2|", b"|1|", 1), LineKind.STALE),
        (b"404 No user named b1k2m000017 is online; !list all shows who is.", LineKind.NOTICE),
    ],
)
def test_lines_around_private_messages_are_told_apart(line: bytes, kind: LineKind) -> None:
    assert spec().classify(line) is kind


def test_private_lines_count_as_deliveries_and_receipts_do_not() -> None:
    tally = Tally(spec(), sample_every=1)
    data = room_line(1, 1, 1_000) + private_line(3, 3, 1_000) + b"215 Sent to b1k2m000009.\n"
    assert tally.chunk(bytearray(data), len(data), now=4_000) == 2
    assert (tally.got, tally.privates, tally.receipts, tally.foreign) == (2, 1, 1, 0)
    assert set(tally.samples) == {3_000}
    chunk = bytearray(private_line(3, 7, 1_000) * 3)  # a chunk of private lines alone
    assert tally.chunk(chunk, len(chunk), now=2_000) == 3 and tally.privates == 4


# -- the numbers of a step ---------------------------------------------------------------


def two_workers(**second: int) -> list[PhaseReport]:
    first = zeros(PhaseReport, queued=60, private_queued=6, receipts=6, privates=7)
    return [
        first,
        zeros(PhaseReport, **{"queued": 40, "private_queued": 4, "receipts": 4, "privates": 3, **second}),
    ]


def test_a_step_counts_room_and_private_deliveries_and_cpu_per_stored_room_line() -> None:
    row = zeros(FanoutStep, delivered=1000, passed=True)
    step = rooms_step(row, two_workers(), server_cpu_s=0.009)
    assert (step.room_delivered, step.private_delivered) == (990, 10)
    assert (step.private_sent, step.receipts, step.stored) == (10, 10, 90)
    assert step.server_us_per_stored == pytest.approx(100.0)
    assert step.passed and not step.problems and step.misdelivered == 0


def test_a_missing_receipt_or_a_line_for_someone_else_fails_the_step() -> None:
    row = zeros(FanoutStep, delivered=1000, passed=True)
    step = rooms_step(row, two_workers(receipts=3), server_cpu_s=None)
    assert not step.passed and step.problems == ["9 '215' receipts for 10 private lines"]
    assert step.server_us_per_stored is None
    misrouted = rooms_step(row, two_workers(open_surplus=2), server_cpu_s=None)
    assert misrouted.misdelivered == 2
    result = rooms_result([misrouted])
    assert not Report("chatroom-bench rooms", {}, {}, rooms=[result]).clean
    result.steps = [step]
    assert Report("chatroom-bench rooms", {}, {}, rooms=[result]).clean  # a finding, not lost lines


def rooms_result(steps: list[Any]) -> RoomsResult:
    result = RoomsResult(
        40, 40, 4, 4, 0.1, "off", 1, 2, 96, ServerRun("chat://127.0.0.1:1", True, 1, 0), None
    )
    result.registered = result.joined = 40
    result.register_s, result.join_s, result.steps = 0.01, 0.002, steps
    return result


def test_the_rooms_table_adds_private_lines_the_two_kinds_of_delivery_and_cpu_per_stored_line() -> None:
    row = zeros(FanoutStep, rate_msgs=100, delivered=1000, delivered_pct=100.0, passed=True, lg_cores=1)
    shown = rooms_text(rooms_result([rooms_step(row, two_workers(), server_cpu_s=0.009)]))
    assert shown.startswith(
        "### rooms: 40 users in 4 rooms, 4 senders, 10% private, history off (--no-history)"
    )
    lines = shown.splitlines()
    header = next(line for line in lines if line.startswith("| msgs/s"))
    assert header.startswith(
        "| msgs/s | private lines | offered deliveries/s | deliveries/s | delivered | room + "
    )
    assert "| server µs/delivery | server µs/stored msg | LG CPU |" in header
    (row_text,) = [line for line in lines if line.startswith("| 100 ")]
    assert "| 100 | 10 | 0 | 0 | 100% | 990 + 10 |" in row_text and "| 100.00 |" in row_text
    assert "none of the steps" in shown


# -- options ------------------------------------------------------------------------------


def options(*args: str) -> Any:
    return options_from(build_parser().parse_args(list(args)))


def test_by_default_1000_users_in_100_rooms_one_sender_each_a_tenth_private_history_on() -> None:
    chosen = options("rooms")
    assert chosen.workloads == ("rooms",)
    assert (chosen.room_users, chosen.rooms, chosen.room_senders) == (1000, 100, 100)
    assert chosen.room_rates == (1000.0, 3000.0, 10000.0) and chosen.private_share == 0.1
    assert chosen.history == ("on",)
    assert options("rooms", "--history", "off,on").history == ("off", "on")
    assert options("rooms", "chat://127.0.0.1:5000").history == ("as it runs",)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--history", "maybe"], "--history"),
        (["--rooms", "50", "--room-users", "40"], "--rooms must be at most 40"),
        (["--room-senders", "41", "--room-users", "40", "--rooms", "4"], "--room-senders"),
        (["--private-share", "1.5"], "--private-share"),
        (["--room-rates", "0"], "--room-rates"),
        (["chat://127.0.0.1:5000", "--history", "off"], "a server given by address keeps its own"),
    ],
)
def test_room_options_out_of_range_are_refused_with_a_sentence(args: list[str], message: str) -> None:
    with pytest.raises(OptionError, match=message):
        options("rooms", *args)


def test_history_on_is_a_new_file_in_the_folder_given_and_off_is_no_history() -> None:
    assert server_args("on", "/tmp/x") == ("--db", os.path.join("/tmp/x", "history.sqlite3"))
    assert server_args("off", "/tmp/x") == ("--no-history",)
    assert server_args("as it runs", "") == ()


# -- the real thing -----------------------------------------------------------------------

TINY = [
    *("--room-users", "40", "--rooms", "4", "--room-rates", "100"),
    *("--step-seconds", "1", "--drain-seconds", "3"),
]


def run_rooms(*args: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    return run_bench("rooms", *args, *TINY, tmp_path=tmp_path)


def assert_everyone_got_exactly_their_lines(result: dict[str, Any]) -> None:
    """One step of 100 lines: 10 private, 90 in 4 rooms of 10; each room line reaches the 9 others."""
    plan = plan_step(100, 40, 4, 4, 0.1, seed=1)
    assert result["registered"] == result["joined"] == 40
    (step,) = result["steps"]
    assert step["expected"] == step["delivered"] == plan.deliveries == 90 * 9 + 10
    assert (step["room_delivered"], step["private_delivered"]) == (90 * 9, 10)
    assert step["private_sent"] == step["receipts"] == 10 and step["stored"] == 90
    # Per user, what arrived is what the plan says: nothing missing, nothing for someone else.
    assert step["lost"] == step["lost_open"] == step["misdelivered"] == step["late"] == 0
    assert step["foreign_lines"] == step["stale_lines"] == 0 and delivered_exactly(step), step["problems"]
    assert 0 < step["p50_ms"] <= step["p99_ms"] <= step["max_ms"] < 1000


def test_rooms_on_servers_it_starts_with_history_on_and_off_delivers_exactly(tmp_path: Path) -> None:
    done, data = run_rooms("--history", "on,off", tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert data["clean"] is True
    on, off = data["rooms"]
    assert (on["history"], off["history"]) == ("on", "off")
    flag, db = on["server_args"]
    assert flag == "--db" and db.endswith("history.sqlite3") and not os.path.exists(db)  # removed after
    assert off["server_args"] == ["--no-history"]
    for result in (on, off):
        assert_everyone_got_exactly_their_lines(result)
        assert result["server"]["exit_code"] == 0 and result["server"]["said"] == []
        assert result["steps"][0]["server_us_per_stored"] > 0
    assert "history on (a new --db file)" in done.stdout and "history off (--no-history)" in done.stdout


def test_rooms_on_a_server_given_by_address_runs_once_as_the_server_keeps_its_history(
    server: ServerProcess, tmp_path: Path
) -> None:
    done, data = run_rooms(f"chat://127.0.0.1:{server.port}", tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    (result,) = data["rooms"]
    assert result["history"] == "as it runs" and result["server_args"] == []
    assert_everyone_got_exactly_their_lines(result)
    assert result["server"]["exit_code"] is None
    assert result["steps"][0]["server_us_per_stored"] is None  # no --server-pid, no CPU
