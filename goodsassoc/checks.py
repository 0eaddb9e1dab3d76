"""System checks: every wrong setting is reported at start-up with a clear message.

Ids: goodsassoc.E001 ... for errors, goodsassoc.W001 ... for warnings; the list is in
docs/configuration.md.
"""

from __future__ import annotations

import re
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.dispatch import Signal
from django.utils.module_loading import import_string

from goodsassoc.abstract_models import InteractionKind
from goodsassoc.adapters import ATTRIBUTE_NAMES, AttributeProductAdapter
from goodsassoc.conf import DEFAULTS, SETTINGS_NAME
from goodsassoc.experiments import config_errors

MODEL_LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")
RATE_RE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")
POSITIVE_INTS = ("EVENTS_MAX_BATCH", "ANONYMOUS_COOKIE_AGE", "IMPORT_CHUNK_SIZE", "EVENTS_MAX_CLOCK_SKEW_SECONDS",
                 "SERVED_VERSION_CACHE_SECONDS", "WIDGET_CACHE_SECONDS", "RECENTLY_BOUGHT_DAYS",
                 "TRAINING_WINDOW_DAYS", "NEIGHBOURS", "HOLDOUT_DAYS", "QUALITY_GATE_MIN_QUERIES", "KEEP_VERSIONS",
                 "TASK_SOFT_TIME_LIMIT", "ATTRIBUTION_WINDOW_HOURS", "FEEDBACK_SUMMARY_DAYS",
                 "INTERACTION_EXPORT_MAX_ROWS", "PRODUCT_CARD_MAX_AGE")
NON_NEGATIVE_INTS = ("WIDGET_LOCAL_CACHE_SECONDS", "WIDGET_LOCAL_CACHE_SIZE")  # 0 switches off
BOOLEANS = ("PRODUCT_CARDS", "WIDGET_PREPARED_QUERY")
MIDDLEWARE_PATH = "goodsassoc.middleware.AnonymousIdMiddleware"


def _error(number: int, msg: str, hint: str | None = None) -> Error:
    return Error(msg, hint=hint, id=f"goodsassoc.E{number:03d}")


def _model_errors(user: dict[str, Any], key: str, number: int, required: bool) -> tuple[list[Error], Any]:
    label = user.get(key)
    if not label:
        if required:
            return [_error(number, f"GOODSASSOC['{key}'] is not set.",
                           "Name your product model, e.g. 'catalogue.Product'.")], None
        return [], None
    if not isinstance(label, str) or not MODEL_LABEL_RE.match(label):
        return [_error(number, f"GOODSASSOC['{key}'] = {label!r} is not of the form 'app_label.ModelName'.")], None
    try:
        return [], apps.get_model(label)
    except LookupError:
        return [_error(number, f"GOODSASSOC['{key}'] = {label!r} names no installed model.",
                       "Check the app label and the model name, and that the app is in INSTALLED_APPS.")], None


def _has_attribute(model: Any, name: str) -> bool:
    try:
        model._meta.get_field(name)
        return True
    except Exception:
        return hasattr(model, name)


def _reads_attribute_paths(user: dict[str, Any]) -> bool:
    adapter = user.get("PRODUCT_ADAPTER", DEFAULTS["PRODUCT_ADAPTER"])
    try:
        adapter_class = import_string(adapter) if isinstance(adapter, str) else adapter
        return isinstance(adapter_class, type) and issubclass(adapter_class, AttributeProductAdapter)
    except ImportError:
        return False  # reported as E005


def _attribute_errors(user: dict[str, Any], product_model: Any) -> list[Error]:
    attributes = user.get("PRODUCT_ATTRIBUTES", {})
    if not isinstance(attributes, dict):
        return [_error(6, "GOODSASSOC['PRODUCT_ATTRIBUTES'] must be a dict of attribute paths.")]
    if _reads_attribute_paths(user):  # such an adapter reads the default paths too (title: "name", ...)
        attributes = {**DEFAULTS["PRODUCT_ATTRIBUTES"], **attributes}
    errors = []
    for name, path in attributes.items():
        if name not in ATTRIBUTE_NAMES:
            errors.append(_error(6, f"GOODSASSOC['PRODUCT_ATTRIBUTES'] has unknown key {name!r}.",
                                 f"Known keys: {', '.join(ATTRIBUTE_NAMES)}."))
        elif path is not None and not isinstance(path, str):
            errors.append(_error(6, f"GOODSASSOC['PRODUCT_ATTRIBUTES'][{name!r}] must be a string path or None."))
        elif path and product_model is not None and not _has_attribute(product_model, path.split("__")[0]):
            errors.append(_error(
                6, f"GOODSASSOC['PRODUCT_ATTRIBUTES'][{name!r}] = {path!r}: "
                   f"{product_model.__name__} has no field or attribute {path.split('__')[0]!r}."))
    return errors


def _signal_errors(specs: Any) -> list[Error]:
    if not isinstance(specs, (list, tuple)):
        return [_error(7, "GOODSASSOC['SIGNALS'] must be a list of dicts.")]
    errors = []
    for number, spec in enumerate(specs):
        where = f"GOODSASSOC['SIGNALS'][{number}]"
        if not isinstance(spec, dict) or "signal" not in spec or "kind" not in spec:
            errors.append(_error(7, f"{where} must be a dict with at least 'signal' and 'kind'."))
            continue
        try:
            signal = import_string(spec["signal"])
        except ImportError as exc:
            errors.append(_error(7, f"{where}['signal'] = {spec['signal']!r} cannot be imported: {exc}."))
        else:
            if not isinstance(signal, Signal):
                errors.append(_error(7, f"{where}['signal'] = {spec['signal']!r} is not a Django Signal."))
        if spec["kind"] not in InteractionKind.values:
            errors.append(_error(7, f"{where}['kind'] = {spec['kind']!r} is not an interaction kind.",
                                 f"Use one of: {', '.join(InteractionKind.values)}."))
        if "events" in spec:
            try:
                import_string(spec["events"])
            except ImportError as exc:
                errors.append(_error(7, f"{where}['events'] = {spec['events']!r} cannot be imported: {exc}."))
        if "options" in spec and not isinstance(spec["options"], dict):
            errors.append(_error(7, f"{where}['options'] must be a dict."))
    return errors


def _value_errors(user: dict[str, Any]) -> list[Error]:
    errors = []
    weights = user.get("KIND_WEIGHTS", {})
    if not isinstance(weights, dict):
        errors.append(_error(8, "GOODSASSOC['KIND_WEIGHTS'] must be a dict of kind -> weight."))
    else:
        for kind, weight in weights.items():
            if kind not in InteractionKind.values:
                errors.append(_error(8, f"GOODSASSOC['KIND_WEIGHTS'] has unknown kind {kind!r}."))
            elif isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                errors.append(_error(8, f"GOODSASSOC['KIND_WEIGHTS'][{kind!r}] must be a number >= 0."))
    for key in POSITIVE_INTS:
        value = user.get(key, DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            errors.append(_error(9, f"GOODSASSOC['{key}'] = {value!r} must be a positive integer."))
    for key in NON_NEGATIVE_INTS:
        value = user.get(key, DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            errors.append(_error(9, f"GOODSASSOC['{key}'] = {value!r} must be an integer, 0 or more (0: off)."))
    rate = user.get("EVENTS_THROTTLE_RATE", DEFAULTS["EVENTS_THROTTLE_RATE"])
    if rate is not None and (not isinstance(rate, str) or not RATE_RE.match(rate)):
        errors.append(_error(9, f"GOODSASSOC['EVENTS_THROTTLE_RATE'] = {rate!r} is not a rate like '600/min'.",
                             "Use None to switch throttling off."))
    if not isinstance(user.get("USER_ID_ATTRIBUTE", "pk"), str):
        errors.append(_error(10, "GOODSASSOC['USER_ID_ATTRIBUTE'] must be an attribute name."))
    key = user.get("PSEUDONYM_KEY")
    if key is not None and (not isinstance(key, (str, bytes)) or len(key) < 32):
        errors.append(_error(11, "GOODSASSOC['PSEUDONYM_KEY'] must be a string of at least 32 characters.",
                             "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"))
    errors += _crontab_errors(user, "RETRAIN_CRONTAB", 13)
    for name in BOOLEANS:
        if not isinstance(user.get(name, True), bool):
            errors.append(_error(20, f"GOODSASSOC['{name}'] must be True or False."))
    errors += _crontab_errors(user, "PRODUCT_CARDS_CRONTAB", 19)
    price_format = user.get("PRICE_FORMAT", DEFAULTS["PRICE_FORMAT"])
    if not _formats_a_number(price_format):
        errors.append(_error(21, f"GOODSASSOC['PRICE_FORMAT'] = {price_format!r} cannot format a price.",
                             "A str.format pattern with one placeholder for the number, e.g. '${:,.2f}'."))
    tolerance = user.get("QUALITY_GATE_TOLERANCE", DEFAULTS["QUALITY_GATE_TOLERANCE"])
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 1:
        errors.append(_error(14, f"GOODSASSOC['QUALITY_GATE_TOLERANCE'] = {tolerance!r} must be a number in [0, 1)."))
    errors += _feedback_errors(user)
    samesite = user.get("ANONYMOUS_COOKIE_SAMESITE", "Lax")
    if samesite not in ("Lax", "Strict", "None", False):
        errors.append(_error(12, f"GOODSASSOC['ANONYMOUS_COOKIE_SAMESITE'] = {samesite!r} must be "
                                 "'Lax', 'Strict', 'None' or False."))
    return errors


def _formats_a_number(pattern: Any) -> bool:
    if not isinstance(pattern, str):
        return False
    try:
        pattern.format(1234.5)
    except (ValueError, IndexError, KeyError):
        return False
    return True


def _crontab_errors(user: dict[str, Any], key: str, number: int) -> list[Error]:
    crontab = user.get(key, DEFAULTS[key])
    if crontab is None or (isinstance(crontab, str) and len(crontab.split()) == 5):
        return []
    return [_error(number, f"GOODSASSOC['{key}'] = {crontab!r} is not a crontab like {DEFAULTS[key]!r}.",
                   "Five fields: minute hour day-of-month month day-of-week; None for no schedule.")]


def _feedback_errors(user: dict[str, Any]) -> list[Error]:
    errors = []
    weight = user.get("FEEDBACK_WEIGHT", DEFAULTS["FEEDBACK_WEIGHT"])
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
        errors.append(_error(15, f"GOODSASSOC['FEEDBACK_WEIGHT'] = {weight!r} must be a number >= 0.",
                             "0 means credited add-to-carts and purchases weigh as much as any other."))
    errors += _crontab_errors(user, "FEEDBACK_SUMMARY_CRONTAB", 16)
    if not isinstance(user.get("FEEDBACK_TRACKING", True), bool):
        errors.append(_error(17, "GOODSASSOC['FEEDBACK_TRACKING'] must be True or False."))
    for problem in config_errors(user.get("AB_TESTS", {})):
        errors.append(_error(18, f"GOODSASSOC['AB_TESTS']{problem if problem.startswith('[') else ' ' + problem}.",
                             "See docs/feedback.md for the format of A/B tests."))
    return errors


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    user = getattr(settings, SETTINGS_NAME, None)
    if user is None:
        return [_error(1, "The GOODSASSOC setting is missing.",
                       "Add GOODSASSOC = {'PRODUCT_MODEL': 'app_label.Product'} to your settings.")]
    if not isinstance(user, dict):
        return [_error(1, f"GOODSASSOC must be a dict, not {type(user).__name__}.")]
    errors: list[Error | Warning] = []
    unknown = sorted(set(user) - set(DEFAULTS))
    if unknown:
        errors.append(_error(2, f"GOODSASSOC has unknown key(s): {', '.join(unknown)}.",
                             "See docs/configuration.md for the settings goodsassoc reads."))
    product_errors, product_model = _model_errors(user, "PRODUCT_MODEL", 3, required=True)
    shop_errors, _ = _model_errors(user, "SHOP_MODEL", 4, required=False)
    errors += product_errors + shop_errors
    adapter = user.get("PRODUCT_ADAPTER", DEFAULTS["PRODUCT_ADAPTER"])
    try:
        adapter_class = import_string(adapter) if isinstance(adapter, str) else adapter
        if not callable(getattr(adapter_class, "describe", None)):
            errors.append(_error(5, f"GOODSASSOC['PRODUCT_ADAPTER'] = {adapter!r} is not a product adapter.",
                                 "Subclass goodsassoc.adapters.ProductAdapter."))
    except ImportError as exc:
        errors.append(_error(5, f"GOODSASSOC['PRODUCT_ADAPTER'] = {adapter!r} cannot be imported: {exc}."))
    errors += _attribute_errors(user, product_model)
    errors += _signal_errors(user.get("SIGNALS", []))
    errors += _value_errors(user)
    if not user.get("PSEUDONYM_KEY"):
        errors.append(Warning(
            "GOODSASSOC['PSEUDONYM_KEY'] is not set; user pseudonyms are derived from SECRET_KEY, "
            "so rotating SECRET_KEY would split every shopper's history.",
            hint="Set a secret of its own, e.g. from an environment variable.", id="goodsassoc.W001"))
    if MIDDLEWARE_PATH not in getattr(settings, "MIDDLEWARE", []):
        errors.append(Warning(
            f"{MIDDLEWARE_PATH} is not in MIDDLEWARE; shoppers who are not logged in get no lasting anonymous id.",
            hint="Add it after django.contrib.auth.middleware.AuthenticationMiddleware.", id="goodsassoc.W002"))
    return errors
