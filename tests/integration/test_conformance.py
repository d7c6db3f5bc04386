"""PostgreSQL 15's own regression SQL, run once directly and once through
pgmux in session mode (../shared/conformance/regress-diff): every difference
in the psql transcripts is a place where pgmux changed what a client sees.

Slow (several minutes); CTest runs it as `conformance.regress_diff` with the
label `conformance`. PGMUX_CONFORMANCE_ONLY="temp guc" limits it to some files.
"""
import os
import re
import subprocess

import pytest

from harness.clients import PG_BIN, client_env
from harness.proxy import REPO_ROOT

pytestmark = [pytest.mark.conformance, pytest.mark.timeout(1700)]

REGRESS_DIFF = os.environ.get("PGMUX_REGRESS_DIFF") or os.path.join(
    os.path.dirname(REPO_ROOT), "shared", "conformance", "regress-diff")


def test_regress_diff_session_mode(pgmux, pg, tmp_path):
    assert os.path.exists(REGRESS_DIFF), f"regress-diff not found at {REGRESS_DIFF}"
    proxy = pgmux(pool_size=20, pool_mode="session")
    out_dir = os.path.join(os.environ.get("PGMUX_TEST_OUT") or str(tmp_path), "regress-diff.out")
    argv = ["/usr/bin/python3", REGRESS_DIFF, "--direct", str(pg.endpoint),
            "--proxy", str(proxy.endpoint), "--out", out_dir]
    only = os.environ.get("PGMUX_CONFORMANCE_ONLY", "").split()
    if only:
        argv += ["--only", *only]
    # psql and pgbench of PostgreSQL 15 first on PATH; regress-diff calls them by name.
    env = client_env(PATH=PG_BIN + os.pathsep + os.environ.get("PATH", ""), TMPDIR=str(tmp_path))
    r = subprocess.run(argv, capture_output=True, text=True, timeout=1650, env=env)
    print(r.stdout)
    print(r.stderr)
    lines = r.stdout.strip().splitlines()
    m = re.fullmatch(r"(\d+) passed, (\d+) failed", lines[-1] if lines else "")
    assert m, f"regress-diff did not finish (exit {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    passed, failed = int(m[1]), int(m[2])
    assert failed == 0, f"{failed} files differ through pgmux; diffs in {out_dir}:\n" + \
        "\n".join(line for line in lines if line.startswith(("DIFF", "elapsed")))
    assert passed >= (len(only) if only else 150)
    assert r.returncode == 0
