"""Missing or corrupt trained artifacts stop `make run` before any server starts, naming the
file and the command that rebuilds it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from bot.stack import artifact_problems


def good_model(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        data = b"{}"
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


def chroma(folder: Path, collection: str, header: bytes = b"SQLite format 3\x00") -> Path:
    folder.mkdir(parents=True)
    (folder / f"{collection}.stamp").write_text("x")
    (folder / "chroma.sqlite3").write_bytes(header + b"\x00" * 100)
    return folder


def env_for(tmp: Path) -> dict[str, str]:
    return {
        "SHOP_KB_PATH": str(tmp / "kb"),
        "SHOP_PRODUCT_INDEX_PATH": str(tmp / "products"),
        "SHOP_RECOMMENDER_PATH": str(tmp / "rec"),
    }


def recommender(folder: Path, weights: bytes | None = None) -> Path:
    import json

    folder.mkdir(parents=True)
    header = json.dumps({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (folder / "recommender.safetensors").write_bytes(weights or len(header).to_bytes(8, "little") + header + b"\0" * 4)
    (folder / "recommender.json").write_text("{}")
    return folder


def test_all_present_is_no_problem(tmp_path):
    chroma(tmp_path / "kb", "shop_kb")
    chroma(tmp_path / "products", "products")
    recommender(tmp_path / "rec")
    assert artifact_problems(good_model(tmp_path / "m.tar.gz"), env_for(tmp_path)) == []


def test_each_missing_artifact_is_named_with_its_rebuild_command(tmp_path):
    problems = artifact_problems(tmp_path / "m.tar.gz", env_for(tmp_path))
    assert problems == [
        f"the Rasa model {tmp_path / 'm.tar.gz'} is missing: run `make train`",
        f"the knowledge-base index {tmp_path / 'kb'} is missing: run `make index`",
        f"the product index {tmp_path / 'products'} is missing: run `make index`",
        f"the recommender model {tmp_path / 'rec'} is missing: run `make train-recommender`",
    ]


def test_corrupt_artifacts_are_named_with_their_rebuild_command(tmp_path):
    model = tmp_path / "m.tar.gz"
    model.write_bytes(b"\x1f\x8b not really gzip")
    chroma(tmp_path / "kb", "shop_kb", header=b"garbage garbage!")
    chroma(tmp_path / "products", "products")
    recommender(tmp_path / "rec", weights=b"\xff" * 16)
    problems = artifact_problems(model, env_for(tmp_path))
    assert len(problems) == 3
    assert problems[2].startswith(f"the recommender model {tmp_path / 'rec'} is corrupt")
    assert problems[0].startswith(f"the Rasa model {model} is corrupt") and f"rm {model} && make train" in problems[0]
    assert problems[1] == (
        f"the knowledge-base index {tmp_path / 'kb' / 'chroma.sqlite3'} is corrupt: "
        f"run `rm -rf {tmp_path / 'kb'} && make index`"
    )


def test_action_workers_follow_the_setting_or_the_cores():
    from bot.stack import action_workers

    assert [action_workers(0, cores) for cores in (None, 1, 2, 4, 16)] == [1, 1, 1, 1, 4]
    assert action_workers(3, 2) == 3  # SHOP_ACTION_WORKERS wins
