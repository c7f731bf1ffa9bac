"""Run Ignite v0.5.5 examples with Ignite and with miniengine (imports rewritten) and compare.

usage: python run_all.py [--only NAME[,NAME...]] [--control] [--work DIR] [--python PY]
  --control  also runs Ignite a second time (ignite2) to show run-to-run noise of the harness
             itself.
  --work     the dir prepare.py wrote scripts/ into (default <repo>/.ignite_compat/examples,
             env IGNITE_COMPAT_EXAMPLES_WORK)
Outputs (under the work dir): runs/<lib>/<case>/ (cwd of each run, stdout.txt, artefacts),
report.txt
"""

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAIN = HERE.parents[2]  # the repo: miniengine is imported from here (also installed editable)
DEFAULT_WORK = Path(
    os.environ.get("IGNITE_COMPAT_EXAMPLES_WORK", MAIN / ".ignite_compat" / "examples")
)
DEFAULT_PY = MAIN / ".venv" / "bin" / "python"
WORK = DEFAULT_WORK  # set by main()
PY = str(DEFAULT_PY) if DEFAULT_PY.exists() else sys.executable  # set by main()

MNIST_ARGS = ["--batch_size", "16", "--val_batch_size", "32", "--epochs", "2"]
CASES = {
    "mnist": [("mnist/mnist.py", MNIST_ARGS + ["--log_interval", "1"])],
    "mnist_with_tensorboard": [
        ("mnist/mnist_with_tensorboard.py", MNIST_ARGS + ["--log_interval", "1", "--log_dir", "tb"])
    ],
    "mnist_with_tensorboard_logger": [
        ("mnist/mnist_with_tensorboard_logger.py", MNIST_ARGS + ["--log_dir", "tb"])
    ],
    "mnist_with_tqdm_logger": [("mnist/mnist_with_tqdm_logger.py", MNIST_ARGS)],
    "mnist_save_resume_engine": [
        (
            "mnist/mnist_save_resume_engine.py",
            MNIST_ARGS + ["--log_interval", "1", "--log_dir", "logs"],
        ),
        (
            "mnist/mnist_save_resume_engine.py",
            MNIST_ARGS
            + [
                "--log_interval",
                "1",
                "--log_dir",
                "logs_resume",
                "--resume_from",
                "logs/checkpoint_1.pt",
            ],
        ),
    ],
    "dcgan": [
        (
            "gan/dcgan.py",
            [
                "--dataset",
                "fake",
                "--dataroot",
                "data",
                "--workers",
                "0",
                "--batch-size",
                "2",
                "--z-dim",
                "10",
                "--g-filters",
                "8",
                "--d-filters",
                "8",
                "--epochs",
                "1",
                "--seed",
                "1",
                "--output-dir",
                "out",
            ],
        )
    ],
    "reinforce": [
        ("reinforcement_learning/reinforce.py", ["--max-episodes", "10", "--log-interval", "1"])
    ],
    "actor_critic": [
        ("reinforcement_learning/actor_critic.py", ["--max-episodes", "10", "--log-interval", "1"])
    ],
    "siamese_network": [
        (
            "siamese_network/siamese_network.py",
            ["--batch-size", "16", "--test-batch-size", "16", "--epochs", "2", "--save-model"],
        )
    ],
    "super_resolution": [
        (
            "super_resolution/main.py",
            [
                "--upscale_factor",
                "2",
                "--crop_size",
                "32",
                "--batch_size",
                "4",
                "--test_batch_size",
                "4",
                "--threads",
                "0",
                "--n_epochs",
                "2",
            ],
        )
    ],
    "cifar10": [
        (
            "cifar10/main.py",
            [
                "run",
                "--data_path=data",
                "--output_path=out",
                "--batch_size=16",
                "--num_workers=0",
                "--num_epochs=2",
                "--num_warmup_epochs=1",
                "--validate_every=1",
                "--checkpoint_every=2",
                "--log_every_iters=1",
            ],
        )
    ],
    "fashion_mnist_notebook": [("notebooks/fashion_mnist.py", [])],
    "readme_simplified_loop": [("readme/simplified_loop.py", [])],
    "readme_event_handlers": [("readme/event_handlers.py", [])],
}

# ---------------------------------------------------------------- output normalisation
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_SUBS = [
    (re.compile(r"miniengine"), "ignite"),  # logger names / module paths
    (
        re.compile(r"(Ignite version: )\S+"),
        r"\1<VER>",
    ),  # cifar10 logs ignite.__version__ (import miniengine as ignite)
    # paths under the work dir (this entry is replaced by set_work())
    (re.compile(re.escape(str(DEFAULT_WORK)) + r"/(runs|scripts)/[^/\s]+/"), r"<\1>/"),
    (re.compile(r"/tmp/[^\s'\"]+"), "<TMP>"),
    (re.compile(r"\d{8}-\d{6}"), "<DATETIME>"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(,\d+)?"), "<DATETIME>"),
    (re.compile(r"\d\d:\d\d:\d\d(\.\d+)?"), "<HMS>"),
    (re.compile(r"\[\d+:\d\d(:\d\d)?<[^\]]*\]"), "[<ETA>]"),  # tqdm [elapsed<remaining, rate]
    (re.compile(r"\d+(\.\d+)?(s/it|it/s)"), "<RATE>"),
    (re.compile(r"\?it/s"), "<RATE>"),
    (re.compile(r"\b(took) [0-9.e+-]+ (seconds)"), r"\1 <T> \2"),
    (re.compile(r"(Time per batch: )[0-9.e+-]+"), r"\1<T>"),
    (re.compile(r"(Evaluation time \(seconds\): )[0-9.e+-]+"), r"\1<T>"),
    (re.compile(r"'([A-Z_]+)': [0-9.e+-]+"), r"'\1': <T>"),  # engine.state.times
    (re.compile(r"0x[0-9a-f]{6,}"), "0x<ADDR>"),
]
_WORK_SUB = 2  # index of the work-dir entry in _SUBS
_PROFILER_LINE = re.compile(
    r"^\s*(\w+\s*)?(min/index|max/index|mean|std|total|Processing|Dataflow|Event handlers)", re.I
)


def set_work(work):
    """Use `work` as the work dir; its paths in outputs are normalised away."""
    global WORK
    WORK = work
    _SUBS[_WORK_SUB] = (re.compile(re.escape(str(work)) + r"/(runs|scripts)/[^/\s]+/"), r"<\1>/")


def normalise(text):
    text = _ANSI.sub("", text)
    out = []
    # tqdm redraws with \r: emulate a terminal (each \r-segment overwrites the line from column 0),
    # i.e. compare what a user would finally see on screen, not the number of intermediate redraws
    for line in text.split("\n"):
        buf = []
        for seg in line.split("\r"):
            buf[: len(seg)] = list(seg)
        line = "".join(buf)
        for pat, rep in _SUBS:
            line = pat.sub(rep, line)
        line = line.rstrip()
        if line:
            out.append(line)
    return out


def first_diff(a, b):
    """Index of the first differing item of two sequences (the shorter length if none)."""
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def profiler_normalise(lines):
    # BasicTimeProfiler.print_results: every number is a duration
    return [
        re.sub(r"[0-9]+\.[0-9]+(e-?\d+)?", "<T>", line)
        if re.search(r"\d\.\d", line)
        and ("/index" in line or "total" in line.lower() or "mean" in line or "std" in line)
        else line
        for line in lines
    ]


# ---------------------------------------------------------------- artefacts
def _load_torch(path, extra_path):
    import torch

    sys.path.insert(0, str(extra_path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    finally:
        sys.path.pop(0)
    if isinstance(obj, torch.nn.Module):
        obj = {"<module " + type(obj).__name__ + ">": obj.state_dict()}
    return obj


def _cmp_obj(a, b, where, diffs):
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            diffs.append(f"{where}: type {type(a).__name__} vs {type(b).__name__}")
        elif a.shape != b.shape or a.dtype != b.dtype:
            diffs.append(
                f"{where}: shape/dtype {tuple(a.shape)}/{a.dtype} vs {tuple(b.shape)}/{b.dtype}"
            )
        elif not torch.equal(a, b):
            d = (a.double() - b.double()).abs().max().item() if a.is_floating_point() else "n/a"
            diffs.append(f"{where}: tensors differ (max abs diff {d})")
    elif isinstance(a, dict) and isinstance(b, dict):
        ka, kb = list(a.keys()), list(b.keys())
        if set(ka) != set(kb):
            diffs.append(f"{where}: keys {sorted(map(str, ka))} vs {sorted(map(str, kb))}")
        for k in ka:
            if k in b:
                _cmp_obj(a[k], b[k], f"{where}[{k!r}]", diffs)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b) or type(a) is not type(b):
            diffs.append(f"{where}: {type(a).__name__}[{len(a)}] vs {type(b).__name__}[{len(b)}]")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _cmp_obj(x, y, f"{where}[{i}]", diffs)
    else:
        if type(a) is not type(b) or a != b:
            if not (isinstance(a, float) and isinstance(b, float) and a != a and b != b):
                diffs.append(f"{where}: {a!r} vs {b!r}")


def tb_scalars(d):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    res = {}
    for ev in sorted(Path(d).glob("**/events.out.tfevents.*")):
        acc = EventAccumulator(str(ev), size_guidance={"scalars": 0})
        acc.Reload()
        rel = re.sub(r"\d{8}-\d{6}", "<DT>", str(ev.parent.relative_to(d)))
        for tag in acc.Tags()["scalars"]:
            res.setdefault((rel, tag), []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return res


def compare_artefacts(da, db, script_dir):
    msgs = []
    skip = {"stdout.txt"}
    fa = {str(p.relative_to(da)) for p in da.rglob("*") if p.is_file()} - skip
    fb = {str(p.relative_to(db)) for p in db.rglob("*") if p.is_file()} - skip

    def norm(names):
        return {re.sub(r"\d{8}-\d{6}", "<DT>", n) for n in names if "tfevents" not in n}

    map_a = {re.sub(r"\d{8}-\d{6}", "<DT>", n): n for n in fa}
    map_b = {re.sub(r"\d{8}-\d{6}", "<DT>", n): n for n in fb}
    na, nb = norm(fa), norm(fb)
    if na != nb:
        msgs.append(
            f"DIFF file sets: only ignite={sorted(na - nb)} only miniengine={sorted(nb - na)}"
        )
    n_ckpt = 0
    for n in sorted(na & nb):
        pa, pb = da / map_a[n], db / map_b[n]
        if pa.suffix in (".pt", ".pth"):
            n_ckpt += 1
            diffs = []
            try:
                _cmp_obj(_load_torch(pa, script_dir), _load_torch(pb, script_dir), n, diffs)
            except Exception as e:
                diffs.append(f"{n}: could not load ({type(e).__name__}: {e})")
            msgs += [f"DIFF checkpoint {x}" for x in diffs[:10]]
            if not diffs:
                msgs.append(f"same checkpoint {n}")
        elif pa.suffix in (".log", ".txt", ".tsv", ".csv"):
            la, lb = normalise(pa.read_text()), normalise(pb.read_text())
            if la != lb:
                first = first_diff(la, lb)
                msgs.append(
                    f"DIFF text file {n} line {first + 1}: "
                    f"{la[first : first + 1]} vs {lb[first : first + 1]}"
                )
            else:
                msgs.append(f"same text file {n} ({len(la)} lines)")
        elif pa.suffix == ".png":
            import numpy as np
            from PIL import Image

            same = np.array_equal(np.asarray(Image.open(pa)), np.asarray(Image.open(pb)))
            msgs.append(("same" if same else "DIFF") + f" image pixels {n}")
    if any("tfevents" in n for n in fa | fb):
        sa, sb = tb_scalars(da), tb_scalars(db)
        if set(sa) != set(sb):
            msgs.append(
                f"DIFF TB scalar tags: only ignite={sorted(set(sa) - set(sb))} "
                f"only miniengine={sorted(set(sb) - set(sa))}"
            )
        bad = [(k, sa[k], sb[k]) for k in sorted(set(sa) & set(sb)) if sa[k] != sb[k]]
        for k, x, y in bad[:5]:
            first = first_diff(x, y)
            msgs.append(
                f"DIFF TB scalar {k} at #{first}: {x[first : first + 1]} vs "
                f"{y[first : first + 1]} (len {len(x)} vs {len(y)})"
            )
        if not bad and set(sa) == set(sb):
            msgs.append(f"same TB scalars: {len(sa)} tags, {sum(map(len, sa.values()))} points")
    return msgs


# ---------------------------------------------------------------- running
def run_case(lib, name, steps):
    cwd = WORK / "runs" / lib / name
    if cwd.exists():
        shutil.rmtree(cwd)
    cwd.mkdir(parents=True)
    scripts = WORK / "scripts" / ("ignite" if lib.startswith("ignite") else lib)
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(HERE / "stubs"), str(MAIN)]),
        MPLBACKEND="Agg",
        OMP_NUM_THREADS="1",
        PYTHONHASHSEED="0",
        COLUMNS="120",
        CUDA_VISIBLE_DEVICES="",
        PYTHONWARNINGS="ignore",
    )
    out, rcs, t0 = [], [], time.time()
    for i, (script, args) in enumerate(steps):
        p = subprocess.run(
            [PY, str(HERE / "runner.py"), str(scripts / script), *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=900,
        )
        text = p.stdout.decode(
            "utf-8", "replace"
        )  # bytes: keep tqdm's \r redraws (no newline translation)
        out.append(f"===== step {i + 1}: {script} {' '.join(args)} (rc={p.returncode})\n{text}")
        rcs.append(p.returncode)
    (cwd / "stdout.txt").write_text("\n".join(out), newline="")
    return rcs, "\n".join(out), time.time() - t0, scripts / Path(steps[0][0]).parent


def main():
    global PY
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", default="")
    ap.add_argument("--control", action="store_true")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help="default %(default)s")
    ap.add_argument("--python", default=PY, help="default %(default)s")
    a = ap.parse_args()
    PY = a.python
    set_work(a.work.resolve())
    names = [n for n in CASES if not a.only or n in a.only.split(",")]
    libs = ["ignite", "miniengine"] + (["ignite2"] if a.control else [])
    report = []
    for name in names:
        res = {lib: run_case(lib, name, CASES[name]) for lib in libs}
        (rc_i, out_i, t_i, sdir), (rc_m, out_m, t_m, _) = res["ignite"], res["miniengine"]
        li, lm = profiler_normalise(normalise(out_i)), profiler_normalise(normalise(out_m))
        lines = [f"### {name}: rc ignite={rc_i} miniengine={rc_m} ({t_i:.0f}s / {t_m:.0f}s)"]
        if li == lm:
            lines.append(f"same stdout/stderr ({len(li)} normalised lines)")
        else:
            first = first_diff(li, lm)
            lines.append(f"DIFF output at normalised line {first + 1} (of {len(li)} vs {len(lm)}):")
            lines.append(f"   ignite    : {li[first] if first < len(li) else '<EOF>'}")
            lines.append(f"   miniengine: {lm[first] if first < len(lm) else '<EOF>'}")
            ndiff = sum(
                1
                for line in difflib.unified_diff(li, lm, lineterm="", n=0)
                if line[:1] in "+-" and line[:3] not in ("+++", "---")
            )
            lines.append(
                f"   ({ndiff} differing lines in total; full outputs in runs/*/{name}/stdout.txt)"
            )
        lines += compare_artefacts(
            WORK / "runs" / "ignite" / name, WORK / "runs" / "miniengine" / name, sdir
        )
        if a.control:
            lc = profiler_normalise(normalise(res["ignite2"][1]))
            lines.append(
                "control ignite vs ignite2: "
                + ("same output" if lc == li else "OUTPUT DIFFERS (harness noise)")
            )
            lines += [
                "control " + m
                for m in compare_artefacts(
                    WORK / "runs" / "ignite" / name, WORK / "runs" / "ignite2" / name, sdir
                )
                if m.startswith("DIFF")
            ]
        print("\n".join(lines), flush=True)
        report += lines + [""]
    (WORK / "report.txt").write_text("\n".join(report))


if __name__ == "__main__":
    main()
