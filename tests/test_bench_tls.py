"""chatroom-bench --tls: fan-out over TLS next to plain TCP, and new connections per second both ways."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.bench_steps import delivered_exactly
from support.processes import REPO_ROOT, child_env
from test_bench import RUN_TIMEOUT_S, run_bench


def test_a_tiny_tls_run_delivers_everything_both_ways_and_counts_setups(tmp_path: Path) -> None:
    done, data = run_bench(
        "fanout",
        "--tls",
        *("--clients", "4", "--senders", "2", "--rates", "50", "--step-seconds", "1", "--drain-seconds", "2"),
        tmp_path=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert data["clean"] is True
    plain, tls = data["fanout"]
    assert (plain["transport"], tls["transport"]) == ("tcp", "tls")
    for fanout in (plain, tls):
        assert fanout["registered"] == 4 and fanout["server"]["exit_code"] == 0
        (step,) = fanout["steps"]
        assert step["expected"] == 50 * 3 and delivered_exactly(step), step["problems"]
    tcp_setups, tls_setups = data["setups"]
    assert (tcp_setups["transport"], tls_setups["transport"]) == ("tcp", "tls")
    for setups in (tcp_setups, tls_setups):
        assert setups["done"] > 0 and setups["fails"] == {} and setups["server"]["exit_code"] == 0
        assert setups["setups_s"] > 0 and setups["server_us_per_setup"] is not None
    assert "### fanout over TLS: 4 clients" in done.stdout
    assert "### TLS next to plain TCP" in done.stdout


def test_tls_with_a_server_given_by_address_is_one_sentence() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chatroom.bench", "fanout", "chat://127.0.0.1:5000", "--tls"],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("chatroom-bench: --tls measures a server this benchmark starts")
    assert "Traceback" not in done.stderr


def test_without_trustme_tls_is_one_sentence_naming_the_extra(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['trustme'] = None\n"
        "from chatroom.bench.cli import main\n"
        "sys.exit(main(['fanout', '--tls', '--clients', '2', '--senders', '1', '--rates', '10',"
        " '--step-seconds', '0.2']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "chatroom-bench: --tls makes a throwaway certificate with trustme, which is not installed: "
        "pip install 'chatroom[bench]'"
    )
