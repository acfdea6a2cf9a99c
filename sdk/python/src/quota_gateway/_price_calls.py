"""The catalog and the project's prices as `Call`s. Reads repeat harmlessly, and so do a
price's `PUT` (it sets the price) and `DELETE` (a repeat answers `price_not_found`, which
the first one made true). A model's name (`[A-Za-z0-9_.:/-]`, 1 to 128 bytes) is one path
segment, so a `/` in it is sent encoded."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Union

from . import types as t
from ._calls import nothing, one, page, seg
from ._core import Call
from ._load import dump

# A tier or batch prices as the dataclass, or as the wire's JSON object.
Tier = Union[t.LongContextPrices, Mapping[str, Any], None]
Batch = Union[t.BatchPrices, Mapping[str, Any], None]


def catalog() -> Call[t.Catalog]:
    return Call("GET", "/v1/catalog", one(t.Catalog))


def list_prices() -> Call[t.Page[t.Price]]:
    return Call("GET", "/v1/prices", page(t.Price))


def get(model: str) -> Call[t.Price]:
    return Call("GET", f"/v1/prices/{seg(model)}", one(t.Price))


def put(model: str, input_per_million: float, output_per_million: float,
        cached_input_per_million: Optional[float], cache_write_per_million: Optional[float],
        per_image: Optional[Mapping[str, float]], audio: Optional[Mapping[str, Optional[float]]] = None,
        long_context: Tier = None, batch: Batch = None) -> Call[t.Price]:
    body: Dict[str, Any] = {"inputPerMillion": input_per_million, "outputPerMillion": output_per_million}
    if cached_input_per_million is not None:
        body["cachedInputPerMillion"] = cached_input_per_million
    if cache_write_per_million is not None:
        body["cacheWritePerMillion"] = cache_write_per_million
    if per_image is not None:
        body["perImage"] = dict(per_image)
    # Audio's prices by their wire names, those given.
    body.update({name: value for name, value in (audio or {}).items() if value is not None})
    for name, prices in (("longContext", long_context), ("batch", batch)):
        if prices is not None:
            body[name] = dump(prices)
    return Call("PUT", f"/v1/prices/{seg(model)}", one(t.Price), body)


def delete(model: str) -> Call[None]:
    return Call("DELETE", f"/v1/prices/{seg(model)}", nothing)
