"""Run a benchmark: `python bench/run.py NAME [--json] [options]`, or `all`.

Each benchmark is a module `bench/<name>.py` (dashes become underscores) with
`run(argv: list[str]) -> dict` returning the figures named in its issue; this prints them as one
JSON object (or one per line for `all`)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def available() -> list[str]:
    return sorted(
        p.stem.replace("_", "-") for p in HERE.glob("*.py") if p.stem not in {"run", "__init__", "common"}
    )


def run_one(name: str, argv: list[str]) -> dict[str, Any]:
    module = importlib.import_module(f"bench.{name.replace('-', '_')}")
    result: dict[str, Any] = module.run(argv)
    return result


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        print("benchmarks:", ", ".join(available()) or "(none yet)")
        return 0
    name, rest = argv[0], [a for a in argv[1:] if a != "--json"]
    names = available() if name == "all" else [name]
    unknown = [n for n in names if n not in available()]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; available: {', '.join(available())}", file=sys.stderr)
        return 2
    for n in names:
        figures = run_one(n, rest if name != "all" else [])
        sys.stdout.write(orjson.dumps({"benchmark": n, **figures}).decode() + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
