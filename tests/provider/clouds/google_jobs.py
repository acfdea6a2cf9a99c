"""Google's Gemini API beyond generateContent (placeholder)."""

from __future__ import annotations

from typing import Any, Optional


def find(handler: Any, method: str) -> Optional[Any]:
    return None
