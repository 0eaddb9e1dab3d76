"""pip install goodsassoc into a clean virtualenv and add it to a brand-new Django project,
exactly as the README says; then migrate and record interactions."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

MODELS = '''
from django.db import models


class Item(models.Model):
    code = models.SlugField(primary_key=True)
    title = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=8, decimal_places=2)
'''

SETTINGS_TAIL = '''
INSTALLED_APPS += ["catalog", "rest_framework", "goodsassoc"]
MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
                  "goodsassoc.middleware.AnonymousIdMiddleware")
GOODSASSOC = {
    "PRODUCT_MODEL": "catalog.Item",
    "PRODUCT_ATTRIBUTES": {"title": "title", "price": "price"},
    "PSEUDONYM_KEY": "a-long-random-secret-for-pseudonyms-0123456789",
}
'''

SCRIPT = '''
import json
import django
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()  # lets the test client's host name through ALLOWED_HOSTS
from django.contrib.auth.models import User
from django.test import Client
from catalog.models import Item
from goodsassoc.models import Interaction
from goodsassoc.recording import record

Item.objects.create(code="mug", title="Mug", price="7.50")
Item.objects.create(code="tea", title="Tea", price="4.00")
user = User.objects.create_user("zoe", password="pw")
record(user, Item.objects.get(code="mug"), "purchase", quantity=2, basket="o-1")
response = Client().post("/goodsassoc/api/events/", json.dumps({"events": [
    {"event_id": "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b", "kind": "view", "product": "tea"}]}),
    content_type="application/json")
assert response.status_code == 201, response.content
bad = Client().post("/goodsassoc/api/events/", json.dumps({"events": [
    {"event_id": "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633c", "kind": "view", "product": "cake"}]}),
    content_type="application/json")
assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "product", bad.content
print("interactions:", sorted(Interaction.objects.values_list("kind", "product_key")))
'''


def run(*args, cwd, env=None):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(map(str, args))}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.mark.slow
def test_pip_install_into_a_fresh_project(tmp_path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv), cwd=tmp_path)
    python = str(venv / "bin" / "python")
    run(python, "-m", "pip", "install", "--quiet", f"{ROOT}[api]", cwd=tmp_path)
    # The clean environment has goodsassoc and its declared dependencies, nothing from this checkout.
    location = run(python, "-c", "import goodsassoc, sys; print(goodsassoc.__file__)", cwd=tmp_path)
    assert str(ROOT) not in location
    run(str(venv / "bin" / "django-admin"), "startproject", "hostshop", cwd=tmp_path)
    project = tmp_path / "hostshop"
    run(python, "manage.py", "startapp", "catalog", cwd=project)
    (project / "catalog" / "models.py").write_text(MODELS)
    settings = project / "hostshop" / "settings.py"
    settings.write_text(settings.read_text() + SETTINGS_TAIL)
    urls = project / "hostshop" / "urls.py"
    text = urls.read_text().replace("from django.urls import path", "from django.urls import include, path")
    mount = '\n    path("goodsassoc/", include("goodsassoc.urls")),'
    urls.write_text(text.replace("urlpatterns = [", "urlpatterns = [" + mount))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "PYTHON"))}
    env["DJANGO_SETTINGS_MODULE"] = "hostshop.settings"
    run(python, "manage.py", "makemigrations", "catalog", cwd=project, env=env)
    run(python, "manage.py", "check", "--fail-level", "WARNING", cwd=project, env=env)
    run(python, "manage.py", "migrate", cwd=project, env=env)
    (project / "use_goodsassoc.py").write_text(textwrap.dedent(SCRIPT))
    output = run(python, "use_goodsassoc.py", cwd=project, env=env)
    assert "interactions: [('purchase', 'mug'), ('view', 'tea')]" in output
