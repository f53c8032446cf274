"""``minerwatch run`` as a child process when a chat platform is down or refuses the token at start, and
the secrets that must never reach its output (settings errors, uncaught exceptions, warnings)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.chat.kinds import ChatKind
from bot.store import connect
from bot.store.chats import upsert_chat
from bot.store.outbox import NewMessage, OutboxStatus, counts, enqueue
from tests.e2e.process import ROOT, bot_environment
from tests.fakes import free_port
from tests.fakes.discord_api import FakeDiscord, channel, member
from tests.fakes.telegram_api import FakeTelegram, Fault
from tests.fakes.upstreams import FakeUpstreams

USER = 1001
GUILD_ID, CHANNEL_ID, ADMIN = 900000000000000001, 900000000000000011, 3001
WRONG_TELEGRAM_TOKEN = "654321:AAwrongWRONGwrongWRONGwrong0123456"
WRONG_DISCORD_TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwOQ.Wrong1.not-the-token-the-fake-expects-at-all"
WAITING_ALERT = "🔔 queued before Telegram was reachable"
NOISE = ("Traceback", "Unclosed", "Warning", "Task exception was never retrieved")


class Child:
    """``python -m bot.cli run`` with its output in files (a full pipe would stall a chatty bot)."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self._out = folder / "output.txt"
        with self._out.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )

    @property
    def output(self) -> str:
        return self._out.read_text()

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the bot did not exit within {timeout:g} s:\n{self.output}") from None

    def interrupt(self) -> int:
        self.process.send_signal(2)  # SIGINT: what Ctrl-C sends
        return self.wait()

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait()


def seed_alert(db_path: Path) -> None:
    """One alert for ``USER`` in the outbox, as the watch leaves it before the platform is reachable."""
    db = connect(db_path)
    chat = upsert_chat(db, "telegram", str(USER), ChatKind.PRIVATE, time.time())
    enqueue(db, [NewMessage("early", chat.id, "telegram", str(USER), "test", WAITING_ALERT)], time.time())
    db.close()


@pytest.fixture
def child(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Child]]:
    started: list[Child] = []

    def start(settings: dict[str, str]) -> Child:
        made = Child(bot_environment(tmp_path / "bot.db", settings), tmp_path)
        started.append(made)
        return made

    yield start
    for each in started:
        each.kill()


def until(predicate: Callable[[], Any], timeout: float, what: str, bot: Child) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if not bot.alive():
            raise AssertionError(
                f"the bot exited ({bot.process.returncode}) waiting for {what}:\n{bot.output}"
            )
        time.sleep(0.1)
    raise AssertionError(f"no {what} after {timeout:g} s:\n{bot.output}")


def healthz(port: int) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    except httpx.TransportError:
        return None


def transport_state(port: int, name: str) -> dict[str, Any]:
    response = healthz(port)
    assert response is not None
    state: dict[str, Any] = response.json()["transports"][name]
    return state


def run_until_exit(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``minerwatch run`` expected to stop on its own (a refused setting or database), its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_clean(output: str, *secrets: str) -> None:
    for noise in NOISE:
        assert noise not in output, output
    for secret in secrets:
        assert secret not in output


# Telegram ----------------------------------------------------------------------------------------------
def test_telegram_down_at_start_then_up_serves_health_then_commands_and_the_waiting_alert(
    child: Callable[[dict[str, str]], Child], fake_upstreams: FakeUpstreams, tmp_path: Path
) -> None:
    seed_alert(tmp_path / "bot.db")
    api_port, health_port = free_port(), free_port()
    telegram = FakeTelegram(api_port)
    bot = child(
        {
            **fake_upstreams.settings_overrides(),
            "telegram_token": telegram.token,
            "telegram_base_url": f"http://127.0.0.1:{api_port}/bot",
            "http_port": str(health_port),
        }
    )
    response = until(lambda: healthz(health_port), 15, "/healthz", bot)
    assert response.status_code == 503
    assert "telegram: no successful API call yet" in response.json()["problems"]
    time.sleep(3)  # the old bot died here, about 3 s after start
    assert bot.alive(), bot.output
    with telegram:
        until(lambda: telegram.calls("setMyCommands"), 30, "command menu", bot)
        alert = telegram.wait_for_sync(lambda: telegram.messages_to(USER), timeout=15)
        assert [call.text for call in alert] == [WAITING_ALERT]
        telegram.send_user_message(USER, "/help")
        replies = telegram.wait_for_sync(lambda: telegram.messages_to(USER)[1:], timeout=15)
        assert "/subscribe" in (replies[0].text or "")
        state = until(lambda: transport_state(health_port, "telegram")["connected"], 5, "connected", bot)
        assert state is True
        assert transport_state(health_port, "telegram")["last_success_age_s"] < 15
        assert bot.interrupt() == 0
    assert "telegram: cannot connect" in bot.output
    assert_clean(bot.output, telegram.token)
    db = connect(tmp_path / "bot.db")
    assert counts(db)[OutboxStatus.SENT] == 1
    assert [row["attempts"] for row in db.fetch("SELECT attempts FROM outbox")] == [0]
    db.close()


def test_a_500_on_set_my_commands_still_answers_and_sets_the_menu_later(
    child: Callable[[dict[str, str]], Child], fake_upstreams: FakeUpstreams
) -> None:
    with FakeTelegram() as telegram:
        telegram.inject(Fault.SERVER_ERROR, methods=["setMyCommands"], times=2, status=500)
        bot = child(
            {
                **fake_upstreams.settings_overrides(),
                "telegram_token": telegram.token,
                "telegram_base_url": telegram.base_url,
            }
        )
        until(lambda: telegram.get_updates_calls, 20, "polling", bot)
        telegram.send_user_message(USER, "/help")
        replies = telegram.wait_for_sync(lambda: telegram.messages_to(USER), timeout=15)
        assert "/subscribe" in (replies[0].text or "")
        until(lambda: telegram.my_commands("ru"), 20, "the menu set after the 500s", bot)
        assert [call.status for call in telegram.calls("setMyCommands")][:2] == [500, 500]
        assert bot.interrupt() == 0
    assert "setting the command menu failed" in bot.output
    assert_clean(bot.output, telegram.token)


def test_a_rejected_telegram_token_is_one_line_and_exit_2(
    child: Callable[[dict[str, str]], Child], fake_upstreams: FakeUpstreams
) -> None:
    with FakeTelegram() as telegram:
        bot = child(
            {
                **fake_upstreams.settings_overrides(),
                "telegram_token": WRONG_TELEGRAM_TOKEN,
                "telegram_base_url": telegram.base_url,
                "http_port": str(free_port()),
            }
        )
        assert bot.wait() == 2
    output = bot.output
    assert output.splitlines()[-1] == (
        "minerwatch: MINERWATCH_TELEGRAM_TOKEN rejected by Telegram (401 Unauthorized)"
    )
    assert_clean(output, WRONG_TELEGRAM_TOKEN, WRONG_TELEGRAM_TOKEN.split(":")[1])


def test_discord_down_does_not_hold_up_telegram_and_ctrl_c_while_connecting_is_clean(
    child: Callable[[dict[str, str]], Child], fake_upstreams: FakeUpstreams
) -> None:
    discord_port = free_port()
    with FakeTelegram() as telegram:
        bot = child(
            {
                **fake_upstreams.settings_overrides(),
                "telegram_token": telegram.token,
                "telegram_base_url": telegram.base_url,
                "discord_token": WRONG_DISCORD_TOKEN,
                "discord_api_base": f"http://127.0.0.1:{discord_port}/api/v10",
                "discord_gateway_url": f"ws://127.0.0.1:{discord_port}/gateway",
            }
        )
        until(lambda: telegram.get_updates_calls, 20, "polling", bot)
        telegram.send_user_message(USER, "/help")
        replies = telegram.wait_for_sync(lambda: telegram.messages_to(USER), timeout=15)
        assert "/subscribe" in (replies[0].text or "")
        until(lambda: "discord: cannot connect" in bot.output, 10, "a Discord retry", bot)
        assert bot.interrupt() == 0
    assert_clean(bot.output, telegram.token, WRONG_DISCORD_TOKEN)


# Discord -----------------------------------------------------------------------------------------------
def discord_guild(fake: FakeDiscord) -> None:
    fake.guild(GUILD_ID, "Hash House", channels=[channel(CHANNEL_ID, "alerts")], members=[member(ADMIN)])


def test_discord_down_at_start_then_up_serves_health_then_commands(
    child: Callable[[dict[str, str]], Child], fake_upstreams: FakeUpstreams
) -> None:
    port, health_port = free_port(), free_port()
    fake = FakeDiscord(port)
    bot = child(
        {
            **fake_upstreams.settings_overrides(),
            "discord_token": fake.token,
            "discord_api_base": f"http://127.0.0.1:{port}/api/v10",
            "discord_gateway_url": f"ws://127.0.0.1:{port}/gateway",
            "http_port": str(health_port),
        }
    )
    response = until(lambda: healthz(health_port), 15, "/healthz", bot)
    assert response.status_code == 503
    assert "discord: no successful API call yet" in response.json()["problems"]
    time.sleep(3)
    assert bot.alive(), bot.output
    with fake:
        discord_guild(fake)
        until(lambda: fake.connected and fake.commands, 30, "gateway and slash commands", bot)
        interaction = fake.invoke("help", channel_id=CHANNEL_ID, user_id=ADMIN)
        answer = fake.wait_for_sync(lambda: fake.responses_to(interaction), timeout=15)
        assert "/subscribe" in str(answer[-1].embeds)
        until(lambda: transport_state(health_port, "discord")["connected"], 10, "connected", bot)
        assert transport_state(health_port, "discord")["last_success_age_s"] < 15
        assert bot.interrupt() == 0
        assert fake.server_errors == []
    assert "discord: cannot connect" in bot.output
    assert_clean(bot.output, fake.token)


def test_a_rejected_discord_token_is_one_line_and_exit_2(
    child: Callable[[dict[str, str]], Child], fake_upstreams: FakeUpstreams
) -> None:
    with FakeDiscord() as fake:
        bot = child(
            {
                **fake_upstreams.settings_overrides(),
                "discord_token": WRONG_DISCORD_TOKEN,
                "discord_api_base": fake.api_base,
                "discord_gateway_url": fake.gateway_url,
            }
        )
        assert bot.wait() == 2
    output = bot.output
    assert (
        output.splitlines()[-1]
        == "minerwatch: MINERWATCH_DISCORD_TOKEN rejected by Discord (401 Unauthorized)"
    )
    assert_clean(output, WRONG_DISCORD_TOKEN)


# Secrets -----------------------------------------------------------------------------------------------
def test_a_bitcoind_url_with_a_password_is_reported_without_it(tmp_path: Path) -> None:
    url = "http://rpcuser:hunter2-rpc-password@127.0.0.1:99999/"
    env = bot_environment(tmp_path / "bot.db", {"bitcoind_url": url})
    done = run_until_exit(env)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("minerwatch: bad setting MINERWATCH_BITCOIND_URL: ")
    assert "http://***@127.0.0.1:99999/" in line
    assert "hunter2" not in done.stdout + done.stderr


def test_a_database_url_that_cannot_be_reached_is_one_line_without_its_password(tmp_path: Path) -> None:
    """``MINERWATCH_DATABASE_URL`` replaces the SQLite file; a server that is down stops the start with one
    line naming the URL, its password hidden."""
    port = free_port()
    url = f"postgresql://minerwatch:pg-hunter2-password@127.0.0.1:{port}/minerwatch"
    env = bot_environment(tmp_path / "bot.db", {"database_url": url})
    done = run_until_exit(env)
    assert done.returncode == 2
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"minerwatch: database postgresql://minerwatch:***@127.0.0.1:{port}/minerwatch: ")
    assert "pg-hunter2-password" not in done.stdout + done.stderr
    assert not (tmp_path / "bot.db").exists()


UNCAUGHT = """
import asyncio, gc, threading, warnings
from bot.config import Settings
from bot.ops.logs import setup_logging

setup_logging(Settings())
secret = "correct-horse-battery-staple"
token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
warnings.warn(f"warned about {secret}")

def boom():
    raise RuntimeError(f"thread with {secret}")

thread = threading.Thread(target=boom)
thread.start()
thread.join()

async def fail():
    raise RuntimeError(f"task with {secret} and {token}")

async def main():
    asyncio.get_running_loop().create_task(fail())
    await asyncio.sleep(0.05)
    gc.collect()

asyncio.run(main())
gc.collect()
raise RuntimeError(f"uncaught with {secret} and http://rpc:{secret}@127.0.0.1:8332/ and {token}")
"""


def test_uncaught_exceptions_warnings_and_threads_are_redacted(tmp_path: Path) -> None:
    env = bot_environment(tmp_path / "bot.db", {"bitcoind_password": "correct-horse-battery-staple"})
    done = subprocess.run(
        [sys.executable, "-c", UNCAUGHT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1
    for shown in ("warned about ***", "thread with ***", "task with *** and ***", "uncaught with *** and"):
        assert shown in output, output
    assert "http://***@127.0.0.1:8332/" in output
    assert "correct-horse" not in output and "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in output
