import pytest
import torch

from embedding.augment import AugmentConfig, permute_colours, random_crop_flip


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


def test_a_triplet_shares_its_colour_order_and_only_the_order_changes():
    pre, post, outcome = _images(3), _images(4), _images(5)
    out = permute_colours([pre, post, outcome], 1.0, torch.Generator().manual_seed(0))
    for before, after in zip((pre, post, outcome), out, strict=True):
        assert after.shape == before.shape and after.dtype == torch.uint8
        assert torch.equal(after.sort(dim=-1).values, before.sort(dim=-1).values)  # the same values, reordered
    for item in range(len(pre)):
        orders = []
        for before, after in zip((pre, post, outcome), out, strict=True):
            pixel = before[item].reshape(-1, 3).float()
            moved = after[item].reshape(-1, 3).float()
            orders.append(tuple(int(torch.argmin(((pixel - moved[:, k:k + 1]) ** 2).sum(0))) for k in range(3)))
        assert orders[0] == orders[1] == orders[2] != (0, 1, 2)  # one order for the triplet, never the identity
    generator = torch.Generator().manual_seed(7)
    state = generator.get_state()
    assert permute_colours([pre], 0.0, generator)[0] is pre  # off: no change and no draws
    assert torch.equal(generator.get_state(), state)
    half = permute_colours([pre], 0.5, torch.Generator().manual_seed(1))[0]
    assert torch.equal(half, permute_colours([pre], 0.5, torch.Generator().manual_seed(1))[0])  # seeded
    with pytest.raises(ValueError, match="colour_permute is a probability"):
        AugmentConfig(colour_permute=1.5)
