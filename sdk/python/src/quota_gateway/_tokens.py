"""A maintained tokenizer for the model, where one is installed and usable offline.

tiktoken counts OpenAI's models exactly, but its encodings are files it downloads once and then
caches; where it cannot download them (no network) it is treated as absent, and so is a model
it does not know. Each encoding is loaded once per process, on a thread of its own, and a call
waits for it at most `LOAD_SECONDS`, so a download that hangs never holds a call: that call
counts by bytes instead (`_estimate.py`).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, Callable, Dict, Optional

LOAD_SECONDS = 2.0

Count = Callable[[str], int]

_lock = threading.Lock()
# Per encoding name: its counter once loaded, None when it cannot be loaded.
_loaded: Dict[str, Optional[Count]] = {}
_loading: Dict[str, threading.Event] = {}


def _tiktoken() -> Any:
    try:
        return importlib.import_module("tiktoken")
    except ImportError:
        return None


def _load(tiktoken: Any, name: str, done: threading.Event) -> None:
    count: Optional[Count] = None
    try:
        encoding = tiktoken.get_encoding(name)
        # Text that spells a special token is plain text to the provider too.
        count = lambda text: len(encoding.encode(text, disallowed_special=()))  # noqa: E731
        count("probe")
    except Exception:  # noqa: BLE001 - any failure to load (no network, no cache) means absent
        count = None
    with _lock:
        _loaded[name] = count
    done.set()


def counter(model: str) -> Optional[Count]:
    """A function counting the tokens of a text for `model`, or None when there is none."""
    tiktoken = _tiktoken()
    if tiktoken is None or not model:
        return None
    try:
        name = tiktoken.encoding_name_for_model(model)
    except Exception:  # noqa: BLE001 - a model tiktoken does not know (KeyError), an old tiktoken
        return None
    with _lock:
        if name in _loaded:
            return _loaded[name]
        done = _loading.get(name)
        if done is None:
            done = _loading[name] = threading.Event()
            threading.Thread(target=_load, args=(tiktoken, name, done), name="quota-gateway-tokenizer",
                             daemon=True).start()
    done.wait(LOAD_SECONDS)
    with _lock:
        return _loaded.get(name)
