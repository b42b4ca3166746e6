"""Fitted forecast models, kept in memory and optionally on disk, both bounded.

Memory holds the ``max_models`` most recently used; the folder (one pickle per
series, written atomically) holds at most ``max_files``, the oldest removed
first, so a restarted process or a second API process on the same data dir
forecasts without refitting. Only Wattline writes the folder (it lives in the
data dir): pickles are never read from anywhere else.
"""

from __future__ import annotations

import hashlib
import pickle
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from wattline.intelligence.forecast import BOOSTED, SEASONAL_NAIVE, Model

DEFAULT_MAX_MODELS = 256
# A boosted model pickles to ~200 kB: 2,000 files are under half a gigabyte.
DEFAULT_MAX_FILES = 2_000


class ModelCache:
    def __init__(
        self,
        directory: Path | None = None,
        max_models: int = DEFAULT_MAX_MODELS,
        max_files: int = DEFAULT_MAX_FILES,
    ) -> None:
        if max_models < 1 or max_files < 1:
            raise ValueError("a model cache holds at least one model")
        self._directory = directory
        self._max_models = max_models
        self._max_files = max_files
        self._lock = threading.Lock()
        self._models: OrderedDict[str, Model] = OrderedDict()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        with self._lock:
            return len(self._models)

    def _path(self, key: str) -> Path | None:
        if self._directory is None:
            return None
        return self._directory / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".pickle")

    def get(self, key: str) -> Model | None:
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
                return model
        path = self._path(key)
        if path is None or not path.exists():
            return None
        try:
            with path.open("rb") as file:
                loaded = pickle.load(file)  # noqa: S301 - written by this class, in the data dir
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            return None  # half-written by a crash, or from an older Wattline: refit
        if not isinstance(loaded, Model) or loaded.version not in (BOOSTED, SEASONAL_NAIVE):
            return None  # a model this Wattline no longer makes: refit
        self._remember(key, loaded)
        return loaded

    def put(self, key: str, model: Model) -> None:
        self._remember(key, model)
        path = self._path(key)
        if path is None:
            return
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as file:
            pickle.dump(model, file, protocol=pickle.HIGHEST_PROTOCOL)
        Path(file.name).replace(path)
        self._trim_files()

    def _remember(self, key: str, model: Model) -> None:
        with self._lock:
            self._models[key] = model
            self._models.move_to_end(key)
            while len(self._models) > self._max_models:
                self._models.popitem(last=False)

    def _trim_files(self) -> None:
        assert self._directory is not None
        files = sorted(self._directory.glob("*.pickle"), key=lambda p: p.stat().st_mtime)
        for old in files[: max(0, len(files) - self._max_files)]:
            old.unlink(missing_ok=True)
