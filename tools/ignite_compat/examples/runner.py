"""Run one example script as __main__ after seeding every RNG identically (same for both libraries).

usage: python runner.py SCRIPT [ARGS...]
"""

import random
import runpy
import sys
from pathlib import Path

import numpy as np
import torch

SEED = 0
script = str(Path(sys.argv[1]).resolve())
sys.argv = [script] + sys.argv[2:]
sys.path.insert(0, str(Path(script).parent))
random.seed(SEED)
np.random.seed(SEED)
torch.manual_seed(SEED)
runpy.run_path(script, run_name="__main__")
