import pytest

from goodsassoc.importing import import_lines
from tests.cj import busy_households, lines_for, load_catalogue
from tests.conftest import clear_caches


@pytest.fixture(autouse=True)
def _cold_cache():
    """Every serving test starts and ends with empty widget caches (shared and in-process)."""
    clear_caches()
    yield
    clear_caches()


@pytest.fixture
def artifact_dir(settings, tmp_path):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "ARTIFACT_DIR": str(tmp_path / "artifacts")}
    return tmp_path / "artifacts"


@pytest.fixture
def shop_history(db):
    """40 busy households' order history, imported into the test host."""
    table = lines_for(busy_households(40))
    load_catalogue(table)
    report, _ = import_lines(table)
    assert report.stored > 10_000
    return table
