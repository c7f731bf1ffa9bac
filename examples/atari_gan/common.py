"""Everything the two Atari GAN scripts share: data, networks, one training step, the setup.

``raw.py`` and ``engine.py`` import this module and differ only in their training loop, so the
diff between them is exactly what the engine abstracts away. The model and data follow
*Deep Reinforcement Learning Hands-On* (2nd ed.), chapter 3: a DCGAN learns to draw frames of
three Atari games played by random agents.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import secrets
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import ale_py
import cv2
import gymnasium
import numpy as np
import torch
from torch import Tensor, nn

import miniengine.distributed as idist

LATENT_SIZE = 100
IMAGE_SIZE = 64
LEARNING_RATE = 1e-4
BETAS = (0.5, 0.999)
# RunningAverage's smoothing factor for the losses written to TensorBoard.
ALPHA = 0.98
# Defaults of --iterations and --batch-size (a resumed run keeps its own).
ITERATIONS = 20_000
BATCH_SIZE = 16

# The book used "Breakout-v0" and friends: a frame skip drawn from 2..4 at every step and sticky
# actions (the previous action repeats with probability 0.25). ale-py still registers the -v0
# ids, but gymnasium warns that they are out of date; the v5 ids with these two arguments build
# exactly the same environment without a warning.
GAMES = ("ALE/Breakout-v5", "ALE/AirRaid-v5", "ALE/Pong-v5")
GAME_KWARGS: dict[str, Any] = {"frameskip": (2, 5), "repeat_action_probability": 0.25}

gymnasium.register_envs(ale_py)


class InputWrapper(gymnasium.ObservationWrapper):
    """Resizes Atari frames to 64x64 and puts channels first, as float32 in [0, 255].

    Args:
        env: an environment whose observations are (height, width, 3) uint8 RGB frames.

    Example:
        >>> env = InputWrapper(gymnasium.make(GAMES[0], **GAME_KWARGS))
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape, obs.dtype
        ((3, 64, 64), dtype('float32'))
        >>> env.close()
    """

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        shape = (3, IMAGE_SIZE, IMAGE_SIZE)
        self.observation_space = gymnasium.spaces.Box(0.0, 255.0, shape, dtype=np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        """Returns the resized, channels-first float32 frame.

        Args:
            observation: one (height, width, 3) uint8 frame.

        Example:
            >>> env = InputWrapper(gymnasium.make(GAMES[2], **GAME_KWARGS))
            >>> env.observation(np.full((210, 160, 3), 255, np.uint8)).max()
            np.float32(255.0)
            >>> env.close()
        """
        resized = cv2.resize(observation, (IMAGE_SIZE, IMAGE_SIZE))
        return np.moveaxis(resized, 2, 0).astype(np.float32)


def make_envs(seed: int | None = None) -> list[InputWrapper]:
    """Builds the three wrapped games, each reset and, with a seed, seeded.

    Args:
        seed: env ``i`` and its action space get ``seed + i``; None leaves them unseeded.

    Example:
        >>> envs = make_envs(seed=1)
        >>> [env.spec.id for env in envs]
        ['ALE/Breakout-v5', 'ALE/AirRaid-v5', 'ALE/Pong-v5']
        >>> for env in envs:
        ...     env.close()
    """
    envs = [InputWrapper(gymnasium.make(game, **GAME_KWARGS)) for game in GAMES]
    for i, env in enumerate(envs):
        env.reset(seed=None if seed is None else seed + i)
        env.action_space.seed(None if seed is None else seed + i)
    return envs


def iterate_batches(
    envs: Sequence[gymnasium.Env], batch_size: int, rng: random.Random
) -> Iterator[Tensor]:
    """Yields endless batches of frames from random actions in randomly chosen envs.

    The envs must have been reset (``make_envs`` does). Frames whose mean is at most 0.01 (blank
    screens) are skipped; an env is reset when its episode ends. Batches are scaled to [-1, 1].
    Randomness: ``rng`` picks the env, each action space samples its action, each env draws its
    frame skip and sticky actions from its own generators.

    Args:
        envs: environments producing (3, 64, 64) float32 frames in [0, 255].
        batch_size: frames per batch.
        rng: picks the env for each step.

    Example:
        >>> envs = make_envs(seed=0)
        >>> next(iterate_batches(envs, batch_size=4, rng=random.Random(0))).shape
        torch.Size([4, 3, 64, 64])
        >>> for env in envs:
        ...     env.close()
    """
    batch: list[np.ndarray] = []
    while True:
        env = rng.choice(envs)
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if np.mean(obs) > 0.01:
            batch.append(obs)
        if len(batch) == batch_size:
            # The book wrote `x *= 2.0 / 255.0 - 1.0`, which multiplies by -0.99; this is the
            # intended scaling to [-1, 1], the range of the generator's tanh.
            frames = np.stack(batch) / np.float32(127.5) - np.float32(1.0)
            yield torch.from_numpy(frames)
            batch.clear()
        if terminated or truncated:
            env.reset()


class AtariStream:
    """The training data: endless batches of random Atari play, a function of the seed alone.

    Every iterator starts the three games afresh, seeded with ``seed``, and first plays, without
    handing them out, the ``position`` batches already used; then it hands out the next ones
    and counts them. So one iterator continues where the last one stopped, and a stream whose
    state was saved in a checkpoint continues the play exactly after ``load_state_dict``: the
    games are replayed (Atari play, no training) rather than restored, because the emulator's
    saved state leaves out part of what it needs (see examples/atari_gan/README.md).

    Args:
        seed: seeds the games, their action spaces and the choice of game at each step.
        batch_size: frames per batch.

    Example:
        >>> stream = AtariStream(seed=0, batch_size=2)
        >>> first, second = next(iter(stream)), next(iter(stream))  # the second continues
        >>> stream.position
        2
        >>> again = AtariStream(seed=5, batch_size=8)
        >>> again.load_state_dict({"seed": 0, "batch_size": 2, "position": 1})
        >>> torch.equal(next(iter(again)), second)
        True
    """

    def __init__(self, seed: int, batch_size: int) -> None:
        self.seed = seed
        self.batch_size = batch_size
        self.position = 0  # batches handed out so far, by all iterators together

    def __iter__(self) -> Iterator[Tensor]:
        envs = make_envs(self.seed)
        try:
            batches = iterate_batches(envs, self.batch_size, random.Random(self.seed))
            for _ in range(self.position):  # the replay
                next(batches)
            for batch in batches:
                self.position += 1
                yield batch
        finally:
            for env in envs:
                env.close()

    def state_dict(self) -> dict[str, int]:
        """What the stream is made of and how far it got.

        Example:
            >>> AtariStream(seed=3, batch_size=16).state_dict()
            {'seed': 3, 'batch_size': 16, 'position': 0}
        """
        return {"seed": self.seed, "batch_size": self.batch_size, "position": self.position}

    def load_state_dict(self, state_dict: Mapping[str, int]) -> None:
        """Continue the stream that ``state_dict`` describes, from its next batch.

        Args:
            state_dict: what ``state_dict`` returned.

        Example:
            >>> stream = AtariStream(seed=0, batch_size=16)
            >>> stream.load_state_dict({"seed": 7, "batch_size": 4, "position": 10})
            >>> stream.seed, stream.batch_size, stream.position
            (7, 4, 10)
        """
        self.seed = int(state_dict["seed"])
        self.batch_size = int(state_dict["batch_size"])
        self.position = int(state_dict["position"])


class Discriminator(nn.Module):
    """Maps a batch of (3, 64, 64) images to the probability that each one is real.

    Args:
        filters: channels of the first convolution; each later one doubles them.

    Example:
        >>> Discriminator()(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2])
    """

    def __init__(self, filters: int = 64) -> None:
        super().__init__()
        f = filters
        self.pipe = nn.Sequential(
            nn.Conv2d(3, f, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(f, f * 2, kernel_size=4, stride=2, padding=1),
            nn.BatchNorm2d(f * 2),
            nn.ReLU(),
            nn.Conv2d(f * 2, f * 4, kernel_size=4, stride=2, padding=1),
            nn.BatchNorm2d(f * 4),
            nn.ReLU(),
            nn.Conv2d(f * 4, f * 8, kernel_size=4, stride=2, padding=1),
            nn.BatchNorm2d(f * 8),
            nn.ReLU(),
            nn.Conv2d(f * 8, 1, kernel_size=4, stride=1, padding=0),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Returns shape (batch,): one probability per image.

        Args:
            x: images, shape (batch, 3, 64, 64).

        Example:
            >>> Discriminator()(torch.zeros(1, 3, 64, 64)).shape
            torch.Size([1])
        """
        return self.pipe(x).view(-1)


class Generator(nn.Module):
    """Maps latent vectors of shape (batch, 100, 1, 1) to (batch, 3, 64, 64) images in [-1, 1].

    Args:
        filters: channels before the last transposed convolution; earlier ones double them.

    Example:
        >>> Generator()(torch.zeros(2, LATENT_SIZE, 1, 1)).shape
        torch.Size([2, 3, 64, 64])
    """

    def __init__(self, filters: int = 64) -> None:
        super().__init__()
        f = filters
        self.pipe = nn.Sequential(
            nn.ConvTranspose2d(LATENT_SIZE, f * 8, kernel_size=4, stride=1, padding=0),
            nn.BatchNorm2d(f * 8),
            nn.ReLU(),
            nn.ConvTranspose2d(f * 8, f * 4, kernel_size=4, stride=2, padding=1),
            nn.BatchNorm2d(f * 4),
            nn.ReLU(),
            nn.ConvTranspose2d(f * 4, f * 2, kernel_size=4, stride=2, padding=1),
            nn.BatchNorm2d(f * 2),
            nn.ReLU(),
            nn.ConvTranspose2d(f * 2, f, kernel_size=4, stride=2, padding=1),
            nn.BatchNorm2d(f),
            nn.ReLU(),
            nn.ConvTranspose2d(f, 3, kernel_size=4, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Returns images of shape (batch, 3, 64, 64).

        Args:
            x: latent vectors, shape (batch, 100, 1, 1).

        Example:
            >>> Generator()(torch.zeros(1, LATENT_SIZE, 1, 1)).shape
            torch.Size([1, 3, 64, 64])
        """
        return self.pipe(x)


class GAN:
    """The two networks, their optimizers, the loss and the noise: all one training step needs.

    Args:
        device: where the networks live and the step computes.
        seed: seeds the generator of the latent noise (a CPU ``torch.Generator`` of its own, so
            that it is saved in ``state_dict`` and gives the same latents on any device).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> out = GAN(torch.device("cpu"), seed=0).step(torch.zeros(2, 3, 64, 64))
        >>> sorted(out)
        ['fake', 'loss_dis', 'loss_gen', 'real']
    """

    def __init__(self, device: torch.device, seed: int = 0) -> None:
        self.device = device
        self.discriminator: nn.Module = Discriminator().to(device)
        self.generator: nn.Module = Generator().to(device)
        if idist.get_world_size() > 1:  # under torchrun: DDP averages the gradients over ranks
            self.discriminator = idist.auto_model(self.discriminator)
            self.generator = idist.auto_model(self.generator)
        self.objective = nn.BCELoss()
        dis_params, gen_params = self.discriminator.parameters(), self.generator.parameters()
        self.dis_optimizer = torch.optim.Adam(dis_params, lr=LEARNING_RATE, betas=BETAS)
        self.gen_optimizer = torch.optim.Adam(gen_params, lr=LEARNING_RATE, betas=BETAS)
        self.noise = torch.Generator().manual_seed(seed)

    def step(self, batch: Tensor) -> dict[str, Any]:
        """Trains the discriminator on real and fake images, then the generator on the same fakes.

        Args:
            batch: real images in [-1, 1], shape (batch, 3, 64, 64), on any device.

        Returns:
            ``loss_gen`` and ``loss_dis`` (floats), ``real`` and ``fake`` (detached images).

        Example:
            >>> _ = torch.manual_seed(0)
            >>> out = GAN(torch.device("cpu")).step(torch.zeros(2, 3, 64, 64))
            >>> out["fake"].shape, type(out["loss_gen"])
            (torch.Size([2, 3, 64, 64]), <class 'float'>)
        """
        real = batch.to(self.device)
        noise = torch.randn(len(real), LATENT_SIZE, 1, 1, generator=self.noise).to(self.device)
        ones = torch.ones(len(real), device=self.device)
        zeros = torch.zeros(len(real), device=self.device)
        fake = self.generator(noise)

        self.dis_optimizer.zero_grad()
        loss_dis = self.objective(self.discriminator(real), ones) + self.objective(
            self.discriminator(fake.detach()), zeros
        )
        loss_dis.backward()
        self.dis_optimizer.step()

        self.gen_optimizer.zero_grad()
        loss_gen = self.objective(self.discriminator(fake), ones)
        loss_gen.backward()
        self.gen_optimizer.step()
        # .item() waits for the GPU; the book's loop does the same once per iteration.
        return {
            "loss_gen": loss_gen.item(),
            "loss_dis": loss_dis.item(),
            "real": real,
            "fake": fake.detach(),
        }

    def state_dict(self) -> dict[str, Any]:
        """Both networks, both optimizers and the noise generator's state.

        Example:
            >>> sorted(GAN(torch.device("cpu")).state_dict())
            ['dis_optimizer', 'discriminator', 'gen_optimizer', 'generator', 'noise']
        """
        return {
            # the networks' own keys, without the "module." that DDP puts in front
            "discriminator": _unwrapped(self.discriminator).state_dict(),
            "generator": _unwrapped(self.generator).state_dict(),
            "dis_optimizer": self.dis_optimizer.state_dict(),
            "gen_optimizer": self.gen_optimizer.state_dict(),
            "noise": self.noise.get_state(),
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Puts back what ``state_dict`` returned.

        Args:
            state_dict: what ``state_dict`` returned.

        Example:
            >>> a, b = GAN(torch.device("cpu"), seed=1), GAN(torch.device("cpu"), seed=2)
            >>> b.load_state_dict(a.state_dict())
            >>> torch.equal(torch.randn(3, generator=a.noise), torch.randn(3, generator=b.noise))
            True
        """
        _unwrapped(self.discriminator).load_state_dict(state_dict["discriminator"])
        _unwrapped(self.generator).load_state_dict(state_dict["generator"])
        self.dis_optimizer.load_state_dict(state_dict["dis_optimizer"])
        self.gen_optimizer.load_state_dict(state_dict["gen_optimizer"])
        self.noise.set_state(state_dict["noise"])


def _unwrapped(net: nn.Module) -> nn.Module:
    return getattr(net, "module", net)


def image_grid(images: Tensor, nrow: int = 8, padding: int = 2) -> Tensor:
    """Tiles a batch of images into one (channels, height, width) image scaled to [0, 1].

    Like torchvision's ``make_grid(images, normalize=True)``: one min-max scaling for the
    whole batch, ``nrow`` images per row, black borders ``padding`` pixels wide.

    Args:
        images: shape (batch, channels, height, width), any range.
        nrow: images per row.
        padding: border width in pixels.

    Example:
        >>> grid = image_grid(torch.tensor([10.0, 20.0, 30.0]).view(3, 1, 1, 1), nrow=2, padding=1)
        >>> grid.shape
        torch.Size([1, 5, 5])
        >>> grid[0, 1::2, 1::2].tolist()  # the image cells; the fourth one is empty
        [[0.0, 0.5], [1.0, 0.0]]
    """
    images = images.detach().float().cpu()
    low, high = images.min().item(), images.max().item()
    images = (images - low) / max(high - low, 1e-5)
    count, channels, height, width = images.shape
    cols = min(count, nrow)
    rows = math.ceil(count / cols)
    grid = torch.zeros(
        channels, rows * (height + padding) + padding, cols * (width + padding) + padding
    )
    for i, image in enumerate(images):
        top = padding + (i // cols) * (height + padding)
        left = padding + (i % cols) * (width + padding)
        grid[:, top : top + height, left : left + width] = image
    return grid


def log_images(writer: Any, output: dict[str, Any], step: int) -> None:
    """Writes grids of the step's fake and real images to TensorBoard (at most 64 of each).

    Args:
        writer: a ``SummaryWriter``.
        output: what ``GAN.step`` returned.
        step: the global step shown in TensorBoard.

    Example:
        >>> import tempfile
        >>> from torch.utils.tensorboard import SummaryWriter
        >>> with tempfile.TemporaryDirectory() as logdir, SummaryWriter(logdir) as writer:
        ...     images = torch.zeros(2, 3, 4, 4)
        ...     log_images(writer, {"fake": images, "real": images}, step=1)
    """
    writer.add_image("fake", image_grid(output["fake"][:64]), step)
    writer.add_image("real", image_grid(output["real"][:64]), step)


def save_png(path: Path, images: Tensor) -> None:
    """Saves a grid of at most 64 images as a PNG, with the pixels TensorBoard shows for it.

    Args:
        path: the file to write.
        images: shape (batch, 3, height, width), any range (scaled as ``image_grid`` does).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     save_png(Path(tmp) / "grid.png", torch.rand(4, 3, 8, 8))
        ...     cv2.imread(f"{tmp}/grid.png").shape
        (12, 42, 3)
    """
    grid = image_grid(images[:64])
    # TensorBoard's add_image turns [0, 1] into bytes the same way: scaled by 255, truncated.
    pixels = (grid * 255).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    if not cv2.imwrite(str(path), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    # Shows each default in --help, except None: the help text of those says what happens.
    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def default_threads() -> int:
    """The CPU threads torch gets unless ``--threads`` says otherwise: 4, or fewer CPUs.

    Example:
        >>> 1 <= default_threads() <= 4
        True
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(4, cpus or 1)


def parse_args(argv: Sequence[str] | None = None, resumable: bool = False) -> argparse.Namespace:
    """Parses the command line both scripts share; ``engine.py`` adds checkpoints and resume.

    Args:
        argv: the arguments; None reads ``sys.argv``.
        resumable: add ``--checkpoint-every``, ``--resume``, ``--describe`` and ``--show-loop``.

    Example:
        >>> args = parse_args(["--iterations", "3", "--device", "cpu"])
        >>> args.iterations, args.batch_size, args.report_every, args.image_every, args.resume
        (3, 16, 100, 500, False)
    """
    parser = argparse.ArgumentParser(
        description="A DCGAN learns to draw Atari frames.", formatter_class=_HelpFormatter
    )
    own = ", or the resumed run's own" if resumable else ""
    parser.add_argument(
        "--iterations",
        type=_positive_int,
        help=f"iterations in all (default: {ITERATIONS}{own}); Ctrl-C stops a run cleanly",
    )
    parser.add_argument(
        "--seed", type=int, help="seeds everything (default: drawn at random, and printed)"
    )
    parser.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto: CUDA if available"
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=default_threads(),
        help="CPU threads for torch; the losses depend on it (in their last bits)",
    )
    parser.add_argument(
        "--logdir", default="runs/atari_gan", help="each run writes to a new subdirectory run-<n>"
    )
    parser.add_argument(
        "--batch-size", type=_positive_int, help=f"frames per batch (default: {BATCH_SIZE}{own})"
    )
    parser.add_argument(
        "--report-every", type=_positive_int, default=100, help="iterations between report lines"
    )
    parser.add_argument(
        "--image-every",
        type=_positive_int,
        default=500,
        help="iterations between image grids in TensorBoard (the last iteration gets one too)",
    )
    if resumable:
        parser.add_argument(
            "--checkpoint-every",
            type=_positive_int,
            default=500,
            help="iterations between checkpoints (and one when the run ends, by Ctrl-C too)",
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="continue the newest run-<n> in --logdir from its newest checkpoint",
        )
        parser.add_argument(
            "--describe",
            action="store_true",
            help="print what the engine calls at each event, then train",
        )
        parser.add_argument(
            "--show-loop",
            action="store_true",
            help="print the plain loop that the engine runs (explain.as_loop), then train",
        )
    else:
        parser.set_defaults(resume=False)
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        why = "this torch is built without CUDA" if torch.version.cuda is None else "no GPU found"
        parser.error(f"argument --device: got 'cuda', but CUDA is not available ({why}); "
                     "use --device cpu, or auto (CUDA when available)")  # fmt: skip
    if args.resume and (args.seed is not None or args.batch_size is not None):
        parser.error("argument --resume: a resumed run keeps its own seed and batch size; "
                     "drop --seed and --batch-size")  # fmt: skip
    if args.resume and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        parser.error("argument --resume: runs in one process only (each rank plays its own "
                     "games, and a checkpoint holds rank 0's)")  # fmt: skip
    if not args.resume:
        args.iterations = args.iterations or ITERATIONS
        args.batch_size = args.batch_size or BATCH_SIZE
    return args


def new_run_dir(logdir: str | Path, create: bool = True) -> Path:
    """Makes a new run directory ``logdir/run-<n>``, ``n`` one more than the highest there.

    Args:
        logdir: the directory that holds the runs.
        create: make the directory (under torchrun, rank 0 alone does).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     [new_run_dir(tmp).name for _ in range(2)], newest_run_dir(tmp).name
        (['run-1', 'run-2'], 'run-2')
    """
    root = Path(logdir)
    n = max(_run_numbers(root), default=0) + 1
    while create:
        try:
            (root / f"run-{n}").mkdir(parents=True)
            break
        except FileExistsError:  # another run started at the same moment took it
            n += 1
    return root / f"run-{n}"


def newest_run_dir(logdir: str | Path) -> Path | None:
    """The run directory ``logdir/run-<n>`` with the highest ``n``, or None if there is none.

    Args:
        logdir: the directory that holds the runs.

    Example:
        >>> print(newest_run_dir("no/such/directory"))
        None
    """
    numbers = _run_numbers(Path(logdir))
    return Path(logdir) / f"run-{max(numbers)}" if numbers else None


def _run_numbers(root: Path) -> list[int]:
    names = [p.name for p in root.glob("run-*") if p.is_dir()]
    return [int(name[4:]) for name in names if name[4:].isdigit()]


def setup(args: argparse.Namespace) -> tuple[GAN, AtariStream, Path]:
    """Seeds everything, sets the threads, picks the device and the run directory; builds the GAN.

    Args:
        args: what ``parse_args`` returned.

    Returns:
        The GAN, the data stream and the run directory (a new one, or with ``--resume`` the
        newest one in ``--logdir``).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     args = parse_args(["--seed", "0", "--device", "cpu", "--logdir", tmp])
        ...     gan, batches, logdir = setup(args)  # doctest: +ELLIPSIS
        ...     next(iter(batches)).shape, logdir.name
        run directory: .../run-1 (tensorboard --logdir ...)
        seed 0, ... CPU threads, device cpu
        (torch.Size([16, 3, 64, 64]), 'run-1')
    """
    idist.initialize()  # under torchrun, join the other processes; alone, nothing to do
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # each line reaches a pipe (tee, a test) now
    if idist.get_world_size() > 1:
        device = idist.device()  # one GPU per process with NCCL, else the CPU
    elif args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    # The losses depend on the number of threads (sums are split among them), so it is set
    # here, printed, and not left to the machine or to OMP_NUM_THREADS.
    torch.set_num_threads(args.threads)
    # Each rank draws its own frames and noise: its seed is offset by its rank (DDP starts every
    # rank from rank 0's weights).
    seed = secrets.randbelow(2**31) if args.seed is None else args.seed
    seed += idist.get_rank()
    random.seed(seed)  # for any library that draws from the global generators
    np.random.seed(seed)
    torch.manual_seed(seed)  # the networks' initial weights
    if device.type == "cuda":
        # cuDNN and cuBLAS pick the fastest kernels by default, some of which add in a varying
        # order; these settings ask for reproducible ones (cuBLAS reads the variable when it
        # starts, which is after this).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    gan = GAN(device, seed)
    batches = AtariStream(seed, args.batch_size or BATCH_SIZE)
    if args.resume:
        logdir = newest_run_dir(args.logdir)
        if logdir is None:
            sys.exit(f"--resume: no run-<n> directory in {args.logdir} to continue")
    else:
        logdir = new_run_dir(args.logdir, create=idist.get_rank() == 0)
    if idist.get_rank() == 0:
        print(f"run directory: {logdir} (tensorboard --logdir {args.logdir})")
        if not args.resume:
            print(f"seed {seed}, {args.threads} CPU threads, device {device}")
    return gan, batches, logdir


class CtrlC:
    """Turns the first Ctrl-C into a request to stop after the current iteration.

    A ``KeyboardInterrupt`` can land anywhere: between the discriminator's and the generator's
    updates, or between the two losses written to TensorBoard. Finishing the iteration keeps the
    logs and the final line consistent. A second Ctrl-C interrupts at once, as usual. Leaving the
    ``with`` block (or calling ``restore``) puts the previous SIGINT handler back.

    Example:
        >>> with CtrlC() as ctrl_c:
        ...     ctrl_c.pressed
        False
    """

    def __init__(self) -> None:
        self.pressed = False
        self._previous = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.pressed = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # os.write, unlike print, is safe inside a signal handler.
        os.write(2, b"\nCtrl-C: stopping after this iteration (again to stop at once)\n")

    def restore(self) -> None:
        """Puts back the SIGINT handler that was active before.

        Example:
            >>> CtrlC().restore()
        """
        signal.signal(signal.SIGINT, self._previous)

    def __enter__(self) -> CtrlC:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.restore()


def report_line(iteration: int, averages: Mapping[str, float]) -> str:
    """Formats the console line printed every ``--report-every`` iterations.

    Args:
        iteration: the iteration just completed.
        averages: the smoothed losses, under ``avg_loss_gen`` and ``avg_loss_dis``.

    Example:
        >>> report_line(100, {"avg_loss_gen": 2.5, "avg_loss_dis": 0.25})
        'iteration 100: avg_loss_gen=2.500000 avg_loss_dis=0.250000'
    """
    gen, dis = averages["avg_loss_gen"], averages["avg_loss_dis"]
    return f"iteration {iteration}: avg_loss_gen={gen:.6f} avg_loss_dis={dis:.6f}"


def averages_line(averages: Mapping[str, float]) -> str:
    """Formats the smoothed losses printed before the final line.

    Args:
        averages: the running averages, under ``avg_loss_gen`` and ``avg_loss_dis``.

    Example:
        >>> averages_line({"avg_loss_gen": 2.5, "avg_loss_dis": 0.25})
        'running averages (alpha=0.98): avg_loss_gen=2.500000 avg_loss_dis=0.250000'
    """
    gen, dis = averages["avg_loss_gen"], averages["avg_loss_dis"]
    return f"running averages (alpha={ALPHA}): avg_loss_gen={gen:.6f} avg_loss_dis={dis:.6f}"


# raw.py's progress line: redrawn in place every second on a terminal; in a log, where every
# redraw stays, a line every 30 s (as ProgressBar does).
PROGRESS_SECONDS, PROGRESS_END = (1.0, "\r") if sys.stderr.isatty() else (30.0, "\n")


def progress_line(done: int, total: int, seconds: float) -> str:
    """Formats raw.py's progress: iterations done, the share, time spent and left, the rate.

    Padded to 48 columns, so that a shorter line drawn over a longer one hides it; the report
    lines are longer, so they hide it too.

    Args:
        done: iterations done in this process.
        total: iterations this process will do.
        seconds: time spent on them.

    Example:
        >>> progress_line(30, 120, 45.0).rstrip()
        '[30/120]  25% 00:45<02:15, 1.50 s/it'
    """
    per_iteration = seconds / max(done, 1)
    left = (total - done) * per_iteration
    line = f"[{done}/{total}] {100 * done / total:3.0f}% {_clock(seconds)}<{_clock(left)}"
    return f"{line}, {per_iteration:.2f} s/it".ljust(48)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def finish(
    logdir: Path, iteration: int, output: dict[str, Any], averages: Mapping[str, float]
) -> None:
    """Saves the last fakes as ``fake.png`` in the run directory and prints the last lines.

    Args:
        logdir: the run directory.
        iteration: the number of iterations completed.
        output: what ``GAN.step`` returned for that iteration.
        averages: the running averages, under ``avg_loss_gen`` and ``avg_loss_dis``.

    Example:
        >>> import tempfile
        >>> out = {"fake": torch.zeros(1, 3, 2, 2), "loss_gen": 0.5, "loss_dis": 1.0}
        >>> with tempfile.TemporaryDirectory() as tmp:  # doctest: +ELLIPSIS
        ...     finish(Path(tmp), 7, out, {"avg_loss_gen": 0.5, "avg_loss_dis": 1.0})
        last fakes: .../fake.png
        running averages (alpha=0.98): avg_loss_gen=0.500000 avg_loss_dis=1.000000
        final iteration=7 loss_gen=0.5 loss_dis=1.0
    """
    save_png(logdir / "fake.png", output["fake"])
    print(f"last fakes: {logdir / 'fake.png'}")
    print(averages_line(averages))
    print(final_line(iteration, output))


# ProgressBar's layout with the rate added: "Training: [30/120]  25%|##5 [00:45<02:15, 1.50s/it]"
BAR = {
    "desc": "Training",
    "bar_format": "{desc}[{n_fmt}/{total_fmt}] {percentage:3.0f}%|{bar}{postfix} "
    "[{elapsed}<{remaining}, {rate_fmt}]",
}


def check_resume(path: Path, saved: Mapping[str, Any], iterations: int | None) -> int:
    """Says where a resumed run starts and returns its end; exits if nothing is left to do.

    Args:
        path: the checkpoint file.
        saved: its content, with the engine's and the data stream's states.
        iterations: ``--iterations``, the new end; None keeps the run's own.

    Example:
        >>> saved = {"engine": {"iteration": 10, "max_iters": 100},
        ...          "batches": {"seed": 3, "batch_size": 16, "position": 10}}
        >>> check_resume(Path("c.pt"), saved, iterations=20)
        resuming from c.pt at iteration 10 of 20 (seed 3, batch size 16): replaying 10 batches
        20
    """
    iteration, data = saved["engine"]["iteration"], saved["batches"]
    total = iterations or saved["engine"]["max_iters"]
    if total <= iteration:
        sys.exit(
            f"--resume: the run in {path.parent.parent} has done {iteration} of {total} "
            f"iterations; give --iterations above {iteration} to train it further"
        )
    print(
        f"resuming from {path} at iteration {iteration} of {total} (seed {data['seed']}, "
        f"batch size {data['batch_size']}): replaying {data['position']} batches"
    )
    return total


def final_line(iteration: int, output: dict[str, Any]) -> str:
    """Formats the last line both scripts print: the last iteration's raw losses, exactly.

    Args:
        iteration: the number of iterations completed.
        output: what ``GAN.step`` returned for that iteration.

    Example:
        >>> final_line(2, {"loss_gen": 0.1, "loss_dis": 1 / 3})
        'final iteration=2 loss_gen=0.1 loss_dis=0.3333333333333333'
    """
    # repr() of a float is the shortest text that reads back as the very same float.
    gen, dis = output["loss_gen"], output["loss_dis"]
    return f"final iteration={iteration} loss_gen={gen!r} loss_dis={dis!r}"
