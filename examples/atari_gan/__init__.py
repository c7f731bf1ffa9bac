"""The Atari GAN from *Deep Reinforcement Learning Hands-On*, as a plain loop and with miniengine.

Run from the repository root: ``python -m examples.atari_gan.raw`` (plain PyTorch),
``python -m examples.atari_gan.engine`` (miniengine), ``python -m examples.atari_gan.compare``.
"""
