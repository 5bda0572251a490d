"""A sentence-embedding model in a local folder, run by ONNX Runtime and its own tokenizer.

The folder holds `model.onnx` (token vectors out, or one pooled vector a text) and
`tokenizer.json`, optionally `tokenizer_config.json` for the longest input
(`model_max_length`). The bundled model and `embedding.model_path` are both run this way:
each text is tokenized without padding, run alone, and its token vectors averaged (mean
pooling; no padding means the attention mask is all ones). fastembed, which runs the same
steps, is left to the models it downloads by name: importing it costs about half a second
and 20 MB, and its batch machinery a tenth of every one-text run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

LONGEST = 512  # tokens: the most any BERT-style position table holds


class LocalModel:
    """One loaded model folder. `embed` is safe to call from several threads at once."""

    def __init__(
        self, folder: Path, threads: int | None, default_length: int, session: dict[str, Any]
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        try:
            self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:
            raise ValueError(f"tokenizer.json: {exc}") from None
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(min(_max_length(folder, default_length), LONGEST))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0
        for name, value in session.items():
            setattr(options, name, value)
        try:
            self.session = ort.InferenceSession(
                str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ValueError(f"model.onnx: {str(exc).strip().splitlines()[-1][:300]}") from None
        self.inputs = {i.name for i in self.session.get_inputs()}

    def embed(self, texts: Sequence[str]) -> Iterator[np.ndarray]:
        """One vector a text (not yet of unit length), in input order."""
        import numpy as np

        for encoding in self.tokenizer.encode_batch(list(texts)):
            ids = np.array([encoding.ids], dtype=np.int64)
            feed = {"input_ids": ids}
            if "attention_mask" in self.inputs:
                feed["attention_mask"] = np.ones_like(ids)
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            out = self.session.run(None, feed)[0][0]
            yield out if out.ndim == 1 else out.mean(axis=0)


def _max_length(folder: Path, default: int) -> int:
    """`model_max_length` of tokenizer_config.json; `default` without one that makes sense
    (room for at least one token between the two the tokenizer adds)."""
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        length = config["model_max_length"]
    except (OSError, ValueError, KeyError, TypeError):
        return default
    return int(min(length, 1 << 20)) if isinstance(length, int | float) and length >= 3 else default
