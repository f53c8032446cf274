"""The handlers' ``Services`` over the store: profiles, subscriptions, languages and the latest market.

Subscriptions on per-chat metrics (margin, breakeven) are translated to hashprice thresholds here, with
the chat's profile, and re-translated whenever the profile changes (``bot.alerts.rules``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from bot.alerts.engine import key_values
from bot.alerts.rules import (
    PER_CHAT_METRICS,
    Metric,
    Op,
    Rule,
    initial_state,
    key_rule,
    margin_warning_rule,
)
from bot.chat.context import Chat, ChatFleet, ChatProfile, SubscriptionView
from bot.config import Settings
from bot.economics.fleet import FleetLine, Tariff
from bot.economics.history import DailyRow
from bot.economics.machines import parse_machine
from bot.economics.mining import MarketInputs, OperatingProfile
from bot.economics.production_cost import regression_cost
from bot.economics.regression import DifficultyRegression
from bot.economics.stress import NotEnoughHistoryError, StressBaseline
from bot.market.view import MarketView
from bot.render.alerts import describe_rule_in
from bot.render.i18n import DEFAULT_LANGUAGE, t
from bot.store import chats as chat_repo
from bot.store import fleet as fleet_repo
from bot.store import snapshots as snapshot_repo
from bot.store import subscriptions as subscription_repo
from bot.store.connection import Connection
from bot.store.db import Store
from bot.store.subscriptions import SubscriptionKind
from bot.watch.loop import cached_stress_baseline, stress_value

MARGIN_WARNING_RULE = Rule(Metric.MARGIN, Op.BELOW, 0.0, 1.0)
T = TypeVar("T")


def _ensure_chat(db: Connection, chat: Chat, now: float) -> int:
    existing = chat_repo.find_chat(db, chat.platform, chat.chat_id)
    if existing is not None and existing.active:
        return existing.id
    return chat_repo.upsert_chat(db, chat.platform, chat.chat_id, chat.kind, now).id


def daily_window(db: Connection, days: int) -> list[DailyRow]:
    """The daily rows of the ``days``-day window ending at the latest stored day (oldest first)."""
    last = snapshot_repo.last_daily_date(db)
    if last is None:
        return []
    return snapshot_repo.daily_range(db, last - timedelta(days=days - 1), last)


def market_view(
    snapshot: snapshot_repo.StoredSnapshot, health: snapshot_repo.DataHealth | None = None
) -> MarketView:
    """A stored poll as the view the reports take, with the poller's ``DataHealth`` when given."""
    market = MarketInputs(
        snapshot.price_usd, snapshot.difficulty, snapshot.height, snapshot.fees_per_block_btc
    )
    return MarketView(
        market=market,
        as_of=snapshot.taken_at,
        hashrate_hs=snapshot.hashrate_hs,
        adjustment=snapshot.adjustment,
        outcomes=snapshot.outcomes,
        stale_reason=health.stale_reason if health else None,
        failing=health.failing if health else {},
    )


def _stored_line(line: FleetLine) -> fleet_repo.StoredLine:
    operating, tariff = line.operating, line.tariff
    return fleet_repo.StoredLine(
        j_per_th=line.machine.j_per_th,
        count=line.count,
        power_usd_per_kwh=None if tariff.name else tariff.base_usd_per_kwh,
        pool_fee_pct=operating.pool_fee_fraction * 100,
        uptime_pct=operating.uptime_fraction * 100,
        pue=operating.pue,
        machine=line.machine.name,
        hashrate_ths=line.machine.hashrate_ths,
        tariff=tariff.name or None,
        site=line.site,
    )


class StoreServices:
    """``bot.chat.context.Services`` implemented over the SQLite store."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        regression: DifficultyRegression,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self.settings = settings
        self.regression = regression
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    def _stamp(self) -> float:
        return self._clock().timestamp()

    def default_profile(self) -> ChatProfile:
        settings = self.settings
        operating = OperatingProfile(
            settings.power_usd_per_kwh, settings.pool_fee_pct / 100, settings.uptime_pct / 100, settings.pue
        )
        return ChatProfile(parse_machine(settings.machine), 1, operating)

    def _to_profile(self, stored: chat_repo.Profile | None) -> ChatProfile:
        if stored is None:
            return self.default_profile()
        machine = fleet_repo.stored_machine(stored.machine, stored.hashrate_ths, stored.j_per_th)
        operating = OperatingProfile(
            stored.power_usd_per_kwh, stored.pool_fee_pct / 100, stored.uptime_pct / 100, stored.pue
        )
        return ChatProfile(machine, stored.count, operating)

    async def latest_view(self) -> MarketView | None:
        def load(db: Connection) -> MarketView | None:
            snapshot = snapshot_repo.latest_snapshot(db)
            return None if snapshot is None else market_view(snapshot, snapshot_repo.data_health(db))

        return await self._store.run(load)

    async def profile(self, chat: Chat) -> ChatProfile:
        def load(db: Connection) -> chat_repo.Profile | None:
            existing = chat_repo.find_chat(db, chat.platform, chat.chat_id)
            return chat_repo.get_profile(db, existing.id) if existing else None

        return self._to_profile(await self._store.run(load))

    async def save_profile(self, chat: Chat, profile: ChatProfile) -> None:
        operating = profile.operating
        stored = chat_repo.Profile(
            j_per_th=profile.machine.j_per_th,
            power_usd_per_kwh=operating.power_usd_per_kwh,
            pool_fee_pct=operating.pool_fee_fraction * 100,
            uptime_pct=operating.uptime_fraction * 100,
            pue=operating.pue,
            machine=profile.machine.name,
            hashrate_ths=profile.machine.hashrate_ths,
            count=profile.count,
        )
        now = self._stamp()

        def save(db: Connection) -> None:
            ref = _ensure_chat(db, chat, now)
            chat_repo.set_profile(db, ref, stored, now)
            self._rekey(db, ref)

        await self._store.atomic(save)

    def _rekey(self, db: Connection, ref: int) -> None:
        """Re-translate the chat's per-chat rules after its profile (fleet line 1) changed."""
        profile = self._to_profile(chat_repo.get_profile(db, ref))
        operating = profile.operating
        for subscription in subscription_repo.list_for_chat(db, ref):
            rule = subscription.rule
            if subscription.kind is SubscriptionKind.MARGIN_WARNING:
                keyed = margin_warning_rule(profile.machine.j_per_th, operating)
                subscription_repo.update_keyed(db, subscription.id, keyed)
            elif rule is not None and rule.metric in PER_CHAT_METRICS:
                keyed = key_rule(rule, profile.machine.j_per_th, operating)
                subscription_repo.update_keyed(db, subscription.id, keyed)

    async def fleet(self, chat: Chat) -> ChatFleet:
        def load(db: Connection) -> ChatFleet:
            existing = chat_repo.find_chat(db, chat.platform, chat.chat_id)
            if existing is None:
                return ChatFleet()
            return ChatFleet(fleet_repo.economic_lines(db, existing.id), fleet_repo.tariffs(db, existing.id))

        return await self._store.run(load)

    async def _change_fleet(self, chat: Chat, change: Callable[[Connection, int], T]) -> T:
        """Run ``change(db, chat_ref)`` and re-key the chat's rules, in one transaction."""
        now = self._stamp()

        def run(db: Connection) -> T:
            ref = _ensure_chat(db, chat, now)
            result = change(db, ref)
            self._rekey(db, ref)
            return result

        return await self._store.atomic(run)

    async def add_fleet_line(self, chat: Chat, line: FleetLine) -> int:
        stored, now = _stored_line(line), self._stamp()
        return await self._change_fleet(chat, lambda db, ref: fleet_repo.add_line(db, ref, stored, now))

    async def set_fleet_line(self, chat: Chat, number: int, line: FleetLine) -> bool:
        stored, now = _stored_line(line), self._stamp()
        return await self._change_fleet(
            chat, lambda db, ref: fleet_repo.set_line(db, ref, number, stored, now)
        )

    async def remove_fleet_line(self, chat: Chat, number: int) -> bool:
        return await self._change_fleet(chat, lambda db, ref: fleet_repo.remove_line(db, ref, number))

    async def clear_fleet(self, chat: Chat) -> int:
        return await self._change_fleet(chat, fleet_repo.clear)

    async def save_tariff(self, chat: Chat, tariff: Tariff) -> None:
        now = self._stamp()
        await self._change_fleet(chat, lambda db, ref: fleet_repo.set_tariff(db, ref, tariff, now))

    async def remove_tariff(self, chat: Chat, name: str) -> bool:
        return await self._change_fleet(chat, lambda db, ref: fleet_repo.remove_tariff(db, ref, name))

    async def subscribe_fleet(self, chat: Chat) -> bool:
        now = self._stamp()

        def add(db: Connection) -> bool:
            ref = _ensure_chat(db, chat, now)
            kinds = {s.kind for s in subscription_repo.list_for_chat(db, ref) if s.active}
            if SubscriptionKind.FLEET in kinds:
                return False
            subscription_repo.add_fleet(db, ref, now)
            return True

        return await self._store.atomic(add)

    def _current_key_values(self, db: Connection) -> dict[str, float]:
        snapshot = snapshot_repo.latest_snapshot(db)
        if snapshot is None or snapshot.stale:
            return {}
        view = market_view(snapshot)
        cost = regression_cost(view.market, self.regression)
        change = snapshot.adjustment.difficulty_change_pct if snapshot.adjustment else None
        stress = stress_value(db, view.market, snapshot.taken_at, self.regression)
        return {str(k): v for k, v in key_values(view.market, cost.usd_per_btc, change, stress).items()}

    async def subscribe_rule(self, chat: Chat, rule: Rule) -> tuple[int, bool]:
        profile = await self.profile(chat)
        keyed = key_rule(rule, profile.machine.j_per_th, profile.operating)
        now = self._stamp()

        def add(db: Connection) -> tuple[int, bool]:
            ref = _ensure_chat(db, chat, now)
            current = self._current_key_values(db).get(str(keyed.key_metric))
            state = initial_state(keyed, current)
            return subscription_repo.add_threshold(db, ref, rule, keyed, state, now), not state.armed

        return await self._store.atomic(add)

    async def subscribe_network(self, chat: Chat) -> bool:
        profile = await self.profile(chat)
        keyed = margin_warning_rule(profile.machine.j_per_th, profile.operating)
        now = self._stamp()

        def add(db: Connection) -> bool:
            ref = _ensure_chat(db, chat, now)
            kinds = {s.kind for s in subscription_repo.list_for_chat(db, ref) if s.active}
            if SubscriptionKind.NETWORK in kinds:
                return False
            subscription_repo.add_network(db, ref, now)
            current = self._current_key_values(db).get(str(keyed.key_metric))
            state = initial_state(keyed, current)
            subscription_repo.set_margin_warning(db, ref, MARGIN_WARNING_RULE, keyed, state, now)
            return True

        return await self._store.atomic(add)

    async def subscriptions(self, chat: Chat) -> list[SubscriptionView]:
        def load(db: Connection) -> list[subscription_repo.Subscription]:
            existing = chat_repo.find_chat(db, chat.platform, chat.chat_id)
            return subscription_repo.list_for_chat(db, existing.id) if existing else []

        views = []
        for subscription in await self._store.run(load):
            if subscription.kind is SubscriptionKind.THRESHOLD:
                rule = subscription.rule
                description = describe_rule_in(rule, chat.language) if rule else "rule"
            else:
                description = t(chat.language, f"alerts.kind.{subscription.kind.value}")
            armed = subscription.state.armed if subscription.state else True
            views.append(SubscriptionView(subscription.id, subscription.kind.value, description, armed))
        return views

    async def unsubscribe(self, chat: Chat, subscription_id: int | None) -> int:
        def remove(db: Connection) -> int:
            existing = chat_repo.find_chat(db, chat.platform, chat.chat_id)
            if existing is None:
                return 0
            if subscription_id is None:
                return subscription_repo.remove_all(db, existing.id)
            target = subscription_repo.get_subscription(db, subscription_id)
            if target is not None and target.kind is SubscriptionKind.NETWORK:
                subscription_repo.remove_kind(db, existing.id, SubscriptionKind.MARGIN_WARNING)
            return int(subscription_repo.remove_subscription(db, existing.id, subscription_id))

        return await self._store.atomic(remove)

    async def language(self, chat: Chat) -> str:
        def load(db: Connection) -> str:
            existing = chat_repo.find_chat(db, chat.platform, chat.chat_id)
            return existing.language if existing else DEFAULT_LANGUAGE

        return await self._store.run(load)

    async def daily_rows(self, days: int) -> list[DailyRow]:
        return await self._store.run(daily_window, days)

    async def stress_baseline(self, day: date) -> StressBaseline | NotEnoughHistoryError:
        return await self._store.run(cached_stress_baseline, day)

    async def set_language(self, chat: Chat, language: str) -> None:
        now = self._stamp()

        def save(db: Connection) -> None:
            chat_repo.set_language(db, _ensure_chat(db, chat, now), language)

        await self._store.atomic(save)
