import pytest
import torch

from torch_deepsmote import ConvAutoencoder


@pytest.mark.parametrize(
    "shape",
    [(1, 28, 28), (3, 32, 32), (1, 8, 8), (3, 16, 16), (3, 64, 64), (1, 28, 32), (2, 20, 12), (1, 4, 4)],
)
@pytest.mark.parametrize("batch", [1, 3])
def test_shapes_round_trip(shape, batch):
    model = ConvAutoencoder(shape, latent_dim=16, width=4).eval()
    images = torch.rand(batch, *shape) * 2 - 1
    latents = model.encode(images)
    assert latents.shape == (batch, 16)
    decoded = model.decode(latents)
    assert decoded.shape == (batch, *shape)
    assert decoded.abs().max() <= 1.0


def test_paper_layout_28():
    model = ConvAutoencoder((1, 28, 28))
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512]
    assert model.encoder[-1].in_features == 512 and model.encoder[-1].out_features == 300
    assert model.decoder_input[0].out_features == 512 * 7 * 7
    deconvs = [m for m in model.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [d.stride for d in deconvs] == [(1, 1), (1, 1), (2, 2)]
    assert isinstance(model.decoder[-1], torch.nn.Tanh)
    # the first encoder block has no batch norm, as in the authors' code
    assert isinstance(model.encoder[1], torch.nn.LeakyReLU)


def test_paper_layout_32():
    model = ConvAutoencoder((3, 32, 32))
    assert model.latent_dim == 600
    last_conv = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)][-1]
    assert last_conv.kernel_size == (4, 4) and last_conv.stride == (1, 1) and last_conv.padding == (0, 0)
    assert model.decoder_input[0].out_features == 512 * 8 * 8


def test_batch_of_one_in_training_mode_without_one_by_one_batch_norm():
    model = ConvAutoencoder((1, 64, 64), latent_dim=8, width=4).train()
    out = model(torch.zeros(2, 1, 64, 64))
    assert out.shape == (2, 1, 64, 64)


def test_same_generator_same_weights_and_different_otherwise():
    def weights(seed):
        model = ConvAutoencoder((1, 8, 8), latent_dim=8, width=4, generator=torch.Generator().manual_seed(seed))
        return torch.cat([p.flatten() for p in model.parameters()])

    assert torch.equal(weights(0), weights(0))
    assert not torch.equal(weights(0), weights(1))


@pytest.mark.parametrize(
    "shape, error, match",
    [
        ((1, 3, 8), ValueError, "too small"),
        ((1, 8), ValueError, "image_shape"),
        ((1.0, 8, 8), TypeError, "channels"),
        ((0, 8, 8), ValueError, "channels"),
    ],
)
def test_bad_shapes(shape, error, match):
    with pytest.raises(error, match=match):
        ConvAutoencoder(shape)


def test_bad_latent_dim():
    with pytest.raises(ValueError, match="latent_dim"):
        ConvAutoencoder((1, 8, 8), latent_dim=0)
    with pytest.raises(TypeError, match="latent_dim"):
        ConvAutoencoder((1, 8, 8), latent_dim=True)


LARGER = [(3, 33, 33), (3, 65, 47), (1, 100, 8), (3, 224, 224), (1, 37, 5), (3, 512, 37)]


@pytest.mark.parametrize("shape", LARGER)
def test_images_past_32_grow_in_depth_and_come_back_at_their_size(shape):
    model = ConvAutoencoder(shape, 8, width=4, generator=torch.Generator().manual_seed(0)).eval()
    images = torch.rand(2, *shape) * 2 - 1
    assert model(images).shape == images.shape
    encoder_convs = [layer for layer in model.encoder if isinstance(layer, torch.nn.Conv2d)]
    decoder_convs = [layer for layer in model.decoder if isinstance(layer, torch.nn.ConvTranspose2d)]
    halvings = next(n for n in range(20) if max(shape[1:]) >> n <= 4)  # blocks down to a map of at most 4×4
    assert len(encoder_convs) == len(decoder_convs) == halvings
    last_map = model.decoder_input[-1].unflattened_size
    assert max(last_map[1:]) <= 4


def test_parameters_stay_within_twice_the_32_by_32_model_up_to_side_512():
    def count(shape):
        return sum(parameter.numel() for parameter in ConvAutoencoder.empty(shape).parameters())

    paper = count((3, 32, 32))
    for side in (33, 48, 64, 96, 128, 224, 300, 512):
        assert count((3, side, side)) <= 2 * paper, side
    assert count((1, 28, 28)) == 13_084_973 and paper == 25_384_411  # the paper's layouts, unchanged
