"""BAGAN (Mariani et al., 2018): an autoencoder-initialised class-conditional GAN.

Written from the description in ``shared/paper/BASELINES.md`` ("GAN baselines: 1
BAGAN"); no code was taken from the Keras original. Three phases:

1. an autoencoder (trunk + Dense encoder ``E``, generator ``G`` as decoder) is
   trained with MSE on *all* images (scaled to [-1, 1]);
2. every class's codes ``E(x)`` get a full-covariance Gaussian ``N(μ_c, Σ_c)``; the
   discriminator ``D`` is a copy of the trained trunk with a fresh (K+1)-way head;
3. adversarial fine-tuning: per real batch of b images, a D step on the b reals
   (true class) plus ⌈b/K⌉ fakes (class K = "fake"), then a G step (D frozen) on
   ⌈b/K⌉ + b fakes pushed toward their conditioning class.

``fit_resample`` fills every class to the majority count with ``G(z)``,
``z ~ N(μ_c, Σ_c)``.

Choices where the description leaves room (with the reason):

* **Epochs**: defaults ``autoencoder_epochs=2, gan_epochs=2`` (the benchmark's "cpu"
  profile); the MNIST script's 150 + 150 is ``PAPER_EPOCHS``. Measured on
  Fashion-MNIST at the paper's counts (9000 images, 282 batches of 32) on the shared
  2-core CPU at load 3–4: autoencoder 3.6–4.4 s per batch (17–21 min per epoch),
  adversarial 4.4–5.1 s per batch (21–24 min per epoch) with torch's 2 threads;
  2.3–2.6 and 2.8 s per batch (11–12 and 13 min per epoch) with
  ``torch.set_num_threads(1)``; decoding the 31 000 images of ``fit_resample`` takes
  ~10 min. 150 + 150 epochs would take days here. The generator's 5×5 convolutions
  (256 filters at 14×14, 128 at 28×28, ~0.8 GMAC per image) dominate.
* **Width**: ``width=32`` (the default) is BAGAN's network; a smaller ``width`` scales
  every layer's filters and units by ``width / 32`` (cost by about its square), which
  is how a CPU budget can afford a few epochs. BAGAN itself has no such knob.
* **Filter rule** "256 while the resolution is < half the target": the resolution
  *before* each upsampling, i.e. 256 filters for every upsampling but the last.
* **Image sizes**: each side must be r·2^k with an integer r ≤ 8 (8, 12, 28, 32,
  64 …), the same k for height and width; r0 = r per side. Trunk convs pad 1 on
  every side (Keras "same" pads stride-2 convs only bottom/right; sizes are equal).
  The final 2×2 conv pads one row/column bottom/right, like Keras "same".
* **Initialisation**: Glorot-normal for the generator's convolutions (as described),
  Keras's defaults elsewhere (Glorot-uniform weights, zero biases); the final 2×2
  conv keeps a bias. All draws come from ``random_state``.
* **LeakyReLU slope 0.3**: Keras's default; the description names no slope.
* **Dropout 0.3** in the trunk draws its masks from a generator seeded from
  ``random_state`` (:class:`SeededDropout`), never the global RNG. D keeps dropout
  on in the G step, as a frozen Keras model does in training.
* **Class Gaussians**: unbiased covariance of the codes (zero for a one-image class),
  float64. If its Cholesky factorisation fails (as it must when n_c ≤ latent_dim, e.g.
  40 images in 100 dimensions), ε·I is added, ε = 1e-6·mean(diag Σ_c) (1e-6 if that
  is 0), ×10 until it succeeds; ε is kept in ``jitter_``. The distributions are
  ``torch.distributions.MultivariateNormal``; draws are μ + L·ε with ε from our
  generator, since ``MultivariateNormal.sample`` uses the global RNG.
* **Labels** may be any non-negative integers, mapped to 0..K−1 in ascending order.
  ``class_sampling="rebalance"`` draws with max(2/K − p_c, 0) renormalised, p_c the
  class frequency.
* **One model** on the whole imbalanced set samples every class (the original trains
  one model per "pruned" class).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import MultivariateNormal
from tqdm.auto import tqdm

from torch_deepsmote._utils.params import EstimatorParams
from torch_deepsmote._utils.validation import (
    check_float,
    check_generator,
    check_images,
    check_int,
    check_labels,
    check_option,
    resolve_device,
)
from torch_deepsmote.nn.ranges import from_network_range, to_network_range

from ._bagan_nets import (
    SeededDropout,
    base_resolution,
    generator_network,
    init_weights_,
    set_dropout_generator,
    trunk,
)

__all__ = [
    "BAGAN",
    "CLASS_SAMPLING",
    "PAPER_EPOCHS",
    "SeededDropout",
    "base_resolution",
    "class_probabilities",
    "fit_class_gaussian",
]

logger = logging.getLogger(__name__)

CLASS_SAMPLING = ("uniform", "rebalance")
PAPER_EPOCHS = 150
INFERENCE_BATCH = 256


def fit_class_gaussian(codes: torch.Tensor) -> tuple[MultivariateNormal, float]:
    """Full-covariance Gaussian of (n, d) codes (float64, CPU) and the jitter it needed."""
    codes = codes.detach().double().cpu()
    dim, eye = codes.shape[1], torch.eye(codes.shape[1], dtype=torch.float64)
    cov = torch.cov(codes.T).reshape(dim, dim) if codes.shape[0] > 1 else torch.zeros_like(eye)
    scale, jitter = float(cov.diagonal().mean()) or 1.0, 0.0
    for _ in range(12):
        tril, info = torch.linalg.cholesky_ex(cov + jitter * eye)
        if int(info) == 0:
            return MultivariateNormal(codes.mean(0), scale_tril=tril), jitter
        jitter = 1e-6 * scale if jitter == 0.0 else jitter * 10.0
    raise RuntimeError(f"Covariance of the class codes stays singular even with jitter {jitter:g}.")


def class_probabilities(counts: torch.Tensor, class_sampling: str) -> torch.Tensor:
    """(K,) float64 label distribution of the fakes: uniform, or max(2/K − p_c, 0) renormalised."""
    n_classes = counts.shape[0]
    if class_sampling == "uniform":
        return torch.full((n_classes,), 1.0 / n_classes, dtype=torch.float64)
    raw = (2.0 / n_classes - counts.double() / counts.sum()).clamp(min=0.0)
    return raw / raw.sum()


class BAGAN(EstimatorParams):
    """Balancing GAN: class-conditional generation from autoencoder-fitted Gaussians.

    Args:
        latent_dim: code size (100 in the paper).
        width: the trunk's first filter count; every layer scales with it (32 = BAGAN).
        autoencoder_epochs: phase-1 epochs (2 for a CPU budget; the paper's script: 150 =
            ``PAPER_EPOCHS``).
        gan_epochs: phase-3 epochs (2 for a CPU budget; the paper's script: 150).
        batch_size: real images per step (32).
        lr: Adam learning rate of all phases (5e-5).
        beta1: Adam β1 (0.5); β2 is 0.999.
        class_sampling: how fake labels are drawn: ``"uniform"`` or ``"rebalance"``.
        device: where the networks run; ``None`` = CUDA when available.
        random_state: int seed, ``torch.Generator`` or ``None`` (fresh entropy).
        progress: show progress bars.

    Attributes:
        classes_: (K,) sorted labels. ``class_counts_``: (K,) images per class.
        encoder_, generator_, discriminator_: the trained networks (eval mode).
        gaussians_: dict class → ``MultivariateNormal`` over codes (float64, CPU).
        jitter_: dict class → ε added to Σ_c's diagonal. ``class_probabilities_``: (K,).
        history_: ``{"autoencoder": [...], "gan": [...]}`` per-epoch losses and seconds.
        n_synthetic_: dict class → images added by ``fit_resample``.
        image_shape_, dtype_, sample_seed_: input shape and dtype, default sampling seed.

    ``get_params``, ``set_params`` and the ``repr`` follow scikit-learn's estimator
    conventions (so ``sklearn.base.clone`` works) without importing scikit-learn.
    """

    def __init__(
        self,
        *,
        latent_dim: int = 100,
        width: int = 32,
        autoencoder_epochs: int = 2,
        gan_epochs: int = 2,
        batch_size: int = 32,
        lr: float = 5e-5,
        beta1: float = 0.5,
        class_sampling: str = "uniform",
        device: Any = None,
        random_state: int | torch.Generator | None = None,
        progress: bool = False,
    ) -> None:
        self.latent_dim = latent_dim
        self.width = width
        self.autoencoder_epochs = autoencoder_epochs
        self.gan_epochs = gan_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.beta1 = beta1
        self.class_sampling = class_sampling
        self.device = device
        self.random_state = random_state
        self.progress = progress

    def _check_params(self) -> None:
        check_int("latent_dim", self.latent_dim, minimum=1)
        check_int("width", self.width, minimum=1)
        check_int("autoencoder_epochs", self.autoencoder_epochs, minimum=0)
        check_int("gan_epochs", self.gan_epochs, minimum=0)
        check_int("batch_size", self.batch_size, minimum=1)
        check_float("lr", self.lr, minimum=0.0, inclusive_minimum=False)
        check_float("beta1", self.beta1, minimum=0.0, maximum=0.999)
        check_option("class_sampling", self.class_sampling, CLASS_SAMPLING)
        if not isinstance(self.progress, bool):
            raise TypeError(f"`progress` must be a bool, got {self.progress!r}.")

    def fit(self, X: Any, y: Any) -> "BAGAN":
        """Run the three phases on (N, C, H, W) images ``X`` and (N,) labels ``y``."""
        self._check_params()
        images = check_images(X)
        labels = check_labels(y, images.shape[0])
        self.image_shape_, self.dtype_ = tuple(images.shape[1:]), images.dtype
        self.classes_, self.class_counts_ = torch.unique(labels, return_counts=True)
        targets = torch.searchsorted(self.classes_, labels)
        device = resolve_device(self.device)
        rng = check_generator(self.random_state)
        seeds = torch.randint(2**62, (2,), generator=rng).tolist()
        dropout_rng = torch.Generator(device=device).manual_seed(seeds[0])
        self.sample_seed_ = seeds[1]
        self._build(device, rng, dropout_rng)
        x = to_network_range(images).to(device)
        self.history_ = {"autoencoder": self._train_autoencoder(x, rng), "gan": []}
        self._fit_gaussians(x, targets)
        self._init_discriminator(rng)
        self.history_["gan"] = self._train_adversarial(x, targets.to(device), rng)
        for net in (self.encoder_, self.generator_, self.discriminator_):
            net.eval()
        return self

    def _build(self, device: torch.device, rng: torch.Generator, dropout_rng: torch.Generator) -> None:
        channels, height, width = self.image_shape_
        r0 = (base_resolution(height), base_resolution(width))
        if r0[0][1] != r0[1][1]:
            raise ValueError(
                f"BAGAN needs height and width with the same number of doublings, got image shape {self.image_shape_}."
            )
        shared, features = trunk(channels, height, width, (r0[0][0], r0[1][0]), base=self.width)
        self.encoder_ = nn.Sequential(shared, nn.Linear(features, self.latent_dim))
        self.generator_ = generator_network(self.latent_dim, self.image_shape_, base=self.width)
        init_weights_(self.encoder_, rng, conv_normal=False)
        init_weights_(self.generator_, rng, conv_normal=True)
        self._dropout_rng = dropout_rng
        set_dropout_generator(self.encoder_, dropout_rng)
        self.encoder_.to(device)
        self.generator_.to(device)

    def _adam(self, *nets: nn.Module) -> torch.optim.Adam:
        params = [p for net in nets for p in net.parameters()]
        return torch.optim.Adam(params, lr=self.lr, betas=(self.beta1, 0.999))

    def _batches(self, n_items: int, rng: torch.Generator) -> list[torch.Tensor]:
        return list(torch.randperm(n_items, generator=rng).split(self.batch_size))

    def _train_autoencoder(self, x: torch.Tensor, rng: torch.Generator) -> list[dict[str, float]]:
        """Phase 1: MSE reconstruction through E → G on all images."""
        optimizer = self._adam(self.encoder_, self.generator_)
        self.encoder_.train()
        self.generator_.train()
        history = []
        epochs = tqdm(range(self.autoencoder_epochs), desc="BAGAN autoencoder", disable=not self.progress)
        for epoch in epochs:
            start, total = time.perf_counter(), 0.0
            for batch in self._batches(x.shape[0], rng):
                real = x[batch.to(x.device)]
                loss = F.mse_loss(self.generator_(self.encoder_(real)), real)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * batch.numel()
            seconds = time.perf_counter() - start
            history.append({"epoch": epoch, "loss": total / x.shape[0], "seconds": seconds})
            logger.info("BAGAN autoencoder epoch %d: %s", epoch, history[-1])
        return history

    @torch.no_grad()
    def _fit_gaussians(self, x: torch.Tensor, targets: torch.Tensor) -> None:
        """Phase 2a: N(μ_c, Σ_c) of the codes of each class, and the label distribution."""
        self.encoder_.eval()
        codes = torch.cat([self.encoder_(chunk) for chunk in x.split(INFERENCE_BATCH)]).cpu()
        self.gaussians_, self.jitter_ = {}, {}
        for index, label in enumerate(self.classes_.tolist()):
            self.gaussians_[label], self.jitter_[label] = fit_class_gaussian(codes[targets == index])
        self.class_probabilities_ = class_probabilities(self.class_counts_, self.class_sampling)

    def _init_discriminator(self, rng: torch.Generator) -> None:
        """Phase 2b: D = copy of the trained trunk + fresh (K+1)-way head."""
        trunk = copy.deepcopy(self.encoder_[0])
        head = nn.Linear(self.encoder_[1].in_features, len(self.classes_) + 1)
        init_weights_(head, rng, conv_normal=False)
        device = next(trunk.parameters()).device
        self.discriminator_ = nn.Sequential(trunk, head.to(device))
        set_dropout_generator(self.discriminator_, self._dropout_rng)

    def sample_latents(self, targets: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """(n,) class indices 0..K−1 → (n, latent_dim) float32 codes z ~ N(μ_c, Σ_c), CPU."""
        dists = list(self.gaussians_.values())
        locs = torch.stack([d.loc for d in dists])[targets]
        trils = torch.stack([d.scale_tril for d in dists])[targets]
        eps = torch.randn(targets.shape[0], self.latent_dim, generator=rng, dtype=torch.float64)
        return (locs + torch.einsum("nij,nj->ni", trils, eps)).float()

    def _fakes(self, n: int, rng: torch.Generator, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        targets = torch.multinomial(self.class_probabilities_, n, replacement=True, generator=rng)
        return self.sample_latents(targets, rng).to(device), targets.to(device)

    def _train_adversarial(
        self, x: torch.Tensor, targets: torch.Tensor, rng: torch.Generator
    ) -> list[dict[str, float]]:
        """Phase 3: alternating D and G steps per real batch."""
        opt_d, opt_g = self._adam(self.discriminator_), self._adam(self.generator_)
        self.discriminator_.train()
        self.generator_.train()
        fake_class, n_classes = len(self.classes_), len(self.classes_)
        history = []
        for epoch in tqdm(range(self.gan_epochs), desc="BAGAN adversarial", disable=not self.progress):
            start, sums = time.perf_counter(), [0.0, 0.0]
            for batch in self._batches(x.shape[0], rng):
                batch = batch.to(x.device)
                n_fake = math.ceil(batch.numel() / n_classes)
                z, _ = self._fakes(n_fake, rng, x.device)
                with torch.no_grad():
                    fake = self.generator_(z)
                inputs = torch.cat([x[batch], fake])
                wanted = torch.cat([targets[batch], torch.full((n_fake,), fake_class, device=x.device)])
                loss_d = F.cross_entropy(self.discriminator_(inputs), wanted)
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()

                z, conditioning = self._fakes(n_fake + batch.numel(), rng, x.device)
                self.discriminator_.requires_grad_(False)
                loss_g = F.cross_entropy(self.discriminator_(self.generator_(z)), conditioning)
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
                self.discriminator_.requires_grad_(True)
                sums[0] += float(loss_d.detach()) * batch.numel()
                sums[1] += float(loss_g.detach()) * batch.numel()
            history.append(
                {
                    "epoch": epoch,
                    "discriminator_loss": sums[0] / x.shape[0],
                    "generator_loss": sums[1] / x.shape[0],
                    "seconds": time.perf_counter() - start,
                }
            )
            logger.info("BAGAN adversarial epoch %d: %s", epoch, history[-1])
        return history

    @torch.no_grad()
    def sample(
        self, n_per_class: Mapping[int, int], random_state: int | torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode ``n_per_class[c]`` draws of ``N(μ_c, Σ_c)`` per class, ascending class order.

        Returns:
            ``(X_new, y_new)``: (M, C, H, W) CPU images in the dtype and range of ``X``
            and (M,) int64 labels. ``random_state=None`` uses ``sample_seed_``.
        """
        if not hasattr(self, "generator_"):
            raise RuntimeError("This BAGAN instance is not fitted yet: call `fit` first.")
        rng = check_generator(self.sample_seed_ if random_state is None else random_state)
        known = self.classes_.tolist()
        labels = [
            torch.full((check_int("n_per_class", n, minimum=0),), c, dtype=torch.long)
            for c, n in sorted(n_per_class.items())
        ]
        y_new = torch.cat(labels) if labels else torch.empty(0, dtype=torch.long)
        if any(c not in known for c in n_per_class):
            raise ValueError(f"`n_per_class` may only name fitted classes {known}, got {sorted(n_per_class)}.")
        z = self.sample_latents(torch.searchsorted(self.classes_, y_new), rng)
        device = next(self.generator_.parameters()).device
        chunks = [
            from_network_range(self.generator_(part.to(device)), self.dtype_).cpu() for part in z.split(INFERENCE_BATCH)
        ]
        x_new = torch.cat(chunks) if chunks else torch.empty((0, *self.image_shape_), dtype=self.dtype_)
        return x_new, y_new

    def fit_resample(self, X: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Fit, then fill every class up to the majority count with generated images.

        Args:
            X: (N, C, H, W) uint8 in [0, 255] or float in [0, 1]; y: (N,) int labels.

        Returns:
            ``(X_res, y_res)``: the N originals unchanged, then the synthetic images
            grouped by class in ascending order; dtype of ``X``, int64 labels.
        """
        self.fit(X, y)
        majority = int(self.class_counts_.max())
        self.n_synthetic_ = {int(c): majority - int(n) for c, n in zip(self.classes_, self.class_counts_)}
        x_new, y_new = self.sample({c: n for c, n in self.n_synthetic_.items() if n > 0})
        images = check_images(X)
        labels = check_labels(y, images.shape[0])
        return torch.cat([images.cpu(), x_new]), torch.cat([labels.cpu(), y_new])
