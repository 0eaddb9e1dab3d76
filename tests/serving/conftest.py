import pytest

from goodsassoc.importing import import_lines
from tests.cj import busy_households, lines_for, load_catalogue

# Small but real: the engine trains briefly on a few dozen households of Complete Journey.
FAST_TRAINING = {"epochs": 2, "pairs_per_epoch": 60_000, "dim": 32, "tune_sample": 800}


@pytest.fixture
def fast_training(settings, tmp_path):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "TRAINING_OPTIONS": FAST_TRAINING,
                           "ARTIFACT_DIR": str(tmp_path / "artifacts"), "QUALITY_GATE_MIN_QUERIES": 50}
    return settings.GOODSASSOC


@pytest.fixture
def shop_history(db):
    """40 busy households' order history, imported into the test host."""
    table = lines_for(busy_households(40))
    load_catalogue(table)
    report, _ = import_lines(table)
    assert report.stored > 10_000
    return table
