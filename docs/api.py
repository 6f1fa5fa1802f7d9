"""Build the API reference from the docstrings (pdoc) and check it: ``make docs``.

The public API is what ``sparsetopo/__init__.py`` and each public module's
``__all__`` export (the paper study, ``sparsetopo.study``, is not part of it).
The build fails, naming every problem, when

- pdoc warns while building (an annotation it cannot read, a module that fails to import, ...);
- a public module has no docstring or no ``__all__``;
- a name in an ``__all__`` does not exist, or is a function, class or constant without a docstring;
- a public method or property of an exported class has no docstring;
- a public function or method lacks a type hint for a parameter or its return (the package ships ``py.typed``).

Usage: ``python docs/api.py [--out build/api]``; exit code 1 on any problem.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import sys
import warnings
from pathlib import Path
from typing import Any

PACKAGE = "sparsetopo"
EXCLUDED = ("sparsetopo.study",)  # the paper study: an application of the library, not its API


def public_modules() -> list[str]:
    """Names of the package's public modules: no ``_private`` part, nothing under the study."""
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(package.__path__, prefix=PACKAGE + "."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts) or info.name.startswith(EXCLUDED):
            continue
        names.append(info.name)
    return sorted(names)


def undocumented(module_names: list[str]) -> list[str]:
    """Every public name (per ``__all__``) of these modules that lacks a docstring, as ``module.name: why``."""
    import pdoc.doc

    problems = []
    for name in module_names:
        module = importlib.import_module(name)
        if not (module.__doc__ or "").strip():
            problems.append(f"{name}: module has no docstring")
        exported = getattr(module, "__all__", None)
        if exported is None:
            problems.append(f"{name}: module has no __all__ (its public names)")
            continue
        doc = pdoc.doc.Module(module)
        members = doc.members
        for public in exported:
            if public == "__version__":
                continue
            if not hasattr(module, public):
                problems.append(f"{name}.{public}: listed in __all__ but not defined")
                continue
            member = members.get(public)
            if member is None or isinstance(member, pdoc.doc.Module):
                continue  # a submodule: checked as a module of its own
            if isinstance(member, pdoc.doc.Variable) and hasattr(module, "__path__"):
                continue  # a package hands on its modules' names; a constant is checked where it is defined
            if isinstance(member, pdoc.doc.Variable) and _documented_elsewhere(module, public):
                continue  # a constant handed on from the module that defines (and documents) it
            if not member.docstring.strip():
                problems.append(f"{name}.{public}: no docstring")
            if isinstance(member, pdoc.doc.Class) and member.taken_from[0] == name:
                for sub in member.own_members:
                    if sub.name.startswith("_") or isinstance(sub, pdoc.doc.Variable) and not _is_property(sub):
                        continue  # dataclass fields and attributes are described in the class docstring
                    if not sub.docstring.strip():
                        problems.append(f"{name}.{public}.{sub.name}: no docstring")
    return sorted(set(problems))


def _documented_elsewhere(module: Any, public: str) -> bool:
    """Whether ``module.public`` is the very object another loaded package module exports with a docstring."""
    import pdoc.doc

    value = getattr(module, public)
    for name, other in sorted(sys.modules.items()):
        if other is module or not name.startswith(PACKAGE + ".") or public not in getattr(other, "__all__", ()):
            continue
        if getattr(other, public, None) is not value:
            continue
        member = pdoc.doc.Module(other).members.get(public)
        if member is not None and member.docstring.strip():
            return True
    return False


def unannotated(module_names: list[str]) -> list[str]:
    """Every parameter or return of a public function or method without a type hint, as ``module.name(param)``."""
    problems: list[str] = []

    def check(qualname: str, fn) -> None:
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):  # builtins without a signature
            return
        for param in signature.parameters.values():
            if param.name not in ("self", "cls") and param.annotation is inspect.Parameter.empty:
                problems.append(f"{qualname}({param.name}): no type hint")
        if signature.return_annotation is inspect.Signature.empty and fn.__name__ != "__init__":
            problems.append(f"{qualname}: no return type hint")

    for name in module_names:
        module = importlib.import_module(name)
        if hasattr(module, "__path__"):
            continue  # a package hands on its modules' names
        for public in getattr(module, "__all__", []):
            obj = getattr(module, public, None)
            if inspect.isfunction(obj) and obj.__module__ == name:
                check(f"{name}.{public}", obj)
            elif inspect.isclass(obj) and obj.__module__ == name:
                generated_init = hasattr(obj, "__dataclass_fields__")
                for attr, value in vars(obj).items():
                    if attr.startswith("_") and not (attr == "__init__" and not generated_init):
                        continue
                    if isinstance(value, (staticmethod, classmethod)):
                        value = value.__func__
                    elif isinstance(value, property):
                        value = value.fget
                    elif hasattr(value, "func"):  # functools.cached_property
                        value = value.func
                    if inspect.isfunction(value):
                        check(f"{name}.{public}.{attr}", value)
    return sorted(set(problems))


def _is_property(variable) -> bool:
    obj = getattr(variable, "obj", None)
    return isinstance(obj, property)


def build(output: Path) -> list[str]:
    """Write the HTML reference of the package (the study left out) to ``output``; returns pdoc's warnings as text."""
    import pdoc

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(PACKAGE, *(f"!{name}" for name in EXCLUDED), output_directory=output)
    return [f"pdoc warning: {w.message}" for w in caught]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/api"), help="output folder (default: build/api)")
    args = parser.parse_args(argv)
    modules = public_modules()
    problems = build(args.out) + undocumented(modules) + unannotated(modules)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"API reference: {len(problems)} problems (see above)", file=sys.stderr)
        return 1
    print(f"API reference: {len(modules)} modules, every public name documented and annotated, no warnings -> {args.out}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
