"""Build a random-weight Whisper model of the real architecture, offline, in CTranslate2 format.

Why: no model hub is reachable on CI or on an air-gapped machine, but the pipeline's latency
and capacity depend on the architecture, not on the weights. The result is marked
``"dev": true`` in ``voicebot-model.json``; its transcripts are meaningless and are never
presented as recognition.

The tokenizer is Whisper's real one: ``multilingual.tiktoken`` (ranks of byte-level BPE
tokens) converted into a Hugging Face ``tokenizers`` BPE with Whisper's special tokens in
Whisper's order, so token ids, language tokens and timestamps match the real models.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from voicebot.config import ROOT
from voicebot.logs import get_logger

log = get_logger(__name__)

# Whisper's 99 language codes in token order (<|en|> = 50259 ...), as in whisper/tokenizer.py.
WHISPER_LANGUAGES = (
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur "
    "hr bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si "
    "km sn yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha "
    "ba jw su"
).split()


@dataclass(frozen=True)
class WhisperArch:
    d_model: int
    layers: int
    heads: int


ARCHS = {"tiny": WhisperArch(384, 4, 6), "base": WhisperArch(512, 6, 8)}


def find_tiktoken() -> Path:
    """Locate Whisper's ``multilingual.tiktoken`` (MIT): $VOICEBOT_WHISPER_ASSETS, the shared
    folder beside the checkout, a cache, or else Whisper's own PyPI sdist (fetched with pip)."""
    candidates = []
    if os.environ.get("VOICEBOT_WHISPER_ASSETS"):
        candidates.append(Path(os.environ["VOICEBOT_WHISPER_ASSETS"]))
    candidates += [ROOT.parent / "shared" / "models" / "whisper_tokenizer", Path.home() / ".cache" / "voicebot" / "whisper_assets"]
    for c in candidates:
        if (c / "multilingual.tiktoken").is_file():
            return c / "multilingual.tiktoken"
    return _fetch_from_pypi_sdist(candidates[-1])


def _fetch_from_pypi_sdist(dest: Path) -> Path:
    log.warning("whisper tokenizer assets not found locally; fetching the openai-whisper sdist from PyPI")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", tmp, "openai-whisper"]
        res = subprocess.run(cmd, capture_output=True, text=True)
        sdists = list(Path(tmp).glob("openai*whisper*.tar.gz"))
        if res.returncode != 0 or not sdists:
            raise RuntimeError(
                "cannot find Whisper's multilingual.tiktoken: set VOICEBOT_WHISPER_ASSETS to a folder holding it "
                f"(it ships in the openai-whisper package under whisper/assets/); pip said: {res.stderr[-400:]}"
            )
        with tarfile.open(sdists[0]) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("whisper/assets/multilingual.tiktoken"))
            dest.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src, open(dest / "multilingual.tiktoken", "wb") as out:  # type: ignore[union-attr]
                shutil.copyfileobj(src, out)
    return dest / "multilingual.tiktoken"


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used by byte-level BPE vocabularies."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def _bpe_split(ranks: dict[bytes, int], token: bytes, max_rank: int) -> list[bytes]:
    parts = [bytes([b]) for b in token]
    while True:
        best = None
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and r < max_rank and (best is None or r < best[1]):
                best = (i, r)
        if best is None:
            return parts
        i = best[0]
        parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2 :]


def special_tokens() -> list[str]:
    toks = ["<|endoftext|>", "<|startoftranscript|>"] + [f"<|{lang}|>" for lang in WHISPER_LANGUAGES]
    toks += ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>"]
    toks += [f"<|{i * 0.02:.2f}|>" for i in range(1501)]
    return toks


def build_tokenizer(tiktoken_path: Path):
    """Whisper's multilingual tokenizer as a ``tokenizers.Tokenizer`` (51,865 tokens)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    ranks: dict[bytes, int] = {}
    for line in tiktoken_path.read_text().splitlines():
        if line.strip():
            tok, rank = line.split()
            ranks[base64.b64decode(tok)] = int(rank)
    byte_map = _bytes_to_unicode()

    def enc(b: bytes) -> str:
        return "".join(byte_map[x] for x in b)

    vocab = {enc(tok): rank for tok, rank in ranks.items()}
    merges = []
    for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(tok) == 1:
            continue
        parts = _bpe_split(ranks, tok, rank)
        if len(parts) == 2:
            merges.append((enc(parts[0]), enc(parts[1])))
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in special_tokens()])
    if tokenizer.get_vocab_size() != 51865:
        raise RuntimeError(f"whisper tokenizer has {tokenizer.get_vocab_size()} tokens, expected 51865")
    return tokenizer


def build_whisper_dev(out_dir: Path, size: str = "base", quantization: str = "int8", seed: int = 0) -> Path:
    """Write a CTranslate2 Whisper model of architecture ``size`` with random weights to ``out_dir``."""
    import ctranslate2.converters
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperTokenizerFast

    arch = ARCHS[size]
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(find_tiktoken())
    cfg = WhisperConfig(
        vocab_size=51865, num_mel_bins=80, d_model=arch.d_model,
        encoder_layers=arch.layers, decoder_layers=arch.layers,
        encoder_attention_heads=arch.heads, decoder_attention_heads=arch.heads,
        encoder_ffn_dim=4 * arch.d_model, decoder_ffn_dim=4 * arch.d_model,
        max_source_positions=1500, max_target_positions=448,
        decoder_start_token_id=50258, eos_token_id=50257, pad_token_id=50257, bos_token_id=50257,
    )
    with tempfile.TemporaryDirectory() as tmp:
        hf_dir = Path(tmp) / "hf"
        model = WhisperForConditionalGeneration(cfg)
        # The converter takes the language token ids from the generation config.
        model.generation_config.lang_to_id = {f"<|{lang}|>": 50259 + i for i, lang in enumerate(WHISPER_LANGUAGES)}
        model.generation_config.suppress_tokens = []
        model.generation_config.begin_suppress_tokens = [220, 50257]
        model.save_pretrained(hf_dir)
        tokenizer.save(str(hf_dir / "tokenizer.json"))
        WhisperTokenizerFast(tokenizer_file=str(hf_dir / "tokenizer.json"), bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>").save_pretrained(hf_dir)
        WhisperFeatureExtractor(feature_size=80).save_pretrained(hf_dir)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        conv = ctranslate2.converters.TransformersConverter(str(hf_dir), copy_files=["tokenizer.json", "preprocessor_config.json"])
        conv.convert(str(out_dir), quantization=quantization, force=True)
    # transformers does not persist lang_to_id through save_pretrained, so the converter finds no
    # language tokens; write Whisper's (ids 50259.. in WHISPER_LANGUAGES order) into the CT2 config.
    ct2_cfg_path = out_dir / "config.json"
    ct2_cfg = json.loads(ct2_cfg_path.read_text())
    ct2_cfg["lang_ids"] = [50259 + i for i in range(len(WHISPER_LANGUAGES))]
    ct2_cfg["suppress_ids"] = ct2_cfg.get("suppress_ids") or []
    ct2_cfg_path.write_text(json.dumps(ct2_cfg, indent=2))
    meta = {
        "name": out_dir.name, "kind": "asr", "engine": "faster-whisper", "dev": True,
        "architecture": f"whisper-{size}", "quantization": quantization,
        "note": "RANDOM WEIGHTS: measures latency and cost, never accuracy",
    }
    (out_dir / "voicebot-model.json").write_text(json.dumps(meta, indent=2))
    return out_dir
