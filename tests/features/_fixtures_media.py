"""Tiny random-weight vision, vision-language, video and audio models saved in a folder.

Every builder writes a model and its processor with ``save_pretrained`` into ``folder`` and
returns the folder as a string; nothing is downloaded. Also: a tiny grey mp4 whose frame
``i`` has every pixel at ``8 * i`` (:func:`write_video`), and a tiny WordLevel tokenizer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: A small ViT-style vision config shared by the builders (4 x 4 patches of 8 pixels).
VISION = dict(
    hidden_size=16,
    intermediate_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    image_size=32,
    patch_size=8,
)

WORDS = [
    "<pad>",
    "<unk>",
    "<s>",
    "</s>",
    "<image>",
    "a",
    "photo",
    "of",
    "cat",
    "dog",
    "red",
    "what",
    "is",
    "in",
    "the",
    "image",
    "describe",
    "colour",
]

FPS, N_VIDEO_FRAMES, VIDEO_SIZE, CLIP_FRAMES = 10, 30, 32, 4
SR = 16000


def _quiet_save(*objects, folder) -> str:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        for obj in objects:
            obj.save_pretrained(folder)
    finally:
        hf_logging.enable_progress_bar()
    return str(folder)


def word_tokenizer(bos_eos: bool):
    """A WordLevel fast tokenizer over :data:`WORDS` (``<s> ... </s>`` when ``bos_eos``)."""
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    extra = {}
    if bos_eos:
        tk.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", 2), ("</s>", 3)]
        )
    else:
        extra = {"extra_special_tokens": {"image_token": "<image>"}}
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tk,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        **extra,
    )


def clip_image_processor():
    import transformers

    return transformers.CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )


def save_vit(folder: Path, seed: int = 0) -> str:
    """ViT (2 layers, 16 dims, CLS + 16 patches) and a 32 x 32 ViT image processor."""
    import torch
    import transformers

    torch.manual_seed(seed)
    model = transformers.ViTModel(transformers.ViTConfig(**VISION), add_pooling_layer=False)
    processor = transformers.ViTImageProcessor(size={"height": 32, "width": 32})
    return _quiet_save(model.eval(), processor, folder=folder)


def save_clip(folder: Path, seed: int = 0) -> str:
    """CLIP: vision tower of 2 layers, text tower of 3, projection to 8 dims."""
    import torch
    import transformers

    tc = transformers.CLIPTextConfig(
        vocab_size=len(WORDS),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        max_position_embeddings=16,
        bos_token_id=2,
        eos_token_id=3,
        pad_token_id=0,
    )
    vc = transformers.CLIPVisionConfig(**VISION)
    cfg = transformers.CLIPConfig(
        vision_config=vc.to_dict(), text_config=tc.to_dict(), projection_dim=8
    )
    torch.manual_seed(seed)
    processor = transformers.CLIPProcessor(
        image_processor=clip_image_processor(), tokenizer=word_tokenizer(bos_eos=True)
    )
    return _quiet_save(transformers.CLIPModel(cfg).eval(), processor, folder=folder)


def save_llava(folder: Path, seed: int = 0) -> str:
    """LLaVA: CLIP vision tower (2 layers) + Llama (3 layers), 16 image tokens per image."""
    import torch
    import transformers

    vc = transformers.CLIPVisionConfig(**VISION)
    tc = transformers.LlamaConfig(
        vocab_size=len(WORDS),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        num_key_value_heads=2,
        pad_token_id=0,
    )
    cfg = transformers.LlavaConfig(
        vision_config=vc,
        text_config=tc,
        image_token_index=4,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    torch.manual_seed(seed)
    processor = transformers.LlavaProcessor(
        image_processor=clip_image_processor(),
        tokenizer=word_tokenizer(bos_eos=False),
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )
    model = transformers.LlavaForConditionalGeneration(cfg).eval()
    return _quiet_save(model, processor, folder=folder)


def save_videomae(folder: Path, seed: int = 0) -> str:
    """VideoMAE (2 layers, 16 dims, clips of 4 frames of 32 x 32, tubelets of 2)."""
    import torch
    import transformers

    cfg = transformers.VideoMAEConfig(
        image_size=32,
        patch_size=8,
        num_frames=CLIP_FRAMES,
        tubelet_size=2,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
    )
    torch.manual_seed(seed)
    processor = transformers.VideoMAEImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    return _quiet_save(transformers.VideoMAEModel(cfg).eval(), processor, folder=folder)


def save_wav2vec2(folder: Path, seed: int = 0) -> str:
    """wav2vec2 with hop 5 * 4 = 20 samples (800 Hz at 16 kHz), receptive field 20 samples.

    Layer norm in the front end (no group norm over time), so layer 0 is local and chunking
    can be checked; the feature extractor does not normalise.
    """
    import torch
    import transformers

    cfg = transformers.Wav2Vec2Config(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(8, 8),
        conv_kernel=(10, 3),
        conv_stride=(5, 4),
        num_feat_extract_layers=2,
        num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer",
    )
    torch.manual_seed(seed)
    fe = transformers.Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=SR, padding_value=0.0, do_normalize=False
    )
    return _quiet_save(transformers.Wav2Vec2Model(cfg).eval(), fe, folder=folder)


def write_video(path, n=N_VIDEO_FRAMES, fps=FPS, size=VIDEO_SIZE, codec="libx264") -> str:
    """A grey movie whose frame i has every pixel at 8 * i (B-frames on, near lossless)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "0"}
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(np.full((size, size, 3), 8 * i, np.uint8), "rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return str(path)
