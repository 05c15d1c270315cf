"""scikit-learn's estimator-parameter protocol without scikit-learn: ``get_params``,
``set_params`` and a ``repr`` of the arguments that differ from their defaults, so that
``sklearn.base.clone`` works on the estimators of this package."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["EstimatorParams"]


class EstimatorParams:
    """Parameters read off ``__init__``'s signature; each is stored under its own name."""

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        """The constructor's arguments by name (sorted, as scikit-learn lists them) → defaults."""
        parameters = inspect.signature(cls.__init__).parameters
        return {name: parameters[name].default for name in sorted(parameters) if name != "self"}

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments by name (``deep`` is accepted for scikit-learn; no
        argument is itself an estimator)."""
        return {name: getattr(self, name) for name in self._defaults()}

    def set_params(self, **params: Any) -> Any:
        """Set constructor arguments by name (checked by the next ``fit``); returns ``self``."""
        known = list(self._defaults())
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError(f"`set_params` accepts only {type(self).__name__}'s arguments {known}, got {unknown}.")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        """``Name(...)`` with the arguments that differ from their defaults."""
        changed = [
            f"{name}={value!r}"
            for (name, default), value in zip(self._defaults().items(), self.get_params().values())
            if repr(value) != repr(default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"
