import math

import torch
from PIL import Image


def make_grid(
    tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0
):
    if isinstance(tensor, (list, tuple)):
        tensor = torch.stack(tensor)
    tensor = tensor.detach().clone().float()
    if tensor.dim() == 3:
        tensor = tensor.unsqueeze(0)
    if tensor.size(1) == 1:
        tensor = tensor.repeat(1, 3, 1, 1)
    if normalize:
        lo, hi = (tensor.min(), tensor.max()) if value_range is None else value_range
        tensor = (tensor - lo) / max(float(hi - lo), 1e-5)
    n = tensor.size(0)
    xmaps = min(nrow, n)
    ymaps = int(math.ceil(n / xmaps))
    h, w = tensor.size(2) + padding, tensor.size(3) + padding
    grid = tensor.new_full((3, h * ymaps + padding, w * xmaps + padding), pad_value)
    k = 0
    for y in range(ymaps):
        for x in range(xmaps):
            if k >= n:
                break
            grid[:, y * h + padding : (y + 1) * h, x * w + padding : (x + 1) * w] = tensor[k]
            k += 1
    return grid


def save_image(tensor, fp, format=None, **kwargs):
    grid = make_grid(tensor, **kwargs)
    arr = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()
    Image.fromarray(arr).save(fp, format=format)
