"""``@record``: a frozen dataclass for type checkers, a light class builder at run time.

``dataclasses`` imports ``inspect`` (and with it ``ast``, ``dis``, ``tokenize``): about a
third of a bare interpreter's start-up, for a command (``tau status``) whose whole budget
is three bare start-ups. Type checkers see a frozen dataclass (``dataclass_transform``), so
construction is checked as for any dataclass; at run time this builds the same
``__init__`` (positional or keyword, defaults from class attributes), ``__eq__``,
``__repr__`` and refuses assignment. A test checks both behave alike.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar, dataclass_transform

    _T = TypeVar("_T")

    @dataclass_transform(frozen_default=True)
    def record(cls: type[_T]) -> type[_T]:
        """Make ``cls`` a frozen record of its annotated fields."""
        ...
else:
    _MISSING = object()

    def _fields(cls):
        names = []
        for klass in reversed(cls.__mro__):
            # inspect.get_annotations would load the module this one exists to avoid.
            for name in klass.__dict__.get("__annotations__", {}):  # noqa: RUF063
                if name not in names:
                    names.append(name)
        return tuple(names)

    def record(cls):
        """Make ``cls`` a frozen record of its annotated fields (see the module's docstring)."""
        fields = _fields(cls)
        defaults = {name: cls.__dict__[name] for name in fields if name in cls.__dict__}

        def __init__(self, *args, **kwargs):
            if len(args) > len(fields):
                raise TypeError(f"{cls.__name__} takes {len(fields)} fields")
            values = dict(zip(fields, args, strict=False))
            for name, value in kwargs.items():
                if name not in fields or name in values:
                    raise TypeError(f"{cls.__name__}: unexpected or repeated field {name!r}")
                values[name] = value
            for name in fields:
                value = values.get(name, defaults.get(name, _MISSING))
                if value is _MISSING:
                    raise TypeError(f"{cls.__name__}: missing field {name!r}")
                object.__setattr__(self, name, value)

        def __setattr__(self, name, value):
            raise AttributeError(f"{cls.__name__} is frozen")

        def __eq__(self, other):
            if other.__class__ is not self.__class__:
                return NotImplemented
            return all(getattr(self, n) == getattr(other, n) for n in fields)

        def __repr__(self):
            inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in fields)
            return f"{cls.__name__}({inner})"

        cls.__init__, cls.__setattr__, cls.__eq__, cls.__repr__ = (
            __init__,
            __setattr__,
            __eq__,
            __repr__,
        )
        cls.__hash__ = None
        cls.__dataclass_fields__ = dict.fromkeys(fields)  # what ``fields_of`` reads
        return cls


def fields_of(instance: object) -> tuple[str, ...]:
    """The field names of a record, in declaration order."""
    return tuple(instance.__dataclass_fields__)  # type: ignore[attr-defined]
