"""Build the two script trees compared by run_all.py.

scripts/ignite/...      Ignite v0.5.5 examples, unchanged (plus the notebook/README extractions)
scripts/miniengine/...  the same files with only their import lines rewritten ignite. -> miniengine.

Sources come straight from Ignite's git repository at tag v0.5.5 (git archive), nothing of Ignite
is stored in this repo. Everything is written under the work dir (default
<repo>/.ignite_compat/examples, or --work DIR / env IGNITE_COMPAT_EXAMPLES_WORK):
orig/, scripts/, import_rewrites.txt.

usage: python prepare.py [--work DIR] [--ignite-repo PATH]   (env IGNITE_REPO)
"""

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_WORK = Path(
    os.environ.get("IGNITE_COMPAT_EXAMPLES_WORK", HERE.parents[2] / ".ignite_compat" / "examples")
)
DEFAULT_IGNITE_REPO = os.environ.get("IGNITE_REPO", "/work/.mirror/pytorch+ignite/repo")
TAG = "v0.5.5"
EXAMPLE_DIRS = [
    "mnist",
    "gan",
    "reinforcement_learning",
    "siamese_network",
    "super_resolution",
    "cifar10",
]

# Import-line rewrite: only lines that are import statements naming the ignite package.
_IMPORT_RE = re.compile(r"^(\s*)(from|import)\s+ignite(\.[\w.]+)?(\s|$)")


def rewrite_imports(src):
    out, changed = [], []
    for i, line in enumerate(src.splitlines(keepends=True), 1):
        m = _IMPORT_RE.match(line)
        if m:
            if m.group(2) == "import" and m.group(3) is None:
                # bare `import ignite` (cifar10/main.py uses ignite.__version__): keep it bound
                new = re.sub(r"^(\s*)import\s+ignite\b", r"\1import miniengine as ignite", line)
            else:
                new = re.sub(r"^(\s*)(from|import)\s+ignite\b", r"\1\2 miniengine", line)
            changed.append((i, line.rstrip(), new.rstrip()))
            line = new
        out.append(line)
    return "".join(out), changed


def extract_orig(work, ignite_repo):
    dst = work / "orig"
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir()
    paths = [f"examples/{d}" for d in EXAMPLE_DIRS] + [
        "examples/notebooks/FashionMNIST.ipynb",
        "README.md",
    ]
    data = subprocess.run(
        ["git", "-C", ignite_repo, "archive", TAG, *paths], check=True, capture_output=True
    ).stdout
    tarfile.open(fileobj=io.BytesIO(data)).extractall(dst)
    return dst


# ---- notebook -> script -------------------------------------------------------------------------
# Recorded code changes (needed to run offline / tiny); everything else is the cells verbatim.
NOTEBOOK_EDITS = [
    ("epochs = 12\n", "epochs = 2  # HARNESS: was 12 (tiny settings)\n"),
]
NOTEBOOK_EPILOGUE = """
# ---- HARNESS epilogue (not in the notebook): print state that the notebook only plots ----
print("training_history", training_history)
print("validation_history", validation_history)
print("last_epoch", last_epoch)
print("pred_arr", [int(p) for p in pred_arr], "labels_arr", labels_arr)
print("trainer.state.epoch", trainer.state.epoch, "iteration", trainer.state.iteration)
"""


def notebook_to_script(nb_path):
    nb = json.loads(Path(nb_path).read_text())
    cells = []
    for c in nb["cells"]:
        if c["cell_type"] != "code":
            continue
        src = "".join(c["source"])
        # drop shell magics (`!pip install pytorch-ignite`)
        src = "\n".join(
            line for line in src.splitlines() if not line.lstrip().startswith(("!", "%"))
        )
        cells.append(src.rstrip() + "\n")
    script = (
        "# Extracted from examples/notebooks/FashionMNIST.ipynb (Ignite v0.5.5) code cells\n\n"
        + "\n\n".join(cells)
    )
    for old, new in NOTEBOOK_EDITS:
        assert script.count(old) == 1, old
        script = script.replace(old, new)
    return script + NOTEBOOK_EPILOGUE


# ---- README snippets ---------------------------------------------------------------------------
def readme_block(readme, heading, nth=0):
    text = readme.split(heading, 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    return blocks[nth]


README_PRELUDE = """# HARNESS prelude (not in README): objects the snippet assumes exist
import logging
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from ignite.engine import Engine, Events

logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s: %(message)s")
_g = torch.Generator().manual_seed(123)
_x = torch.randn(40, 8, generator=_g)
_y = (torch.arange(40) % 3)
training_data_loader = DataLoader(TensorDataset(_x[:32], _y[:32]), batch_size=8, shuffle=True)
validation_data_loader = DataLoader(TensorDataset(_x[32:], _y[32:]), batch_size=4)
model = nn.Linear(8, 3)
_optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
_criterion = nn.CrossEntropyLoss()


def harness_train_step(engine, batch):
    model.train()
    _optimizer.zero_grad()
    x, y = batch
    loss = _criterion(model(x), y)
    loss.backward()
    _optimizer.step()
    return loss.item()
# ---- end of HARNESS prelude; README snippet follows ----

"""

README_LOOP_EDITS = [
    (
        "    # ...\n\ntrainer = Engine(train_step)",
        "    # ...\n    return harness_train_step(engine, batch)  # HARNESS: body\n\n"
        "trainer = Engine(train_step)",
    ),
    ("max_epochs=100)", "max_epochs=2)  # HARNESS: was 100"),
]
README_EVENTS_PRE = (
    "trainer = Engine(harness_train_step)  # HARNESS: the snippet assumes a trainer\n\n"
)
README_EVENTS_EDITS = [
    ("logger = ...\n", "logger = logging.getLogger('readme')  # HARNESS: was `logger = ...`\n"),
]
README_EVENTS_POST = "\n# HARNESS: run it\ntrainer.run(training_data_loader, max_epochs=2)\n"


def apply(src, edits):
    for old, new in edits:
        assert src.count(old) == 1, (old, src)
        src = src.replace(old, new)
    return src


def main():
    ap = argparse.ArgumentParser(description="Build the script trees compared by run_all.py.")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help="default %(default)s")
    ap.add_argument("--ignite-repo", default=DEFAULT_IGNITE_REPO, help="default %(default)s")
    a = ap.parse_args()
    work = a.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    orig = extract_orig(work, a.ignite_repo)
    readme = (orig / "README.md").read_text()
    generated = {
        "notebooks/fashion_mnist.py": notebook_to_script(
            orig / "examples/notebooks/FashionMNIST.ipynb"
        ),
        "readme/simplified_loop.py": README_PRELUDE
        + apply(
            readme_block(readme, "## Simplified training and validation loop"), README_LOOP_EDITS
        ),
        "readme/event_handlers.py": README_PRELUDE
        + README_EVENTS_PRE
        + apply(
            readme_block(readme, "### Execute any number of functions whenever you wish"),
            README_EVENTS_EDITS,
        )
        + README_EVENTS_POST,
    }
    log = []
    for lib in ("ignite", "miniengine"):
        root = work / "scripts" / lib
        if root.exists():
            shutil.rmtree(root)
        for d in EXAMPLE_DIRS:
            shutil.copytree(orig / "examples" / d, root / d)
        for rel, src in generated.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(src)
        if lib == "miniengine":
            for f in sorted(root.rglob("*.py")):
                new, changed = rewrite_imports(f.read_text())
                f.write_text(new)
                for i, a, b in changed:
                    log.append(f"{f.relative_to(root)}:{i}: {a.strip()}  ->  {b.strip()}")
    (work / "import_rewrites.txt").write_text("\n".join(log) + "\n")
    print(
        "prepared scripts/ignite and scripts/miniengine;",
        f"{len(log)} import lines rewritten (import_rewrites.txt)",
    )


if __name__ == "__main__":
    main()
