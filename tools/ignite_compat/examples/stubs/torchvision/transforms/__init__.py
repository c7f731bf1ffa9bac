import torch

from . import functional as F


class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class ToTensor:
    def __call__(self, pic):
        return F.to_tensor(pic)


class Normalize:
    def __init__(self, mean, std, inplace=False):
        self.mean, self.std = mean, std

    def __call__(self, t):
        return F.normalize(t, self.mean, self.std)


class Resize:
    def __init__(self, size, interpolation=None, **kwargs):
        self.size = size

    def __call__(self, img):
        return F.resize(img, self.size)


class CenterCrop:
    def __init__(self, size):
        self.size = size

    def __call__(self, img):
        return F.center_crop(img, self.size)


class Pad:
    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding, self.fill = padding, fill

    def __call__(self, img):
        return F.pad(img, self.padding, self.fill)


class RandomCrop:
    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size, self.padding, self.fill = F._size2(size), padding, fill

    def __call__(self, img):
        if self.padding:
            img = F.pad(img, self.padding, self.fill)
        th, tw = self.size
        w, h = img.size
        i = int(torch.randint(0, h - th + 1, size=(1,)).item())
        j = int(torch.randint(0, w - tw + 1, size=(1,)).item())
        return F.crop(img, i, j, th, tw)


class RandomHorizontalFlip:
    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        if torch.rand(1) < self.p:
            return F.hflip(img)
        return img


class ColorJitter:
    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, img):
        return img
