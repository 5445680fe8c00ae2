"""asv's results file (`results_dir/<machine>/<commit>-<env>.json`, format version 2)."""
from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from perfgate.suites import ParseError, Results, add, field, load_json, number, numbers

# asv's benchmark kinds, by the prefix of the function's name.
KINDS = (("time_", "time"), ("peakmem_", "memory"), ("mem_", "memory"), ("track_", "value"))


def parse(text: str) -> Results:
    """Per benchmark and parameter combination, its recorded samples (`--record-samples`),
    else asv's own result (the median). Names are asv's, with the parameters as asv shows
    them: `bench.TimeSuite.time_range(10)`. A failed benchmark (null result) is an error."""
    doc = load_json(text)
    columns = field(doc, "result_columns", "", list)
    col = {c: i for i, c in enumerate(columns) if isinstance(c, str)}
    if "result" not in col:
        raise ParseError("result_columns", "has no 'result' column")
    out: Results = {}
    for bench, row in field(doc, "results", "", dict).items():
        where = f"results.{bench}"
        if not isinstance(row, list):
            raise ParseError(where, f"must be a list, got {type(row).__name__}")
        result = _column(row, col, "result", where)
        params = _column(row, col, "params", where) or []
        samples = _column(row, col, "samples", where)
        if not isinstance(result, list):
            result = [result]
        if not isinstance(params, list) or not all(isinstance(p, list) for p in params):
            raise ParseError(f"{where}.params", "must be a list of lists")
        combos = list(itertools.product(*params)) if params else [()]
        if len(combos) != len(result):
            raise ParseError(f"{where}.result", f"has {len(result)} values for {len(combos)} "
                             "parameter combinations")
        metric = next((m for prefix, m in KINDS if bench.rsplit(".", 1)[-1].startswith(prefix)),
                      "value")
        for k, (combo, value) in enumerate(zip(combos, result)):
            name = f"{bench}({', '.join(map(str, combo))})" if combo else bench
            if value is None:
                raise ParseError(f"{where}.result[{k}]", f"benchmark {name} failed in this run")
            points = samples[k] if isinstance(samples, list) and k < len(samples) else None
            if isinstance(points, list) and points:
                values = numbers(points, f"{where}.samples[{k}]")
            else:
                values = [number(value, f"{where}.result[{k}]")]
            add(out, name, metric, values, where)
    return out


def _column(row: list, col: dict[str, int], name: str, where: str):
    i = col.get(name)
    return row[i] if i is not None and i < len(row) else None


def results_file(cwd: Path, since: float) -> Path:
    """The results file the run just wrote: the newest under asv.conf.json's results_dir
    modified at or after `since` (asv writes it itself; perfgate does not choose the path)."""
    conf_path = cwd / "asv.conf.json"
    try:
        text = conf_path.read_text(encoding="utf-8")
    except OSError:
        raise ParseError("asv.conf.json", f"not found in {cwd}") from None
    # asv allows // comments in its configuration file.
    text = re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE)
    try:
        conf = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError("asv.conf.json", f"not valid JSON (line {exc.lineno})") from None
    results = cwd / str(conf.get("results_dir", "results")) if isinstance(conf, dict) else cwd
    found = [p for p in results.glob("*/*.json")
             if p.name != "machine.json" and p.stat().st_mtime >= since - 1]
    if not found:
        raise ParseError("asv.conf.json", f"no results written under {results} by this run "
                         "(asv saves results only with --set-commit-hash when using an "
                         "existing environment)")
    return max(found, key=lambda p: p.stat().st_mtime)


__all__ = ["parse", "results_file", "load_json"]
