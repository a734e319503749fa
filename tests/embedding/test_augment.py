import torch

from embedding.augment import AugmentConfig, random_crop_flip


def _images(seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (6, 16, 16, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_pairs_share_the_transform_and_size_is_kept():
    pre = _images(0)
    post = pre.clone()
    out_pre, out_post = random_crop_flip([pre, post], AugmentConfig(pad=3), torch.Generator().manual_seed(1))
    assert out_pre.shape == pre.shape and out_pre.dtype == torch.uint8
    assert torch.equal(out_pre, out_post)
    assert not torch.equal(out_pre, pre)


def test_disabled_is_identity_and_seeded_is_deterministic():
    images = _images(2)
    (same,) = random_crop_flip([images], AugmentConfig(pad=0, flip=False), torch.Generator().manual_seed(0))
    assert torch.equal(same, images)
    first = random_crop_flip([images], AugmentConfig(), torch.Generator().manual_seed(5))[0]
    second = random_crop_flip([images], AugmentConfig(), torch.Generator().manual_seed(5))[0]
    assert torch.equal(first, second)


def test_flip_only_mirrors_columns():
    images = _images(3)
    (flipped,) = random_crop_flip([images], AugmentConfig(pad=0, flip=True), torch.Generator().manual_seed(0))
    for original, result in zip(images, flipped, strict=True):
        assert torch.equal(result, original) or torch.equal(result, original.flip(1))
