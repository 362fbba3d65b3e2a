"""Image reconstruction metrics of the NSD protocol (MindEye1/2, Brain-Diffuser).

Reference implementation: MindEyeV2 ``src/final_evaluations.ipynb`` (MindEye1
``src/Reconstruction_Metrics.py`` is the same):

- **PixCorr**: both image sets resized to 425 × 425 (bilinear), then the mean over images
  of the Pearson r between the flattened RGB vectors of ground truth and reconstruction.
- **SSIM**: resized to 425, converted to grayscale with ``skimage.color.rgb2gray``, then
  ``skimage.metrics.structural_similarity(rec, gt, gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1.0)`` averaged over images. Grayscale, not
  colour (MinD-Video's colour SSIM is another metric).
- **Two-way identification** on network features: for each reconstruction ``j``, the
  fraction of the other ``N - 1`` ground-truth images whose features correlate with the
  reconstruction's features *less* than its own ground truth's do; averaged over ``j``
  (chance 0.5). Computed over the whole test set, not random pairs.

Images are channel-last arrays ``(n, H, W, 3)`` (or ``(n, H, W)`` grayscale): floats in
[0, 1], or uint8 (divided by 255, as ``skimage.img_as_float`` does).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "RGB2GRAY_WEIGHTS",
    "network_features",
    "pixcorr",
    "resize_images",
    "ssim",
    "to_grayscale",
    "two_way_identification",
]

#: ``skimage.color.rgb2gray`` weights (ITU-R BT.709 luma).
RGB2GRAY_WEIGHTS = np.array([0.2125, 0.7154, 0.0721])
#: Side of the square images on which the protocol computes PixCorr and SSIM.
PROTOCOL_SIZE = 425


# --------------------------------------------------------------------------------------------
# image input
# --------------------------------------------------------------------------------------------
def _check_images(images: Any, name: str) -> np.ndarray:
    """Stack images into a float64 array (n, H, W) or (n, H, W, C), C in {1, 3}."""
    if isinstance(images, (list, tuple)):
        if len(images) == 0:
            raise ValueError(f"`{name}` must hold at least one image; got an empty list")
        arrays = [np.asarray(im) for im in images]
        shapes = [a.shape for a in arrays]
        if len(set(shapes)) > 1:
            distinct = sorted(set(shapes))
            first_bad = next(i for i, s in enumerate(shapes) if s != shapes[0])
            raise ValueError(
                f"`{name}` must hold images of one size; got {len(distinct)} different shapes "
                f"({distinct[:4]}{'...' if len(distinct) > 4 else ''}; image 0 is "
                f"{shapes[0]}, image {first_bad} is {shapes[first_bad]}). Resize them to a "
                "common size first (the protocol compares at 425 x 425)."
            )
        dtypes = {a.dtype for a in arrays}
        if len(dtypes) > 1:
            raise TypeError(
                f"`{name}` must hold images of one dtype; got {sorted(map(str, dtypes))}"
            )
        arr = np.stack(arrays)
    else:
        arr = np.asarray(images)
    if arr.dtype == object:
        raise TypeError(f"`{name}` must be a numeric array of images; got dtype object")
    if arr.ndim not in (3, 4):
        raise ValueError(
            f"`{name}` must have shape (n_images, H, W) or (n_images, H, W, 3); got shape "
            f"{arr.shape}. Pass a single image as images[None]."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"`{name}` must hold at least one image; got shape {arr.shape}")
    if arr.ndim == 4 and arr.shape[-1] not in (1, 3):
        hint = (
            " Channels-first images? Use np.moveaxis(images, 1, -1)."
            if arr.shape[1] in (1, 3)
            else ""
        )
        raise ValueError(
            f"`{name}` must be channel-last with 1 or 3 channels, (n_images, H, W, 3); got "
            f"shape {arr.shape}.{hint}"
        )
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float64) / 255.0
    elif np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    else:
        raise TypeError(
            f"`{name}` must be uint8 (0..255) or float in [0, 1]; got dtype {arr.dtype}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must contain only finite values; got NaN or inf")
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return arr


def _check_counts(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"`{names[1]}` must have one image per image of `{names[0]}` (same order); got "
            f"{a.shape[0]} and {b.shape[0]} images (shapes {a.shape} and {b.shape})"
        )


def _check_size(size: Any) -> int | None:
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"`size` must be None or an int >= 1 (pixels); got {size!r}")
    return int(size)


def resize_images(images: Any, size: int, *, antialias: bool = True) -> np.ndarray:
    """Bilinear resize so that the shorter side is ``size`` (torchvision ``Resize(size)``).

    ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``, which is
    what ``torchvision.transforms.Resize(size, BILINEAR)`` runs on tensors. The longer side
    becomes ``int(size * long / short)``; square images become ``size × size``.
    ``antialias`` only changes downsampling (torchvision >= 0.17 and PIL antialias; NSD
    evaluations upsample 224 / 256 px images to 425, where it has no effect).

    Parameters
    ----------
    images : array-like, shape (n, H, W) or (n, H, W, C)
        Floats in [0, 1] or uint8.
    size : int
    antialias : bool

    Returns
    -------
    resized : ndarray, shape (n, H', W'[, C]), float64
    """
    import torch

    arr = _check_images(images, "images")
    size = _check_size(size)
    if size is None:
        return arr
    h, w = arr.shape[1:3]
    if h <= w:
        new_h, new_w = size, int(size * w / h)
    else:
        new_h, new_w = int(size * h / w), size
    if (new_h, new_w) == (h, w):
        return arr
    gray = arr.ndim == 3
    t = torch.from_numpy(arr[:, None] if gray else np.moveaxis(arr, -1, 1).copy())
    out = torch.nn.functional.interpolate(
        t, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=antialias
    ).numpy()
    return out[:, 0] if gray else np.moveaxis(out, 1, -1)


def to_grayscale(images: Any) -> np.ndarray:
    """``skimage.color.rgb2gray``: ``0.2125 R + 0.7154 G + 0.0721 B``; gray images unchanged.

    Parameters
    ----------
    images : array-like, shape (n, H, W, 3) or (n, H, W)

    Returns
    -------
    gray : ndarray, shape (n, H, W), float64
    """
    arr = _check_images(images, "images")
    return arr @ RGB2GRAY_WEIGHTS if arr.ndim == 4 else arr


def _prepare_pair(
    images_true: Any, images_pred: Any, size: int | None
) -> tuple[np.ndarray, np.ndarray]:
    a = _check_images(images_true, "images_true")
    b = _check_images(images_pred, "images_pred")
    _check_counts(a, b, ("images_true", "images_pred"))
    size = _check_size(size)
    if size is not None:
        a, b = resize_images(a, size), resize_images(b, size)
    if a.shape != b.shape:
        raise ValueError(
            f"`images_true` and `images_pred` must have the same image size and channels; got "
            f"shapes {a.shape} and {b.shape}"
            + (
                ". Pass size=425 (the protocol) to resize both."
                if size is None
                else " after resizing (non-square images of different aspect ratios?)."
            )
        )
    return a, b


def _row_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r between matching rows; 0 where a row is constant."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1))
    num = np.sum(a * b, axis=1)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------
def pixcorr(
    images_true: Any, images_pred: Any, *, size: int | None = PROTOCOL_SIZE, average: bool = True
) -> float | np.ndarray:
    """PixCorr: Pearson r between the flattened pixels of each image pair.

    Parameters
    ----------
    images_true : array-like, shape (n, H, W, 3) or (n, H, W), or list of images
        Ground truth; floats in [0, 1] or uint8.
    images_pred : array-like, shape (n, H', W', 3) or (n, H', W'), or list
        Reconstructions, same order.
    size : int or None
        Resize both sets so that the shorter side is ``size`` first (protocol: 425,
        bilinear). ``None``: compare as given (sizes must then match).
    average : bool
        Return the mean over images (the protocol's number) or the per-image array.

    Returns
    -------
    float or ndarray, shape (n,)
        Pearson r; 0 for an image pair where either image is constant.

    Raises
    ------
    ValueError
        Different numbers of images, mixed sizes within a set, different sizes with
        ``size=None``, wrong layout.
    """
    a, b = _prepare_pair(images_true, images_pred, size)
    r = _row_corr(a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1))
    return float(np.mean(r)) if average else r


def _ssim_batch(x: np.ndarray, y: np.ndarray, data_range: float, sigma: float) -> np.ndarray:
    """skimage's structural_similarity (Gaussian weights) for stacks of 2-D images."""
    from scipy.ndimage import gaussian_filter

    truncate = 3.5
    radius = int(truncate * sigma + 0.5)
    win = 2 * radius + 1
    h, w = x.shape[1:]
    if h < win or w < win:
        raise ValueError(
            f"images must be at least {win} x {win} pixels for SSIM with sigma={sigma} (an "
            f"{win}-tap Gaussian window); got {h} x {w}. Use size=425 (the protocol)."
        )

    def filt(im: np.ndarray) -> np.ndarray:
        return gaussian_filter(im, sigma=sigma, truncate=truncate, mode="reflect", axes=(1, 2))

    ux, uy = filt(x), filt(y)
    vx = filt(x * x) - ux * ux
    vy = filt(y * y) - uy * uy
    vxy = filt(x * y) - ux * uy
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    pad = (win - 1) // 2
    return s[:, pad : h - pad, pad : w - pad].mean(axis=(1, 2), dtype=np.float64)


def ssim(
    images_true: Any,
    images_pred: Any,
    *,
    size: int | None = PROTOCOL_SIZE,
    data_range: float = 1.0,
    sigma: float = 1.5,
    average: bool = True,
) -> float | np.ndarray:
    """Grayscale SSIM with Gaussian weights, as the NSD protocol computes it.

    Equals, image by image, ``skimage.metrics.structural_similarity(gray_pred, gray_true,
    gaussian_weights=True, sigma=sigma, use_sample_covariance=False,
    data_range=data_range)`` on ``skimage.color.rgb2gray`` images (computed here in float64
    on the whole stack: the same Gaussian filter, ``truncate=3.5``, ``mode="reflect"``,
    K1 = 0.01, K2 = 0.03, border of ``(win - 1) / 2`` pixels cropped before the mean).

    Parameters
    ----------
    images_true, images_pred : array-like or list of images
        As in :func:`pixcorr`.
    size : int or None
        Resize (shorter side, bilinear) before the grayscale conversion; protocol 425.
    data_range : float
        Dynamic range of the float images (1.0 for images in [0, 1]; uint8 input is
        divided by 255 first, so keep 1.0).
    sigma : float
        Standard deviation of the Gaussian window (protocol: 1.5, an 11-tap window).
    average : bool
        Mean over images, or the per-image array.

    Returns
    -------
    float or ndarray, shape (n,)

    Raises
    ------
    ValueError
        As :func:`pixcorr`; also values outside ``[0, data_range]`` (a sign that
        ``data_range`` is wrong) and images smaller than the window.
    """
    try:
        data_range = float(data_range)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`data_range` must be a positive number; got {data_range!r}") from exc
    if not np.isfinite(data_range) or data_range <= 0:
        raise ValueError(f"`data_range` must be a positive number; got {data_range!r}")
    if not (isinstance(sigma, numbers.Real) and sigma > 0):
        raise ValueError(f"`sigma` must be > 0; got {sigma!r}")
    a = _check_images(images_true, "images_true")
    b = _check_images(images_pred, "images_pred")
    for arr, name in ((a, "images_true"), (b, "images_pred")):
        lo, hi = float(arr.min()), float(arr.max())
        tol = 1e-6 * data_range
        if lo < -tol or hi > data_range + tol:
            raise ValueError(
                f"`{name}` values must lie in [0, data_range={data_range:g}]; got range "
                f"[{lo:g}, {hi:g}]. Scale the images to [0, 1] (or pass the right data_range)."
            )
    a, b = _prepare_pair(a, b, size)
    # grayscale after resizing, as the protocol does (both are linear maps)
    ga = a @ RGB2GRAY_WEIGHTS if a.ndim == 4 else a
    gb = b @ RGB2GRAY_WEIGHTS if b.ndim == 4 else b
    values = _ssim_batch(gb, ga, data_range, float(sigma))
    return float(np.mean(values)) if average else values


def _check_features(features: Any, name: str) -> np.ndarray:
    arr = np.asarray(features)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"`{name}` must be a numeric array; got dtype {arr.dtype}")
    if arr.ndim < 2:
        raise ValueError(
            f"`{name}` must have shape (n_images, n_features) (or (n_images, ...), flattened); "
            f"got shape {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"`{name}` must not be empty; got shape {arr.shape}")
    arr = arr.reshape(arr.shape[0], -1).astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must contain only finite values; got NaN or inf")
    return arr


def two_way_identification(
    features_true: Any, features_pred: Any, *, average: bool = True
) -> float | np.ndarray:
    """Two-way identification accuracy on network features (MindEye / Brain-Diffuser).

    With ``G`` the ground-truth features and ``P`` the reconstructions' features (rows =
    images, flattened), ``r[i, j] = corr(G_i, P_j)``; reconstruction ``j`` scores
    ``#{i : r[i, j] < r[j, j]} / (N - 1)``, the fraction of the other ground-truth images
    that are *less* correlated with it than its own (ties count as failures, as
    ``np.corrcoef(...) < congruents`` does). Chance is 0.5.

    Parameters
    ----------
    features_true : array-like, shape (n_images, ...)
        Features of the ground-truth images (e.g. :func:`network_features`).
    features_pred : array-like, shape (n_images, ...)
        Features of the reconstructions, same order and shape.
    average : bool
        Mean over reconstructions (the protocol's number) or the per-reconstruction array.

    Returns
    -------
    float or ndarray, shape (n_images,)

    Raises
    ------
    ValueError
        Fewer than 2 images, different numbers of images or feature sizes.
    """
    G = _check_features(features_true, "features_true")
    P = _check_features(features_pred, "features_pred")
    if G.shape[0] != P.shape[0]:
        raise ValueError(
            f"`features_pred` must have one row per row of `features_true` (the same images in "
            f"the same order); got shapes {np.shape(features_true)} and {np.shape(features_pred)}"
        )
    if G.shape[1] != P.shape[1]:
        raise ValueError(
            f"`features_true` and `features_pred` must have the same number of features (same "
            f"network and layer); got {G.shape[1]} and {P.shape[1]} (shapes "
            f"{np.shape(features_true)} and {np.shape(features_pred)})"
        )
    n = G.shape[0]
    if n < 2:
        raise ValueError(f"two-way identification needs at least 2 images; got {n}")
    Gz = G - G.mean(axis=1, keepdims=True)
    Pz = P - P.mean(axis=1, keepdims=True)
    gn = np.linalg.norm(Gz, axis=1)
    pn = np.linalg.norm(Pz, axis=1)
    Gz = np.divide(Gz, gn[:, None], out=np.zeros_like(Gz), where=gn[:, None] > 0)
    Pz = np.divide(Pz, pn[:, None], out=np.zeros_like(Pz), where=pn[:, None] > 0)
    r = Gz @ Pz.T  # r[i, j] = corr(gt_i, recon_j)
    congruent = np.diag(r)
    success = np.sum(r < congruent[None, :], axis=0) / (n - 1)
    return float(np.mean(success)) if average else success


# --------------------------------------------------------------------------------------------
# network features
# --------------------------------------------------------------------------------------------
def _make_extractor(model: Any, device: str, batch_size: int) -> Any:
    """An extractor for ``model``: a name, a path, or an extractor instance."""
    from brainalign.features import EfficientNetExtractor, ImageExtractor

    if hasattr(model, "extract"):
        return model
    if not isinstance(model, (str, Path)):
        raise TypeError(
            "`model` must be 'efficientnet-lite0', the path of an EfficientNet .pth state dict, "
            "a transformers vision model folder, a feature extractor, or a callable "
            f"images -> features; got {type(model).__name__}"
        )
    name = str(model)
    kwargs = {"device": device, "batch_size": batch_size, "verbose": False}
    if name.startswith("efficientnet-") or name.endswith((".pth", ".pt")):
        if name == "efficientnet-lite0" or name.endswith((".pth", ".pt")):
            # no centre crop: resize to 224 and keep the whole image, as MindEye does
            return EfficientNetExtractor(model=name, resize=224, image_size=224, **kwargs)
        raise ValueError(
            f"`model` {name!r} has no bundled weights; use 'efficientnet-lite0' or the path of "
            "a .pth state dict"
        )
    path = Path(name).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"`model` {name!r} is neither 'efficientnet-lite0' nor an existing path (a "
            "transformers vision model folder or a .pth file)"
        )
    return ImageExtractor(model=str(path), **kwargs)


def network_features(
    images: Any,
    model: Any = "efficientnet-lite0",
    *,
    layer: str,
    device: str = "cpu",
    batch_size: int = 16,
) -> np.ndarray:
    """Features of images at one named layer of a feature network (for identification).

    Parameters
    ----------
    images : array-like (n, H, W[, 3]) or list of images / paths
        Floats in [0, 1] or uint8 arrays, PIL images or image files.
    model : str, path, extractor or callable
        - ``"efficientnet-lite0"`` (ImageNet weights bundled, offline) or the path of an
          EfficientNet ``.pth`` state dict: :class:`~brainalign.features.EfficientNetExtractor`
          with images resized to 224 × 224, no centre crop; layers ``layer_0`` (stem) ...
          ``layer_8`` (1280-d head features), spatially average-pooled;
        - a transformers vision model folder: :class:`~brainalign.features.ImageExtractor`
          (layers ``layer_<i>.cls`` / ``layer_<i>.mean``);
        - a brainalign feature extractor instance (its ``extract``);
        - a callable ``images -> ndarray (n, ...)`` (``layer`` is then only a label).
    layer : str
        The layer to return (e.g. ``"layer_8"``). Required: the protocol's scores depend
        on it (MindEye: AlexNet ``features.4`` / ``features.11``, Inception ``avgpool``).
    device : str
        Torch device of the network.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    features : ndarray, shape (n_images, n_features)

    Notes
    -----
    The networks of the published protocol (AlexNet, InceptionV3, CLIP ViT-L/14,
    EfficientNet-B1, SwAV) need torchvision / OpenAI CLIP weights; EfficientNet-Lite0 is
    the offline stand-in, so its two-way scores are not comparable to published AlexNet or
    Inception numbers. Pass one of those networks as an extractor or callable to reproduce
    them.
    """
    if not isinstance(layer, str) or not layer:
        raise ValueError(f"`layer` must name a layer of the network, e.g. 'layer_8'; got {layer!r}")
    if isinstance(images, np.ndarray) or (
        isinstance(images, (list, tuple)) and images and isinstance(images[0], np.ndarray)
    ):
        arr = _check_images(images, "images")
        items: Sequence[Any] = list(arr.astype(np.float64))
    else:
        if not isinstance(images, (list, tuple)) or not images:
            raise ValueError("`images` must be a non-empty array or list of images")
        items = list(images)
    if callable(model) and not hasattr(model, "extract"):
        fn: Callable[[Any], Any] = model
        out = np.asarray(fn(np.stack(items) if isinstance(items[0], np.ndarray) else items))
        return out.reshape(out.shape[0], -1).astype(np.float64)
    extractor = _make_extractor(model, device, batch_size)
    fs = extractor.extract(items)
    if layer not in fs.layers:
        raise KeyError(
            f"`layer` {layer!r} is not a layer of {model!r}; available layers: {fs.layer_names}"
        )
    feats = np.asarray(fs.layers[layer], dtype=np.float64)
    return feats.reshape(feats.shape[0], -1)
