"""A/B tests: shoppers split deterministically between arms, and each arm judged in plain words.

A shopper's arm is a hash of the test's name and the shopper's key (the user pseudonym, else
the anonymous id), so it stays the same on every page and every process, without storage.
An arm serves the model (default), the popularity fallbacks only (``"strategy": "popular"``)
or a named model version that is still kept (``"model_version": 12``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

from goodsassoc.conf import ga_settings
from goodsassoc.privacy import Identity

BUCKETS = 10_000
WIDGETS = ("related", "cart", "shops")
ARM_OPTIONS = {"share", "strategy", "model_version"}
TEST_OPTIONS = {"arms", "widgets", "active", "description"}
STRATEGIES = ("model", "popular")


@dataclass(frozen=True)
class Arm:
    """The arm a shopper is in for a widget: its label ``test:arm`` and what it serves."""

    label: str = ""
    strategy: str = "model"
    model_version: int | None = None


NO_ARM = Arm()


def config_errors(tests: Any) -> list[str]:
    """Everything wrong with an AB_TESTS value, in words (used by the system check)."""
    if not isinstance(tests, dict):
        return ["must be a dict of test name -> test"]
    errors: list[str] = []
    claimed: dict[str, str] = {}
    for name, test in tests.items():
        where = f"[{name!r}]"
        if not isinstance(name, str) or not name or ":" in name:
            errors.append(f"{where}: a test name must be a non-empty string without ':'")
        if not isinstance(test, dict):
            errors.append(f"{where} must be a dict")
            continue
        for key in sorted(set(test) - TEST_OPTIONS):
            errors.append(f"{where} has unknown key {key!r}; expected some of {sorted(TEST_OPTIONS)}")
        widgets = test.get("widgets", list(WIDGETS))
        if not isinstance(widgets, (list, tuple)) or not widgets or any(w not in WIDGETS for w in widgets):
            errors.append(f"{where}['widgets'] must be a non-empty list of {', '.join(WIDGETS)}")
            widgets = []
        arms = test.get("arms")
        if not isinstance(arms, dict) or len(arms) < 2:
            errors.append(f"{where}['arms'] must be a dict of at least two arms")
            continue
        for arm_name, arm in arms.items():
            at = f"{where}['arms'][{arm_name!r}]"
            if not isinstance(arm, dict):
                errors.append(f"{at} must be a dict")
                continue
            for key in sorted(set(arm) - ARM_OPTIONS):
                errors.append(f"{at} has unknown key {key!r}; expected some of {sorted(ARM_OPTIONS)}")
            share = arm.get("share")
            if isinstance(share, bool) or not isinstance(share, (int, float)) or share <= 0:
                errors.append(f"{at}['share'] must be a positive number (shares are relative)")
            if arm.get("strategy", "model") not in STRATEGIES:
                errors.append(f"{at}['strategy'] must be one of {', '.join(STRATEGIES)}")
            version = arm.get("model_version")
            if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version <= 0):
                errors.append(f"{at}['model_version'] must be a model version id")
        if test.get("active", True):
            for widget in widgets:
                if widget in claimed:
                    errors.append(f"{where} and [{claimed[widget]!r}] are both active on the {widget} widget")
                claimed[widget] = name
    return errors


def bucket(test: str, shopper: str) -> int:
    """The shopper's stable bucket in [0, BUCKETS) for a test."""
    digest = hashlib.sha256(f"goodsassoc-ab:{test}:{shopper}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def choose(test: str, arms: dict[str, dict], shopper: str) -> str:
    """The arm name for a shopper: cumulative shares over the stable bucket."""
    total = float(sum(arm["share"] for arm in arms.values()))
    point = (bucket(test, shopper) + 0.5) / BUCKETS * total
    running = 0.0
    names = list(arms)
    for name in names:
        running += arms[name]["share"]
        if point < running:
            return name
    return names[-1]


def active_test(widget: str) -> tuple[str, dict] | None:
    for name, test in (ga_settings.AB_TESTS or {}).items():
        if test.get("active", True) and widget in test.get("widgets", WIDGETS):
            return name, test
    return None


def arm_for(widget: str, identity: Identity | None) -> Arm:
    """The arm of the shopper behind ``identity`` for ``widget``; NO_ARM outside any test."""
    found = active_test(widget) if ga_settings.AB_TESTS else None
    shopper = (identity.user_pseudonym or identity.anonymous_id) if identity else ""
    if found is None or not shopper:
        return NO_ARM
    name, test = found
    arm_name = choose(name, test["arms"], shopper)
    options = test["arms"][arm_name]
    return Arm(f"{name}:{arm_name}", options.get("strategy", "model"), options.get("model_version"))


# --- judging an arm ---------------------------------------------------------------------------


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a rate (sound for small counts and rates near 0)."""
    if trials <= 0:
        return 0.0, 0.0
    p = min(successes, trials) / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_p(s1: int, n1: int, s2: int, n2: int) -> float:
    """Two-sided p-value that two rates differ (pooled z-test)."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    s1, s2 = min(s1, n1), min(s2, n2)
    pooled = (s1 + s2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = abs(s1 / n1 - s2 / n2) / se
    return math.erfc(z / math.sqrt(2))


def verdict(metric: str, control: str, arm: str, c: tuple[int, int], a: tuple[int, int],
            min_trials: int = 100) -> str:
    """A plain-words verdict comparing an arm's rate with the control's."""
    (cs, cn), (as_, an) = c, a
    if min(cn, an) < min_trials:
        return (f"Not enough data yet: {min(cn, an)} widgets shown in the smaller arm; "
                f"wait for at least {min_trials} in each.")
    rc, ra = cs / cn, as_ / an
    p = two_proportion_p(cs, cn, as_, an)
    change = (ra - rc) / rc * 100 if rc else float("inf")
    if p >= 0.05:
        return (f"No clear difference: {arm} {ra:.2%} vs {control} {rc:.2%} {metric} "
                f"(p = {p:.2f}); keep the test running or stop it.")
    better = "better" if ra > rc else "worse"
    size = f"{abs(change):.0f}%" if math.isfinite(change) else "infinitely"
    return (f"{arm} does {better} than {control}: {metric} {ra:.2%} vs {rc:.2%}, {size} "
            f"{'higher' if ra > rc else 'lower'} (95% confidence, p = {p:.3f}).")
