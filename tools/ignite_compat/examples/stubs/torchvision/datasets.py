import zlib

import torch
from PIL import Image


def _gen(tag):
    g = torch.Generator()
    g.manual_seed(zlib.crc32(tag.encode()))
    return g


class _Base(torch.utils.data.Dataset):
    def __init__(self, transform=None, target_transform=None):
        self.transform = transform
        self.target_transform = target_transform

    def _finish(self, img, target):
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target


def _labels(g, n, num_classes=10):
    # every class present, shuffled deterministically
    t = torch.arange(n) % num_classes
    return t[torch.randperm(n, generator=g)]


class MNIST(_Base):
    n_train, n_test = 48, 32

    def __init__(self, root=".", train=True, transform=None, target_transform=None, download=False):
        super().__init__(transform, target_transform)
        self.root, self.train = root, train
        n = self.n_train if train else self.n_test
        g = _gen(f"{type(self).__name__}-{train}")
        self.data = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
        self.targets = _labels(g, n)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img = Image.fromarray(self.data[index].numpy(), mode="L")
        return self._finish(img, int(self.targets[index]))


class FashionMNIST(MNIST):
    n_train, n_test = 150, 70  # notebook hard-codes batch_size=64: gives 3 train batches


class CIFAR10(_Base):
    n_train, n_test = 48, 32

    def __init__(self, root=".", train=True, transform=None, target_transform=None, download=False):
        super().__init__(transform, target_transform)
        self.root, self.train = root, train
        n = self.n_train if train else self.n_test
        g = _gen(f"CIFAR10-{train}")
        self.data = torch.randint(0, 256, (n, 32, 32, 3), generator=g, dtype=torch.uint8).numpy()
        self.targets = _labels(g, n).tolist()
        self.classes = [str(i) for i in range(10)]

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img = Image.fromarray(self.data[index])
        return self._finish(img, self.targets[index])


class Caltech101(_Base):
    n = 12

    def __init__(
        self,
        root=".",
        target_type="category",
        transform=None,
        target_transform=None,
        download=False,
    ):
        super().__init__(transform, target_transform)
        g = _gen("Caltech101")
        self.data = torch.randint(
            0, 256, (self.n, 40, 48, 3), generator=g, dtype=torch.uint8
        ).numpy()
        self.targets = _labels(g, self.n).tolist()

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return self._finish(Image.fromarray(self.data[index]), self.targets[index])


class FakeData(_Base):
    def __init__(
        self,
        size=1000,
        image_size=(3, 224, 224),
        num_classes=10,
        transform=None,
        target_transform=None,
        random_offset=0,
    ):
        super().__init__(transform, target_transform)
        self.size, self.image_size, self.num_classes, self.random_offset = (
            size,
            image_size,
            num_classes,
            random_offset,
        )

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        g = _gen(f"FakeData-{index + self.random_offset}")
        c, h, w = self.image_size
        arr = torch.randint(0, 256, (h, w, c), generator=g, dtype=torch.uint8).numpy()
        img = Image.fromarray(arr if c == 3 else arr[..., 0])
        target = int(torch.randint(0, self.num_classes, (1,), generator=g))
        return self._finish(img, target)


class ImageFolder(FakeData):
    def __init__(self, root=".", transform=None, target_transform=None, **kwargs):
        super().__init__(
            size=40,
            image_size=(3, 72, 80),
            num_classes=2,
            transform=transform,
            target_transform=target_transform,
        )
