"""IntroVAE's inference interface: mmagic's BaseGAN contract (noise,
``num_batches``, ``sample_model``, ``noise_fn``) plus reconstructions."""
import pytest
import torch
from conftest import TINY_LATENT, TINY_SIZE, make_batch


@pytest.fixture
def model(build_model):
    model = build_model(ema_config=dict(momentum=0.5))
    # An EMA decoder that differs from the decoder.
    with torch.no_grad():
        for p in model.decoder_ema.parameters():
            p.add_(0.1)
    return model.eval()


def test_noise_fn_follows_basegan(model):
    torch.manual_seed(0)
    drawn = model.noise_fn(num_batches=3)
    torch.manual_seed(0)
    assert torch.equal(drawn, torch.randn(3, TINY_LATENT))
    given = torch.ones(2, TINY_LATENT)
    assert torch.equal(model.noise_fn(given), given)
    zeros = model.noise_fn(torch.zeros, num_batches=4)
    assert torch.equal(zeros, torch.zeros(4, TINY_LATENT))
    with pytest.raises(AssertionError):
        model.noise_fn(torch.ones(2, TINY_LATENT + 1))


def test_forward_samples_the_given_noise(model):
    noise = torch.randn(2, TINY_LATENT)
    as_tensor = model(noise)
    as_dict = model(dict(noise=noise, sample_model='orig'))
    assert len(as_tensor) == len(as_dict) == 2
    # The default is the EMA decoder, as BaseGAN's.
    assert as_tensor[0].sample_model == 'ema'
    expected = model.data_preprocessor.destruct(model.sample(2, True, noise))
    for i in range(2):
        assert torch.allclose(as_tensor[i].fake_img, expected[i])
        assert not torch.allclose(as_dict[i].fake_img, expected[i])
    drawn = model(dict(num_batches=3))
    assert [s.fake_img.shape for s in drawn] == [(3, TINY_SIZE, TINY_SIZE)] * 3


def test_val_step_adds_reconstructions_for_pixel_metrics(model):
    batch = make_batch(batch_size=3)
    originals = [s.gt_img.float() for s in batch['data_samples']]
    outputs = model.val_step(batch)
    assert len(outputs) == 3
    real = torch.stack(originals) / 255.  # the model's range, [0, 1]
    rec = model.data_preprocessor.destruct(model.reconstruct(real, True))
    for out, original, expected in zip(outputs, originals, rec):
        # gt_img back in [0, 255]; pred_img is the EMA reconstruction.
        assert torch.allclose(out.gt_img, original, atol=1e-3)
        assert out.output.pred_img.shape == (3, TINY_SIZE, TINY_SIZE)
        assert torch.allclose(out.output.pred_img, expected, atol=1e-3)
        assert out.fake_img.shape == (3, TINY_SIZE, TINY_SIZE)


def test_ema_and_orig_together(model):
    both = model(dict(num_batches=2, sample_model='ema/orig'))
    assert both[0].sample_model == 'ema/orig'
    assert not torch.allclose(both[0].ema.fake_img, both[0].orig.fake_img)
