"""What every model's dataclass config shares: a plain dict for a checkpoint, and back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any, TypeVar

__all__ = ["Config"]

C = TypeVar("C", bound="Config")


class Config:
    """Base of the configs (``@dataclass class VAEConfig(Config)``): ``to_dict`` and ``from_dict`` round-trip."""

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain numbers, strings and lists: what a checkpoint stores."""
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
        """The config stored by :meth:`to_dict` (a checkpoint turns tuples into lists: they come back as tuples)."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"{cls.__name__} has no field {', '.join(unknown)}; fields: {', '.join(sorted(names))}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
