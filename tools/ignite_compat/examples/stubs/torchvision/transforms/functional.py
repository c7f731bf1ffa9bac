import numbers

import numpy as np
import torch
from PIL import Image


def _size2(size):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    return int(size[0]), int(size[1])


def to_tensor(pic):
    if isinstance(pic, torch.Tensor):
        return pic
    if isinstance(pic, np.ndarray):
        arr = pic if pic.ndim == 3 else pic[:, :, None]
        t = torch.from_numpy(arr.transpose(2, 0, 1).copy())
        return t.float().div(255) if t.dtype == torch.uint8 else t
    arr = np.array(pic, copy=True)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    t = torch.from_numpy(arr.transpose(2, 0, 1).copy()).contiguous()
    return t.float().div(255)


def normalize(t, mean, std):
    mean = torch.as_tensor(mean, dtype=t.dtype).view(-1, 1, 1)
    std = torch.as_tensor(std, dtype=t.dtype).view(-1, 1, 1)
    return (t - mean) / std


def resize(img, size, interpolation=Image.BILINEAR, **kwargs):
    w, h = img.size
    if isinstance(size, numbers.Number) or len(size) == 1:
        s = _size2(size)[0]
        if w <= h:
            ow, oh = s, int(s * h / w)
        else:
            oh, ow = s, int(s * w / h)
    else:
        oh, ow = _size2(size)
    return img.resize((ow, oh), interpolation)


def crop(img, top, left, height, width):
    return img.crop((left, top, left + width, top + height))


def center_crop(img, output_size):
    th, tw = _size2(output_size)
    w, h = img.size
    top = int(round((h - th) / 2.0))
    left = int(round((w - tw) / 2.0))
    return crop(img, top, left, th, tw)


def pad(img, padding, fill=0):
    p = int(padding)
    w, h = img.size
    out = Image.new(
        img.mode, (w + 2 * p, h + 2 * p), fill if img.mode == "L" else (fill,) * len(img.getbands())
    )
    out.paste(img, (p, p))
    return out


def hflip(img):
    return img.transpose(Image.FLIP_LEFT_RIGHT)
