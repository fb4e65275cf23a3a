"""A tiny chat model built on the fly (random Llama weights, a word-level tokenizer with a chat template).

Nothing is downloaded: the tokenizer is trained on a few sentences and the model is made from a
config, then saved as a folder a `local:<path>` model setting can name. Missing torch/transformers
skips on a laptop and fails under CI=true, like the TRL consumer tests.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from tests.exports.trl_helpers import IN_CI, ROLE_TOKENS, train_tokenizer

INSTALL = "pip install 'labeler[local]'"
WORDS = ("question answer the a model reply helpful honest short long yes no maybe because first then "
         "finally please thanks write explain why how what when where who which one two three four five")


def require(name: str):
    """Import `name`; skip when it is missing on a developer's machine, fail under CI=true."""
    if not IN_CI:
        return pytest.importorskip(name, reason=f"local model tests need `{name}` ({INSTALL})")
    try:
        return importlib.import_module(name)
    except ImportError as e:
        pytest.fail(f"CI=true but `{name}` is not installed ({INSTALL}): {e}")


def build_tiny_model(folder: Path) -> Path:
    """Save a tiny random causal LM and its tokenizer (with a chat template) in `folder`."""
    torch = require("torch")
    transformers = require("transformers")
    records = [{"content": f"{WORDS} {i}"} for i in range(10)]
    tok = train_tokenizer(records, vocab_size=200)
    config = transformers.LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=256, pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    with torch.no_grad():  # never end a reply at once: random weights would often pick a special token
        for token in (tok.eos_token_id, tok.pad_token_id, tok.bos_token_id, tok.unk_token_id,
                      *tok.convert_tokens_to_ids(ROLE_TOKENS)):
            model.lm_head.weight[token].fill_(0.0)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
