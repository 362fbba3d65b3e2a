"""Tiny random-weight generators for the image-head tests (built from configs, saved to disk).

Everything is a few thousand parameters, so a pipeline loads and generates in well under a
second; nothing is downloaded. The folders mimic real model folders exactly
(``save_pretrained`` layouts, the DCGAN ``weights.tar`` format).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

EMBED_DIM = 8


def save_tiny_dcgan(path: Path, n_latents: int = 6, n_filters: int = 2, seed: int = 0) -> Path:
    """A random DCGAN generator saved as ``{"netG_state_dict": ...}`` (the package format)."""
    import torch

    from brainalign.decoders import build_dcgan_generator

    torch.manual_seed(seed)
    net = build_dcgan_generator(n_latents, n_filters, 3)
    with torch.no_grad():  # larger weights and non-trivial batch-norm statistics, so that
        for module in net.modules():  # images vary with z as a trained generator's do
            if isinstance(module, torch.nn.ConvTranspose2d):
                module.weight.normal_(0, 0.5)
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    torch.save({"netG_state_dict": net.state_dict()}, path)
    return path


def tiny_ddim(prediction_type: str = "epsilon"):
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        num_train_timesteps=100,
        beta_schedule="squaredcos_cap_v2",
        steps_offset=1,
        prediction_type=prediction_type,
        set_alpha_to_one=False,
    )


def save_tiny_conditional(root: Path, *, seed: int = 0) -> Path:
    """Pixel-space UNet conditioned by class-embedding projection, with a PCA embedder."""
    import torch
    from diffusers import UNet2DConditionModel

    from brainalign.decoders import PCAEmbedder, save_conditional_diffusion

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        mid_block_type="UNetMidBlock2D",
        norm_num_groups=4,
        class_embed_type="projection",
        projection_class_embeddings_input_dim=EMBED_DIM,
        cross_attention_dim=8,
    )
    rng = np.random.default_rng(seed)
    embedder = PCAEmbedder.fit(rng.uniform(size=(40, 8, 8, 1)), EMBED_DIM)
    return save_conditional_diffusion(root, unet, tiny_ddim(), embedder=embedder)


def save_tiny_latent_cross_attention(root: Path, *, seed: int = 0) -> Path:
    """Latent diffusion (tiny VAE) conditioned through cross-attention tokens, no embedder."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from brainalign.decoders import save_conditional_diffusion

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=4,
        in_channels=4,
        out_channels=4,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        norm_num_groups=4,
        cross_attention_dim=4,
        attention_head_dim=2,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 8),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=8,
    )
    return save_conditional_diffusion(root, unet, tiny_ddim(), vae=vae)


def save_tiny_unclip(root: Path, *, seed: int = 0) -> Path:
    """A complete tiny StableUnCLIPImg2ImgPipeline folder (tokenizer files written by hand)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDPMScheduler,
        StableUnCLIPImg2ImgPipeline,
        UNet2DConditionModel,
    )
    from diffusers.pipelines.stable_diffusion.stable_unclip_image_normalizer import (
        StableUnCLIPImageNormalizer,
    )
    from transformers import (
        CLIPImageProcessor,
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTokenizer,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
    )

    torch.manual_seed(seed)
    tok_dir = root.parent / f"{root.name}-tokenizer-src"
    tok_dir.mkdir(parents=True, exist_ok=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    vocab.update({f"{c}</w>": i + 2 for i, c in enumerate("abcdefgh")})
    (tok_dir / "vocab.json").write_text(json.dumps(vocab))
    (tok_dir / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(
        str(tok_dir / "vocab.json"), str(tok_dir / "merges.txt"), model_max_length=77
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=8,
            intermediate_size=16,
            num_attention_heads=2,
            num_hidden_layers=1,
            vocab_size=len(vocab),
            max_position_embeddings=77,
            projection_dim=8,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=8,
            intermediate_size=16,
            num_attention_heads=2,
            num_hidden_layers=1,
            image_size=16,
            patch_size=8,
            projection_dim=EMBED_DIM,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=4,
        in_channels=4,
        out_channels=4,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        norm_num_groups=4,
        cross_attention_dim=8,
        attention_head_dim=2,
        class_embed_type="projection",
        projection_class_embeddings_input_dim=2 * EMBED_DIM,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 8),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=8,
    )
    pipe = StableUnCLIPImg2ImgPipeline(
        feature_extractor=CLIPImageProcessor(crop_size=16, size={"shortest_edge": 16}),
        image_encoder=image_encoder,
        image_normalizer=StableUnCLIPImageNormalizer(embedding_dim=EMBED_DIM),
        image_noising_scheduler=DDPMScheduler(beta_schedule="squaredcos_cap_v2"),
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        unet=unet,
        scheduler=tiny_ddim("v_prediction"),
        vae=vae,
    )
    pipe.save_pretrained(root)
    return root
