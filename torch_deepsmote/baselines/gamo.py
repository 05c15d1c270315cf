"""GAMO (Mullick, Datta, Das, ICCV 2019): oversampling by a convex generator.

Three players: a classifier M, a class-conditional real/fake discriminator D and a
generator whose conditional trunk feeds one *convex head* per minority class. Head c
outputs softmax weights over the n_c real training images of class c, so every
synthetic image is a convex combination of real images of its class. All losses are
MSE on softmax/sigmoid outputs; Adam (lr 2e-4, β1 0.5) for all three; batch 32.

Choices where the description leaves room (BASELINES.md, "GAN baselines: 2 GAMO"):

* **Dense, pixel-space variant only.** The convex combination runs over the
  flattened real images (C·H·W values in [-1, 1]), so the output is an image, as
  DeepSMOTE's comparison needs; the conv/feature-space variant (which needs the
  separate GAMO2pix decoder) is not provided. Inputs of 3×32×32 work the same way.
* **Classes re-indexed by ascending size** (ties by label): the one-hot position of a
  class is its size rank. Every class smaller than the largest gets a head; classes
  as large as the largest (ties included) get none and no synthetic images.
* **Length in steps** (real batches), not epochs: the original's ``max_step =
  50000`` advances by 2 per batch, i.e. 25 000 batches (``steps=25_000``). The default
  ``steps=2000`` (about 7 passes over Fashion-MNIST at the paper's counts, 282 batches
  each) fits a CPU budget: measured on a shared 2-core CPU with one torch thread, about
  120 ms of CPU per step (190 ms wall under load), so ~4 min, against ~50 min for the
  original length. Real batches walk shuffled passes over the data; the last batch of a
  pass may be smaller.
* **Per step**: (1) M on the real batch (one-hot targets), D on it with targets
  U(0.9, 1); (2) a fake batch of the same size, labels drawn ∝ (n_max − n_c), made
  by the generator in eval mode (batch-norm running statistics, as at sampling time),
  M trained on it with its labels and D with targets U(0, 0.1); (3) per minority
  class, ⌈batch_size / K⌉ fakes (4 for batch 32 and K = 10) from one noise draw, and
  two generator updates with M and D frozen: toward M's output ``1 − one_hot(c)``, then
  toward D's "real" (1) with label c. The generator has one Adam optimiser (heads
  not in a step get no update, the trunk's moments are shared by both updates).
  Batches of one class give batch norm a single value per channel when
  ⌈batch_size / K⌉ = 1, so at least 2 fakes are made.
* **Batch norm momentum**: Keras' 0.9 is PyTorch's 0.1 (the default).
* **No dropout anywhere**, so all randomness comes from ``random_state``; weights use
  PyTorch's default init drawn from it (Keras' Dense default would be Glorot-uniform).
  Adam uses ``foreach=True`` (same numbers as the default loop, ~1.5× faster on CPU).
* **Threads**: the nets are small; on a shared 2-core CPU ``torch.set_num_threads(1)``
  was several times faster than 2 threads (OpenMP contention). The library leaves the
  thread count to the caller.
* **Output**: the synthetic images are convex combinations computed in [-1, 1] and
  mapped back to X's range (an affine map, so still convex combinations of the
  class's real images); uint8 output is rounded. Only the samples feed ResNet-18; the
  trained M is kept (``classifier_``) but GAMO's own classifier is not used (the
  DeepSMOTE paper's numbers are consistent with this reading).
* A class of a single image gets a head with one weight: its synthetic images are
  copies of it.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from torch_deepsmote._utils.validation import (
    check_float,
    check_generator,
    check_images,
    check_int,
    check_labels,
    resolve_device,
)
from torch_deepsmote.nn.init import reset_parameters_
from torch_deepsmote.nn.ranges import from_network_range, to_network_range

__all__ = ["GAMO"]

logger = logging.getLogger(__name__)
LOSS_NAMES = ("m_real", "d_real", "m_fake", "d_fake", "g_classifier", "g_discriminator")


class ConvexGenerator(nn.Module):
    """Conditional trunk ``[z, one_hot] → 256 → 64`` plus one softmax head per minority class.

    Args:
        latent_dim: size of the noise ``z``.
        n_classes: K, the one-hot size.
        head_sizes: dict size-rank → n_c, the number of real images the head mixes.
    """

    def __init__(self, latent_dim: int, n_classes: int, head_sizes: dict[int, int]) -> None:
        super().__init__()
        self.latent_dim, self.n_classes = latent_dim, n_classes
        self.trunk = nn.Sequential(
            nn.Linear(latent_dim + n_classes, 256),
            nn.ReLU(),
            nn.BatchNorm1d(256, momentum=0.1),
            nn.Linear(256, 64),
            nn.ReLU(),
            nn.BatchNorm1d(64, momentum=0.1),
        )
        self.heads = nn.ModuleDict({str(r): nn.Linear(64, n) for r, n in head_sizes.items()})

    def weights(self, z: torch.Tensor, rank: int) -> torch.Tensor:
        """(B, latent_dim) noise for class ``rank`` → (B, n_c) convex weights (rows sum to 1)."""
        one_hot = F.one_hot(torch.full_like(z[:, 0], rank, dtype=torch.long), self.n_classes)
        code = self.trunk(torch.cat([z, one_hot.to(z.dtype)], dim=1))
        return torch.softmax(self.heads[str(rank)](code), dim=1)


def _classifier(dim: int, n_classes: int) -> nn.Module:
    """M: (B, dim) → (B, K) logits (softmax applied in the loss)."""
    return nn.Sequential(
        nn.Linear(dim, 256),
        nn.LeakyReLU(0.1),
        nn.Linear(256, 128),
        nn.LeakyReLU(0.1),
        nn.Linear(128, n_classes),
    )


def _discriminator(dim: int, n_classes: int) -> nn.Module:
    """D: (B, dim + K) [sample, one-hot] → (B, 1) logit (sigmoid applied in the loss)."""
    return nn.Sequential(
        nn.Linear(dim + n_classes, 256),
        nn.LeakyReLU(0.1),
        nn.Linear(256, 128),
        nn.LeakyReLU(0.1),
        nn.Linear(128, 1),
    )


def _soft_targets(low: float, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(B, 1) targets uniform in [low, low + 0.1), on ``x``'s device."""
    return (low + 0.1 * torch.rand(x.shape[0], 1, generator=generator)).to(x.device)


def _update(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> torch.Tensor:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


class GAMO:
    """Generative Adversarial Minority Oversampling, dense pixel-space variant.

    Args:
        latent_dim: noise size of the generator (100 in the original).
        steps: training batches (the original: 25 000; default 2000 for a CPU budget).
        batch_size: real batch size, also the fake batch size (32).
        lr: Adam learning rate of all three players (2e-4).
        beta1: Adam β1 (0.5); β2 is 0.999.
        device: where training runs; ``None`` = CUDA when available.
        random_state: int seed, ``torch.Generator`` or ``None`` (fresh entropy).
        progress: show a progress bar over the steps.

    Attributes:
        classes_: (K,) sorted class labels; ``ranks_``: dict label → size rank (0 = smallest).
        n_synthetic_: dict label → number of synthetic images (0 for the largest class).
        class_indices_: dict label → (n_c,) int64 indices into ``X`` of the class's images,
            in the column order of its convex weights (minority classes only).
        members_: dict size rank → (n_c, C·H·W) images of each minority class in [-1, 1], on
            ``device``: the vectors its head mixes.
        generator_, classifier_, discriminator_: the trained players (eval mode).
        history_: one dict of mean losses per pass over the real data.
        sample_weights_: dict label → (m_c, n_c) convex weights of the synthetic images that
            ``fit_resample`` returned: image = weights @ class images.
    """

    def __init__(
        self,
        *,
        latent_dim: int = 100,
        steps: int = 2000,
        batch_size: int = 32,
        lr: float = 2e-4,
        beta1: float = 0.5,
        device: Any = None,
        random_state: int | torch.Generator | None = None,
        progress: bool = False,
    ) -> None:
        self.latent_dim = latent_dim
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.beta1 = beta1
        self.device = device
        self.random_state = random_state
        self.progress = progress

    def _check_params(self) -> None:
        check_int("latent_dim", self.latent_dim, minimum=1)
        check_int("steps", self.steps, minimum=0)
        check_int("batch_size", self.batch_size, minimum=1)
        check_float("lr", self.lr, minimum=0.0, inclusive_minimum=False)
        check_float("beta1", self.beta1, minimum=0.0, maximum=1.0)
        if self.beta1 >= 1.0:
            raise ValueError(f"`beta1` must be a finite number in [0.0, 1.0), got {self.beta1}.")

    def fit(self, X: Any, y: Any) -> "GAMO":
        """Train the three players on (N, C, H, W) images ``X`` and (N,) labels ``y``."""
        self._check_params()
        images = check_images(X)
        labels = check_labels(y, images.shape[0])
        device = resolve_device(self.device)
        self.classes_, counts = torch.unique(labels, return_counts=True)
        order = sorted(range(len(self.classes_)), key=lambda i: (int(counts[i]), int(self.classes_[i])))
        self.ranks_ = {int(self.classes_[i]): rank for rank, i in enumerate(order)}
        n_max = int(counts.max())
        self.n_synthetic_ = {int(c): n_max - int(n) for c, n in zip(self.classes_, counts)}
        self.class_indices_ = {c: torch.nonzero(labels == c).flatten() for c, n in self.n_synthetic_.items() if n > 0}
        self.image_shape_, self.dtype_ = tuple(images.shape[1:]), images.dtype
        seeds = torch.randint(2**62, (3,), generator=check_generator(self.random_state)).tolist()
        self.sample_seed_ = seeds[2]

        flat = to_network_range(images).flatten(1).to(device)
        rank_of = torch.tensor([self.ranks_[int(c)] for c in self.classes_])
        ranked = rank_of[torch.searchsorted(self.classes_, labels)].to(device)
        self.members_ = {self.ranks_[c]: flat[idx.to(device)] for c, idx in self.class_indices_.items()}
        self._build(flat.shape[1], device, seeds[0])
        self.history_ = self._train(flat, ranked, device, torch.Generator().manual_seed(seeds[1]))
        for net in (self.generator_, self.classifier_, self.discriminator_):
            net.eval()
        return self

    def _build(self, dim: int, device: torch.device, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        n_classes = len(self.classes_)
        head_sizes = {rank: members.shape[0] for rank, members in self.members_.items()}
        convex = ConvexGenerator(self.latent_dim, n_classes, head_sizes)
        self.generator_ = reset_parameters_(convex, generator)
        self.classifier_ = reset_parameters_(_classifier(dim, n_classes), generator)
        self.discriminator_ = reset_parameters_(_discriminator(dim, n_classes), generator)
        for net in (self.generator_, self.classifier_, self.discriminator_):
            net.to(device).train()

    def _train(
        self, flat: torch.Tensor, ranked: torch.Tensor, device: torch.device, generator: torch.Generator
    ) -> list[dict[str, float]]:
        """Run ``steps`` GAMO steps; return the mean losses of every pass over the data."""
        optimizers = [
            torch.optim.Adam(net.parameters(), lr=self.lr, betas=(self.beta1, 0.999), foreach=True)
            for net in (self.classifier_, self.discriminator_, self.generator_)
        ]
        counts = torch.bincount(ranked, minlength=len(self.classes_)).double()
        shortfall = (counts.max() - counts).cpu()
        history: list[dict[str, float]] = []
        sums, n_in_pass, position, perm = torch.zeros(len(LOSS_NAMES), device=device), 0, 0, None
        for step in tqdm(range(self.steps), desc="GAMO", unit="step", disable=not self.progress):
            if perm is None or position >= len(perm):
                perm, position = torch.randperm(flat.shape[0], generator=generator).to(device), 0
            batch = perm[position : position + self.batch_size]
            position += self.batch_size
            sums += self._step(flat[batch], ranked[batch], shortfall, optimizers, generator)
            n_in_pass += 1
            if position >= len(perm) or step == self.steps - 1:
                history.append({"steps": step + 1, **dict(zip(LOSS_NAMES, (sums / n_in_pass).tolist()))})
                logger.debug("GAMO pass %d: %s", len(history), history[-1])
                sums.zero_()
                n_in_pass = 0
        return history

    def _step(
        self,
        x: torch.Tensor,
        r: torch.Tensor,
        shortfall: torch.Tensor,
        optimizers: list[torch.optim.Optimizer],
        generator: torch.Generator,
    ) -> torch.Tensor:
        """One GAMO step on a real batch ``x`` (B, dim) of size ranks ``r`` (B,); returns 6 losses."""
        opt_m, opt_d, opt_g = optimizers
        M, D, K = self.classifier_, self.discriminator_, len(self.classes_)
        losses = torch.zeros(len(LOSS_NAMES), device=x.device)
        hot = F.one_hot(r, K).float()
        losses[0] = _update(opt_m, F.mse_loss(torch.softmax(M(x), 1), hot))
        real_target = _soft_targets(0.9, x, generator)
        losses[1] = _update(opt_d, F.mse_loss(torch.sigmoid(D(torch.cat([x, hot], 1))), real_target))
        if not self.members_:
            return losses
        fake_r = torch.multinomial(shortfall, x.shape[0], replacement=True, generator=generator).to(x.device)
        fake = self._generate_mixed(fake_r, generator)
        hot = F.one_hot(fake_r, K).float()
        losses[2] = _update(opt_m, F.mse_loss(torch.softmax(M(fake), 1), hot))
        fake_target = _soft_targets(0.0, x, generator)
        losses[3] = _update(opt_d, F.mse_loss(torch.sigmoid(D(torch.cat([fake, hot], 1))), fake_target))
        M.requires_grad_(False)
        D.requires_grad_(False)
        losses[4:] = self._train_generator(opt_g, generator, x.device)
        M.requires_grad_(True)
        D.requires_grad_(True)
        return losses

    def _train_generator(
        self, optimizer: torch.optim.Optimizer, generator: torch.Generator, device: torch.device
    ) -> torch.Tensor:
        """Two updates of trunk + head per minority class (M and D frozen); returns 2 mean losses."""
        M, D, K = self.classifier_, self.discriminator_, len(self.classes_)
        n_fake = max(2, math.ceil(self.batch_size / K))  # batch norm needs 2 items in train mode
        losses = torch.zeros(2, device=device)
        for rank, members in self.members_.items():
            z = torch.randn(n_fake, self.latent_dim, generator=generator).to(device)
            hot = F.one_hot(torch.full((n_fake,), rank, device=device), K).float()
            fake = self.generator_.weights(z, rank) @ members
            losses[0] += _update(optimizer, F.mse_loss(torch.softmax(M(fake), 1), 1.0 - hot))
            fake = self.generator_.weights(z, rank) @ members
            real = torch.ones_like(fake[:, :1])
            losses[1] += _update(optimizer, F.mse_loss(torch.sigmoid(D(torch.cat([fake, hot], 1))), real))
        return losses / len(self.members_)

    @torch.no_grad()
    def _generate_mixed(self, ranks: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """(B,) size ranks → (B, dim) fakes, made in eval mode (running batch-norm statistics)."""
        self.generator_.eval()
        z = torch.randn(ranks.shape[0], self.latent_dim, generator=generator).to(ranks.device)
        fake = torch.empty(ranks.shape[0], next(iter(self.members_.values())).shape[1], device=ranks.device)
        for rank in torch.unique(ranks).tolist():
            where = ranks == rank
            fake[where] = self.generator_.weights(z[where], rank) @ self.members_[rank]
        self.generator_.train()
        return fake

    @torch.no_grad()
    def convex_weights(self, label: int, n_samples: int, random_state: Any = None) -> torch.Tensor:
        """(n_samples, n_c) CPU convex weights of class ``label``'s head, for fresh noise.

        The images are ``weights @ X[class_indices_[label]]`` (flattened, in X's range).
        """
        if not hasattr(self, "generator_"):
            raise RuntimeError("This GAMO instance is not fitted yet: call `fit` first.")
        if label not in self.class_indices_:
            raise ValueError(
                f"`label` must be a class with a convex head, one of {sorted(self.class_indices_)}; got {label!r}."
            )
        n_samples = check_int("n_samples", n_samples, minimum=0)
        device = next(self.generator_.parameters()).device
        z = torch.randn(n_samples, self.latent_dim, generator=check_generator(random_state)).to(device)
        if n_samples == 0:
            return torch.empty(0, len(self.class_indices_[label]))
        return self.generator_.weights(z, self.ranks_[label]).cpu()

    def fit_resample(self, X: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Fit, then return the originals followed by each class filled to the majority count.

        Args:
            X: (N, C, H, W) uint8 in [0, 255] or float in [0, 1].
            y: (N,) non-negative integer labels.

        Returns:
            ``(X_res, y_res)``: (N + M, C, H, W) in X's dtype (synthetic images grouped by
            class in ascending order) and (N + M,) int64 labels.
        """
        self.fit(X, y)
        images = check_images(X)
        labels = check_labels(y, images.shape[0])
        generator = check_generator(self.sample_seed_)
        self.sample_weights_, new_images, new_labels = {}, [images], [labels]
        for label in sorted(self.class_indices_):
            weights = self.convex_weights(label, self.n_synthetic_[label], generator)
            self.sample_weights_[label] = weights
            members = self.members_[self.ranks_[label]]
            mixed = weights.to(members.device) @ members
            new_images.append(from_network_range(mixed.view(-1, *self.image_shape_), self.dtype_).cpu())
            new_labels.append(torch.full((weights.shape[0],), label, dtype=torch.long))
        return torch.cat(new_images), torch.cat(new_labels)
