"""Execute the chapter notebooks in parallel processes on this machine's best device (CUDA if there is one).

The book build runs the chapters too, but it needs the whole Jupyter Book stack; this needs only nbclient and
ipykernel, so it runs on a bare GPU machine. It reports, per chapter and budget, the device the chapter chose,
whether every cell ran (a failed assert is a failure), the wall time, the CPU-seconds of the kernel and the
trainers it forked (``cpu_s``: what the course budgets; a busy machine stretches the wall time far more), and the
first error; the executed
notebooks are saved with their pictures removed (text outputs, errors and cell timings kept).

    python benchmarks/run_chapters.py                          # every chapter, quick and full budgets
    python benchmarks/run_chapters.py --modes full --jobs 12 --deadline 600 --out chapter-runs/full
    python benchmarks/run_chapters.py --only 03 12             # chapters whose file names start so

Each budget gets its own fresh checkpoint cache (shared by its chapters, as in the book build), so nothing is
read from a learner's ~/.cache. Set OMP_NUM_THREADS=1 when many chapters share the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
# the slowest chapters first (full-budget CPU wall times), so the parallel run ends sooner
ORDER = ["12", "03", "09", "04", "05", "11", "06", "08", "10", "07", "02", "01"]


def _children_cpu() -> float:
    """User + system CPU-seconds of this process's finished children (the kernel and what it forked)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_one(notebook: Path, mode: str, out: Path, cell_timeout: int) -> None:
    """Execute one notebook (in this process's kernel) and write <out>/<mode>/<name>.{ipynb,json}."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}})
    start, cpu_start = time.perf_counter(), _children_cpu()
    result = {"chapter": notebook.stem, "mode": mode, "ok": True, "error": None}
    try:
        client.execute()
    except CellExecutionError as error:
        result.update(ok=False, error=str(error)[-3000:])
    except Exception as error:  # a kernel that died, a timeout: report it, do not hide it
        result.update(ok=False, error=f"{type(error).__name__}: {error}"[-3000:])
    result["wall_s"] = round(time.perf_counter() - start, 1)
    result["cpu_s"] = round(_children_cpu() - cpu_start, 1)   # the kernel has exited: its CPU time is counted
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", "")) if output.get("output_type") == "stream" else ""
            if text.startswith("device:"):
                result["device"] = text.split(",")[0].split(":", 1)[1].strip()
            data = output.get("data")
            if data:
                for key in [k for k in data if k.startswith("image/") or k.startswith("application/vnd")]:
                    data[key] = "(removed)"
    folder = out / mode
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / notebook.name)
    (folder / f"{notebook.stem}.json").write_text(json.dumps(result, indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["full", "quick"], choices=["full", "quick"])
    parser.add_argument("--only", nargs="*", default=None, help="chapter prefixes, e.g. 03 12")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--deadline", type=float, default=3600, help="seconds; unfinished chapters are stopped")
    parser.add_argument("--cell-timeout", type=int, default=900)
    parser.add_argument("--out", type=Path, default=Path("chapter-runs"))
    parser.add_argument("--one", nargs=2, metavar=("NOTEBOOK", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        run_one(Path(args.one[0]), args.one[1], args.out, args.cell_timeout)
        return 0

    notebooks = sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"), key=lambda p: ORDER.index(p.name[:2])
                       if p.name[:2] in ORDER else len(ORDER))
    if args.only:
        notebooks = [p for p in notebooks if any(p.name.startswith(prefix) for prefix in args.only)]
    if not notebooks:
        sys.exit(f"no chapter matches --only {args.only}; the chapters are in {CHAPTERS}")
    queue = [(nb, mode) for mode in args.modes for nb in notebooks]
    caches = {mode: tempfile.mkdtemp(prefix=f"genmodels-{mode}-cache-") for mode in args.modes}
    running: dict[subprocess.Popen, tuple[Path, str, float]] = {}
    start = time.perf_counter()
    while queue or running:
        while queue and len(running) < args.jobs:
            nb, mode = queue.pop(0)
            env = dict(os.environ, GENMODELS_CACHE_DIR=caches[mode])
            env.pop("GENMODELS_QUICK", None)
            if mode == "quick":
                env["GENMODELS_QUICK"] = "1"
            proc = subprocess.Popen([sys.executable, __file__, "--one", str(nb), mode, "--out", str(args.out),
                                     "--cell-timeout", str(args.cell_timeout)], env=env, start_new_session=True)
            running[proc] = (nb, mode, time.perf_counter())
        for proc in [p for p in running if p.poll() is not None]:
            nb, mode, began = running.pop(proc)
            print(f"[{time.perf_counter() - start:6.0f} s] {mode:5s} {nb.stem}: done in "
                  f"{time.perf_counter() - began:.0f} s", flush=True)
        if time.perf_counter() - start > args.deadline:
            for proc, (nb, mode, began) in running.items():
                os.killpg(proc.pid, signal.SIGKILL)
                folder = args.out / mode
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{nb.stem}.json").write_text(json.dumps(
                    {"chapter": nb.stem, "mode": mode, "ok": False, "error": "stopped at the deadline",
                     "wall_s": round(time.perf_counter() - began, 1)}))
            for nb, mode in queue:
                print(f"not started: {mode} {nb.stem}")
            break
        time.sleep(1)

    results = [json.loads(f.read_text()) for f in sorted(args.out.glob("*/*.json"))]
    print(f"\n{'budget':6s} {'chapter':40s} {'device':7s} {'wall s':>7s} {'CPU s':>7s}  result")
    for r in results:
        cpu = f"{r['cpu_s']:7.0f}" if r.get("cpu_s") is not None else f"{'?':>7s}"
        print(f"{r['mode']:6s} {r['chapter']:40s} {r.get('device', '?'):7s} {r['wall_s']:7.0f} {cpu}  "
              f"{'ok' if r['ok'] else 'FAILED'}")
    for r in results:
        if not r["ok"]:
            print(f"\n=== {r['mode']} {r['chapter']}\n{r['error'][-1500:]}")
    (args.out / "summary.json").write_text(json.dumps(results, indent=1))
    return 0 if results and all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
