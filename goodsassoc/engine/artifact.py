"""The model artifact: a versioned, self-describing directory written atomically and verified on load.

Layout (``FORMAT`` version ``VERSION``)::

    manifest.json   format, version, created, counts, training record, tuned weights and metrics,
                    and the size and sha256 of every other file
    arrays.npz      vocabularies, neighbour / repeat / taste / shop tables, item vectors (no pickles)
    items.parquet   item attributes aligned with the item vocabulary
    popular.parquet popular items overall, per category and per shop (fallbacks)

It is written into a temporary sibling directory, fsynced, then renamed into place, so a reader
sees the old artifact or the new one, never a half-written one; ``load`` refuses any artifact whose
manifest is missing, of another version, or whose files do not match their recorded size and hash.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from goodsassoc.engine.scoring import ServingTables, Weights

FORMAT = "goodsassoc-engine-artifact"
VERSION = 1
_SPARSE = ("neighbours", "repeat", "repeat_recent", "taste", "shop_used")
_DENSE = ("item_baskets", "item_recent", "shop_affinity", "shop_baskets")
_OPTIONAL = ("item_kind",)  # dense arrays an older artifact may lack (then None)
_IDS = ("item_ids", "user_ids", "shop_ids")


class ArtifactError(Exception):
    """The artifact is missing, incomplete, of another version, or does not match its checksums."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_write(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def save(fitted, directory: str | Path, extra: dict | None = None) -> Path:
    """Write ``fitted`` (a ``recommender.Fitted``) to ``directory`` atomically; return the path."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the artifact is read by the app's other processes
        t = fitted.tables
        arrays: dict[str, np.ndarray] = {k: np.asarray(getattr(t, k)).astype(str) for k in _IDS}
        for k in _DENSE:
            arrays[k] = np.asarray(getattr(t, k))
        for k in _OPTIONAL:
            if getattr(t, k, None) is not None:
                arrays[k] = np.asarray(getattr(t, k))
        for k in _SPARSE:
            m = getattr(t, k).tocsr()
            arrays[f"{k}.data"], arrays[f"{k}.indices"] = m.data, m.indices
            arrays[f"{k}.indptr"], arrays[f"{k}.shape"] = m.indptr, np.asarray(m.shape)
        for k, v in (t.ranker or {}).items():
            arrays[f"ranker.{k}"] = np.asarray(v)
        arrays["embeddings"] = fitted.embeddings
        for k, v in fitted.neighbour_evidence.items():
            arrays[f"evidence.{k}"] = v
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        _fsync_write(tmp / "arrays.npz", buf.getvalue())
        for name, frame in (("items", fitted.items), ("popular", fitted.popular)):
            buf = io.BytesIO()
            frame.to_parquet(buf, index=False)
            _fsync_write(tmp / f"{name}.parquet", buf.getvalue())
        files = {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in sorted(tmp.iterdir())}
        manifest = {
            "format": FORMAT, "version": VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "counts": fitted.counts, "weights": asdict(t.weights), "tuning": fitted.tuning,
            "training": fitted.training, "k": int(np.diff(t.neighbours.indptr).max(initial=0)),
            "files": files, **(extra or {}),
        }
        _fsync_write(tmp / "manifest.json", json.dumps(manifest, indent=2, default=_json_default).encode())
        old = None
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old-{os.getpid()}-{time.time_ns()}")
            os.replace(directory, old)
        os.replace(tmp, directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def read_manifest(directory: str | Path) -> dict:
    """The verified manifest of an artifact (raises ArtifactError if anything does not match)."""
    directory = Path(directory)
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"no readable manifest in {directory}: {exc}") from exc
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ArtifactError(f"unsupported artifact {manifest.get('format')} v{manifest.get('version')}")
    for name, meta in manifest.get("files", {}).items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != meta["bytes"] or _sha256(path) != meta["sha256"]:
            raise ArtifactError(f"artifact file {name} is missing, truncated or altered")
    if {"arrays.npz", "items.parquet", "popular.parquet"} - set(manifest.get("files", {})):
        raise ArtifactError("artifact manifest does not list all files")
    return manifest


def load(directory: str | Path) -> tuple[ServingTables, dict]:
    """Load the serving tables (no TensorFlow needed) and the manifest, after verifying every file."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    try:
        with np.load(directory / "arrays.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 - any decoding failure means a bad artifact
        raise ArtifactError(f"cannot read arrays: {exc}") from exc
    kw = {k: arrays[k].astype(object) for k in _IDS}
    kw.update({k: arrays[k] for k in _DENSE})
    kw.update({k: arrays[k] for k in _OPTIONAL if k in arrays})
    for k in _SPARSE:
        kw[k] = sp.csr_matrix((arrays[f"{k}.data"], arrays[f"{k}.indices"], arrays[f"{k}.indptr"]),
                              shape=tuple(arrays[f"{k}.shape"]))
    ranker = {k[len("ranker."):]: v for k, v in arrays.items() if k.startswith("ranker.")}
    kw["ranker"] = ranker or None
    kw["weights"] = weights_of(manifest)
    tables = ServingTables(**kw)
    manifest["_arrays"] = {k: v for k, v in arrays.items() if k == "embeddings" or k.startswith("evidence.")}
    return tables, manifest


def weights_of(manifest: dict) -> Weights:
    """The manifest's blend weights. An artifact written before the TF model's logit entered the
    related-items mixture (no ``tf_log_q``) takes the logit from its training configuration and
    gives the model no share: its ``related_tf`` weighed a cosine, not a probability."""
    names = {f.name for f in fields(Weights)}
    w = {k: v for k, v in manifest["weights"].items() if k in names}
    if "tf_log_q" not in w:
        config = manifest.get("training", {}).get("config", {})
        w["tf_temperature"] = config.get("temperature", Weights.tf_temperature)
        w["tf_log_q"] = config.get("log_q_weight", Weights.tf_log_q)
        w["related_tf"] = 0.0
    return Weights(**w)


def load_frames(directory: str | Path) -> dict[str, pd.DataFrame]:
    """The artifact's item attributes and popular items (verified like ``load``)."""
    directory = Path(directory)
    read_manifest(directory)
    return {n: pd.read_parquet(directory / f"{n}.parquet") for n in ("items", "popular")}
