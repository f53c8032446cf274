"""``minerwatch run`` as deploy/compose.yaml runs it: the image's environment, a read-only file system but
for the database folder and a scratch folder, stopped by SIGTERM (what ``docker stop`` and ``systemctl
stop`` send). The read-only root is a private mount namespace (``unshare --mount``, util-linux) in which
every mount is remounted read-only, as Docker's ``read_only: true`` does to the container's root.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.process import ROOT, bot_environment
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.upstreams import FakeUpstreams

USER = 1001
READ_ONLY = r"""
set -eu
mount --make-rprivate /
for writable in "$DATA" "$SCRATCH"; do mount --bind "$writable" "$writable"; done
findmnt --list --noheadings --output TARGET | while read -r target; do
    case "$target" in "$DATA" | "$SCRATCH") continue ;; esac
    mount -o remount,ro,bind "$target" 2>/dev/null || true
done
if touch "$PROBE" 2>/dev/null; then echo "$PROBE is writable: the root is not read-only"; exit 97; fi
exec "$@"
"""


def grace_period_s() -> int:
    compose = (ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8")
    found = re.search(r"^    stop_grace_period: (\d+)s$", compose, flags=re.MULTILINE)
    assert found, "no stop_grace_period in deploy/compose.yaml"
    return int(found.group(1))


def test_bot_runs_on_a_read_only_root_and_stops_cleanly_on_sigterm(
    tmp_path: Path, fake_upstreams: FakeUpstreams
) -> None:
    data, scratch = tmp_path / "data", tmp_path / "tmp"
    data.mkdir()
    scratch.mkdir()
    probe = tmp_path / "probe"
    with FakeTelegram() as telegram:
        settings = {
            **fake_upstreams.settings_overrides(),
            "telegram_token": telegram.token,
            "telegram_base_url": telegram.base_url,
        }
        env = bot_environment(data / "minerwatch.db", settings)
        # The image's ENV, HOME and WORKDIR (deploy/Dockerfile), with the scratch folder as its /tmp.
        env.update(
            HOME=str(data),
            TMPDIR=str(scratch),
            MPLCONFIGDIR=str(scratch / "matplotlib"),
            PYTHONDONTWRITEBYTECODE="1",
            DATA=str(data),
            SCRATCH=str(scratch),
            PROBE=str(probe),
        )
        minerwatch = Path(sys.executable).with_name("minerwatch")  # the image's CMD
        command = ["unshare", "--mount", "sh", "-c", READ_ONLY, "read-only", str(minerwatch), "run"]
        with (tmp_path / "output.txt").open("w") as out:
            process = subprocess.Popen(
                command, cwd=data, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        output = (tmp_path / "output.txt").read_text
        try:
            telegram.wait_for_sync(lambda: telegram.get_updates_calls or process.poll() is not None, 30)
            assert process.poll() is None, output()
            telegram.send_user_message(USER, "/chart 1y")  # matplotlib writes its cache: MPLCONFIGDIR
            photos = telegram.wait_for_sync(
                lambda: [c for c in telegram.calls("sendPhoto", USER) if c.ok], 30
            )
            assert (photos[0].photo or b"")[:8] == b"\x89PNG\r\n\x1a\n"

            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=grace_period_s()) == 0, output()  # before Docker's SIGKILL
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert not probe.exists()
    for trouble in ("Read-only file system", "not a writable directory", "Traceback"):
        assert trouble not in output(), output()
    assert "stopping" in output()
    # Nothing but the database landed in the data folder (also the container user's home).
    assert {path.name for path in data.iterdir()} <= {
        "minerwatch.db",
        "minerwatch.db-wal",
        "minerwatch.db-shm",
    }
