"""Scoring benchmark: candidates per second through `labeler score`'s service on the CPU, against the bare model.

Each run stores N candidates (prompts of 4 replies) in a fresh database and scores them with the real
service (`labeler.services.scoring.score_project`: short read sessions, the model outside them, a
write per batch, margins). Next to it is the **floor**: the same conversations through the same loaded
scorer with no database at all. The models:
- `tiny`: the test suite's tiny random Llama (tests/local/tiny.py) with a one-output classification head;
- `demo`: the demo model (SmolLM2-135M, labeler/services/demo_model.py) de-quantised once into the data
  folder's cache. It is a causal LM: its classification head is **randomly initialised** here, so its
  scores mean nothing, but its time is the time of a 135M reward model, which is what is measured.

    python bench/score/run.py --candidates 50                 # tiny, SQLite
    python bench/score/run.py --candidates 2000 --models tiny,demo --backends sqlite,postgres --data-dir /tmp/lab
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import backend_url, peak_rss_mb, write_table  # noqa: E402

K = 4
FILLER = "please explain why the first answer is helpful and honest, then write a short reply. "


def reward_folder(model: str, work: Path) -> Path:
    """A one-output sequence-classification folder for `model` (tiny or demo), made once under `work`."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if model == "tiny":
        from tests.local.tiny import build_tiny_model

        base = build_tiny_model(work / "tiny-base")
    elif model == "demo":
        from labeler.services.demo_model import demo_model, prepare_demo_model

        name = demo_model()
        if name is None:
            raise SystemExit("the demo model is not installed: pip install 'labeler[local]'")
        base = prepare_demo_model(name, Path(os.environ["LABELER_DATA_DIR"]))
    else:
        raise SystemExit(f"unknown model `{model}`: tiny or demo")
    out = (base.parent if model == "demo" else work) / f"{base.name}-rm"
    if not (out / "config.json").is_file():
        tok = AutoTokenizer.from_pretrained(base)
        rm = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)  # a new, random head
        if model == "demo":  # the GGUF cache stores the tied embeddings as `lm_head` only: take them from there
            from transformers import AutoModelForCausalLM

            causal = AutoModelForCausalLM.from_pretrained(base)
            rm.get_input_embeddings().weight.data.copy_(causal.get_input_embeddings().weight.data)
        rm.config.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        rm.save_pretrained(out)
        tok.save_pretrained(out)
    return out


def populate(url: str, n_candidates: int) -> None:
    """A project `bench` with n candidates, K per prompt."""
    from sqlalchemy import insert

    from db.base import utcnow
    from db.models import Candidate, Prompt
    from labeler.hygiene import content_hash
    from labeler.services import session_scope
    from labeler.services.actors import OPERATOR
    from labeler.services.admin import upgrade_database
    from labeler.services.projects import create_project

    upgrade_database(url)
    now = utcnow()
    prompts = (n_candidates + K - 1) // K
    with session_scope(url) as s:
        pid = create_project(s, OPERATOR, "bench").id
        s.execute(insert(Prompt.__table__), [
            {"project_id": pid, "messages": [{"role": "user", "content": f"question {i}: {FILLER}"}],
             "split": "test", "content_hash": content_hash(f"bench.{i}"), "created_at": now} for i in range(prompts)])
        ids = s.scalars(Prompt.__table__.select().with_only_columns(Prompt.id).order_by(Prompt.id)).all()
        rows = [{"prompt_id": ids[i // K], "text": f"reply {i % K}: {FILLER * (1 + i % K)}",
                 "text_hash": content_hash(f"c{i}"), "origin": "generated", "created_at": now}
                for i in range(n_candidates)]
        s.execute(insert(Candidate.__table__), rows)


def measure(model: str, backend: str, n: int, batch_size: int, work: Path) -> dict:
    from labeler.services.actors import OPERATOR
    from labeler.services.scoring import ScoreRequest, load_scorer, score_project

    folder = reward_folder(model, work)
    scorer = load_scorer(folder, batch_size=batch_size)
    conversations = [[{"role": "user", "content": f"question {i // K}: {FILLER}"},
                      {"role": "assistant", "content": f"reply {i % K}: {FILLER * (1 + i % K)}"}] for i in range(n)]
    scorer(conversations[:batch_size])  # warm-up (first-call allocations)
    started = time.perf_counter()
    for i in range(0, n, 16 * batch_size):  # the service hands over one chunk's sorted batches likewise
        scorer(conversations[i:i + 16 * batch_size])
    floor = time.perf_counter() - started
    (work / f"db-{model}-{backend}").mkdir(parents=True, exist_ok=True)
    with backend_url(backend, work / f"db-{model}-{backend}") as url:
        populate(url, n)
        started = time.perf_counter()
        summary = score_project(OPERATOR, ScoreRequest(project="bench", reward_model=folder, batch_size=batch_size),
                                url=url, scorer=scorer)
        wall = time.perf_counter() - started
    assert summary.scored == n, summary
    return {"model": model, "backend": backend, "candidates": n, "batch_size": batch_size,
            "seconds": round(wall, 2), "candidates_per_s": round(n / wall, 1),
            "floor_per_s": round(n / floor, 1), "x_floor": round(wall / floor, 2),
            "peak_rss_mb": round(peak_rss_mb())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=400)
    parser.add_argument("--models", default="tiny", help="comma-separated: tiny, demo")
    parser.add_argument("--backends", default="sqlite", help="comma-separated: sqlite, postgres")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="keep the demo model's de-quantised cache here (default: a temporary folder)")
    args, _unknown = parser.parse_known_args()  # `make bench` passes the same args to every bench
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    torch.manual_seed(0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-score-") as tmp:
        work = Path(tmp)
        os.environ["LABELER_DATA_DIR"] = str(args.data_dir or work / "data")
        for model in [m.strip() for m in args.models.split(",") if m.strip()]:
            for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
                rows.append(measure(model, backend, args.candidates, args.batch_size, work))
                print(rows[-1], flush=True)
    print(write_table("score", rows, ["model", "backend", "candidates", "batch_size", "seconds", "candidates_per_s",
                                      "floor_per_s", "x_floor", "peak_rss_mb"],
                      f"Scoring on the CPU ({torch.get_num_threads()} threads): the service vs the bare model"))


if __name__ == "__main__":
    main()
