"""Measurement sessions with real processes: perfgate keeps out of the way of what it times."""
import resource

from perfgate import harness
from perfgate.contract import from_mapping
from perfgate.sessions import Recorder, Side
from perfgate.store import Store


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)   # every thread of this process
    return r.ru_utime + r.ru_stime


def test_perfgate_spends_almost_no_cpu_while_a_measured_command_runs(tmp_path):
    """Nothing of perfgate's own (no store write, no busy polling) competes with the command:
    over a 1 s run, perfgate's whole process uses under 2% of a core."""
    contract = from_mapping({"name": "t", "domain": "cli_startup",
                             "repro": {"script": "sleep 1", "measurement_runs": 3},
                             "metrics": {"primary": {"name": "wall_time"}}}, "t")
    spent: list[tuple[float, float]] = []

    def watched(*args, **kw) -> harness.RunRecord:
        before = _cpu()
        rec = harness.run_once(*args, **kw)
        spent.append((_cpu() - before, rec.wall_time))
        return rec

    store = Store(tmp_path / ".perfgate" / "perfgate.duckdb")
    side = Side("baseline", "baseline", tmp_path, None, None)
    Recorder(store, contract, {}, executor=watched).measure([side], warmup=0, runs=2)
    assert len(spent) == 2 and all(wall > 0.99 for _, wall in spent)
    assert all(own < 0.02 * wall for own, wall in spent), spent
    assert store.session(side.session_id)["status"] == "complete"
    assert not list((tmp_path / ".perfgate" / "running").iterdir())
