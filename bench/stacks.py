"""Stack projects for the benchmarks and the reliability tests: the real program with N copies of a stack's image.

`project(tmp, n)` writes `Pulumi.yaml`, `__main__.py` and `stacks/Pulumi.<stack>.yaml` into `tmp`, with `n` copies of
the first image of `stacks/Pulumi.<source>.yaml`, each with its own name, gallery image id and image definition offer
(so the copies never share a template, an identity or an image definition).
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

ROOT = Path(__file__).resolve().parents[1]
IMAGES = "aib-images:images"


def images(n: int, *, source: str = "dev", prefix: str = "img") -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{source}.yaml").read_text())
    base_name, base = next(iter(doc["config"][IMAGES].items()))
    out: dict[str, Any] = {}
    for i in range(n):
        name = f"{prefix}-{i:04d}"
        image = copy.deepcopy(base)
        definition = image.setdefault("gallery", {}).setdefault("imageDefinition", {})
        definition["offer"] = f"{definition.get('offer', base_name)}-{i:04d}"
        for d in image["template"]["properties"]["distribute"]:
            if d.get("type") == "SharedImage":
                d["galleryImageId"] = d["galleryImageId"].rsplit("/", 1)[0] + "/" + name
            d["runOutputName"] = d["runOutputName"].replace(base_name, name)
        out[name] = image
    return out


def project(tmp: Path, n: int, *, stack: str = "bench", source: str = "dev",
            edit: Optional[Callable[[dict], None]] = None) -> Path:
    """A project in `tmp` whose stack `stack` has `n` copies of `source`'s image; `edit(config)` may change it."""
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "Pulumi.yaml", tmp / "Pulumi.yaml")
    shutil.copy(ROOT / "__main__.py", tmp / "__main__.py")
    for assets in ("scripts/linux", "files"):  # local script and file customizers name paths in the project
        if (ROOT / assets).is_dir() and not (tmp / assets).exists():
            shutil.copytree(ROOT / assets, tmp / assets)
    (tmp / "stacks").mkdir(exist_ok=True)
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{source}.yaml").read_text())
    doc["config"][IMAGES] = images(n, source=source)
    if edit is not None:
        edit(doc["config"])
    (tmp / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return tmp
