"""Stand-in for pynvml (not installed).

GpuInfo only needs `from pynvml.smi import nvidia_smi` to import; on this CPU-only machine both
libraries then raise RuntimeError("...requires available GPU"), which the
mnist_with_tensorboard_logger / mnist_with_tqdm_logger examples catch and report.
"""
