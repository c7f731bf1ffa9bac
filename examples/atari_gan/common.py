"""Everything the two Atari GAN scripts share: data, networks, one training step, the setup.

``raw.py`` and ``engine.py`` import this module and differ only in their training loop, so the
diff between them is exactly what the engine abstracts away. The model and data follow
*Deep Reinforcement Learning Hands-On* (2nd ed.), chapter 3: a DCGAN learns to draw frames of
three Atari games played by random agents.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
from collections.abc import Iterator, Mapping, Sequence
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


def iterate_batches(envs: Sequence[gymnasium.Env], batch_size: int = 16) -> Iterator[Tensor]:
    """Yields endless batches of frames from random actions in randomly chosen envs.

    The envs must have been reset (``make_envs`` does). Frames whose mean is at most 0.01 (blank
    screens) are skipped; an env is reset when its episode ends. Batches are scaled to [-1, 1].
    Randomness: Python's ``random`` picks the env, each action space samples its action.

    Args:
        envs: environments producing (3, 64, 64) float32 frames in [0, 255].
        batch_size: frames per batch.

    Example:
        >>> envs = make_envs(seed=0)
        >>> next(iterate_batches(envs, batch_size=4)).shape
        torch.Size([4, 3, 64, 64])
        >>> for env in envs:
        ...     env.close()
    """
    batch: list[np.ndarray] = []
    while True:
        env = random.choice(envs)
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
    """The two networks, their optimizers and the loss: everything one training step needs.

    Args:
        device: where the networks live and the step computes.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> out = GAN(torch.device("cpu")).step(torch.zeros(2, 3, 64, 64))
        >>> sorted(out)
        ['fake', 'loss_dis', 'loss_gen', 'real']
    """

    def __init__(self, device: torch.device) -> None:
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
        # The noise is drawn on the CPU so that a seed gives the same latents on any device.
        noise = torch.randn(len(real), LATENT_SIZE, 1, 1).to(self.device)
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


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parses the command line both scripts share.

    Args:
        argv: the arguments; None reads ``sys.argv``.

    Example:
        >>> args = parse_args(["--iterations", "3", "--device", "cpu"])
        >>> args.iterations, args.batch_size, args.report_every, args.image_every
        (3, 16, 100, 1000)
    """
    parser = argparse.ArgumentParser(description="A DCGAN learns to draw Atari frames.")
    parser.add_argument(
        "--iterations", type=_positive_int, default=None, help="default: run until Ctrl-C"
    )
    parser.add_argument("--seed", type=int, default=None, help="make the run deterministic")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--logdir", default=None, help="default: TensorBoard's runs/<date>_<host>")
    parser.add_argument("--batch-size", type=_positive_int, default=16)
    parser.add_argument("--report-every", type=_positive_int, default=100)
    parser.add_argument("--image-every", type=_positive_int, default=1000)
    return parser.parse_args(argv)


def setup(args: argparse.Namespace) -> tuple[GAN, Iterator[Tensor]]:
    """Seeds everything, picks the device, builds the envs, the data stream and the GAN.

    Args:
        args: what ``parse_args`` returned.

    Example:
        >>> gan, batches = setup(parse_args(["--seed", "0", "--device", "cpu"]))
        >>> next(batches).shape
        torch.Size([16, 3, 64, 64])
    """
    idist.initialize()  # under torchrun, join the other processes; alone, nothing to do
    if idist.get_world_size() > 1:
        device = idist.device()  # one GPU per process with NCCL, else the CPU
    elif args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    # Each rank draws its own frames and noise: its seed is offset by its rank (DDP starts every
    # rank from rank 0's weights).
    seed = None if args.seed is None else args.seed + idist.get_rank()
    if seed is not None:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        if device.type == "cuda":
            # cuDNN and cuBLAS pick the fastest kernels by default, some of which add in a
            # varying order; these settings ask for reproducible ones (cuBLAS reads the
            # variable when it starts, which is after this).
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
    gan = GAN(device)
    return gan, iterate_batches(make_envs(seed), args.batch_size)


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
