"""The engine imports no Django / Celery / DRF, and the serving side never loads TensorFlow."""

import subprocess
import sys

FORBIDDEN = ("django", "celery", "rest_framework")
SERVING = ["goodsassoc.engine", "goodsassoc.engine.scoring", "goodsassoc.engine.artifact",
           "goodsassoc.engine.publish", "goodsassoc.engine.data", "goodsassoc.engine.metrics"]
ALL = SERVING + ["goodsassoc.engine.peers", "goodsassoc.engine.protocol", "goodsassoc.engine.evaluate",
                 "goodsassoc.engine.features", "goodsassoc.engine.recommender", "goodsassoc.engine.train",
                 "goodsassoc.engine.completejourney", "goodsassoc.engine.model"]


def _loaded_after(modules: list[str]) -> set[str]:
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return {m.split(".")[0] for m in out.stdout.split()}


def test_serving_modules_load_neither_tensorflow_nor_django():
    loaded = _loaded_after(SERVING)
    assert not loaded & {*FORBIDDEN, "tensorflow", "keras"}


def test_training_modules_do_not_load_django_or_celery():
    assert not _loaded_after(ALL) & set(FORBIDDEN)


def test_tensorflow_start_up_notices_stay_off_stderr():
    """Training prints its own progress; TensorFlow's C++ banners (oneDNN, CPU features) are dropped."""
    code = ("import sys\nfrom goodsassoc.engine.train import _configure_tf\n_configure_tf(1, 0)\n"
            "print('still writable', file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert "still writable" in out.stderr
    assert "oneDNN" not in out.stderr and "absl::InitializeLog" not in out.stderr


def test_other_stderr_output_during_the_import_is_kept():
    """Only the known banners are dropped: anything else written to fd 2 meanwhile comes back."""
    code = ("import os\nfrom goodsassoc.engine.train import _banners_dropped\nwith _banners_dropped():\n"
            "    os.write(2, b'I0000 port.cc] oneDNN custom operations are on.\\nreal trouble\\n')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert "real trouble" in out.stderr and "oneDNN" not in out.stderr
