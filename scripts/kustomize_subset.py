#!/usr/bin/env python3
"""The part of kustomize that deploy/kubernetes uses, so its overlays render where no kustomize
binary is: `resources` (files, and folders with a kustomization), `configMapGenerator` (`files`
and `literals`, each ConfigMap named with the hash of its content as kustomize names it, and
every reference to it in a pod template renamed), and `images` (`newName`, `newTag`).
A kustomization with any other field is refused, naming it, rather than rendered wrong.
scripts/validate-manifests renders every overlay with it, and with `kubectl kustomize` as well
where kubectl is installed, and fails when the two differ.

    python3 scripts/kustomize_subset.py deploy/kubernetes/overlays/standalone-redis

Needs PyYAML (the virtualenv scripts/validate-manifests makes has it).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Dict, List

import yaml

Doc = Dict[str, Any]
FIELDS = {"apiVersion", "kind", "resources", "configMapGenerator", "images"}
GENERATOR_FIELDS = {"name", "files", "literals"}
IMAGE_FIELDS = {"name", "newName", "newTag"}
# kustomize's legacy order of kinds (its default output order); other kinds follow, by name.
ORDER = [
    "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount",
    "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap",
    "Secret", "Endpoints", "Service", "LimitRange", "PriorityClass", "PersistentVolume",
    "PersistentVolumeClaim", "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget",
]
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}


class RenderError(Exception):
    pass


def render(folder: Path) -> List[Doc]:
    """Every document the kustomization in `folder` makes, in kustomize's order."""
    docs = _build(folder)
    rank = {kind: i for i, kind in enumerate(ORDER)}
    return sorted(docs, key=lambda d: (rank.get(d["kind"], len(ORDER)), d["kind"], d["metadata"]["name"]))


def _build(folder: Path) -> List[Doc]:
    path = folder / "kustomization.yaml"
    if not path.is_file():
        raise RenderError(f"{folder}: no kustomization.yaml")
    spec = yaml.safe_load(path.read_text()) or {}
    unknown = sorted(set(spec) - FIELDS)
    if unknown:
        raise RenderError(f"{path}: {', '.join(unknown)}: not in the subset scripts/kustomize_subset.py renders")
    docs: List[Doc] = []
    for entry in spec.get("resources", []):
        target = (folder / entry).resolve()
        if target.is_dir():
            docs.extend(_build(target))
        else:
            docs.extend(d for d in yaml.safe_load_all(target.read_text()) if d)
    renamed: Dict[str, str] = {}
    for generator in spec.get("configMapGenerator", []):
        config_map = _generate(folder, path, generator)
        renamed[generator["name"]] = config_map["metadata"]["name"]
        docs.append(config_map)
    for doc in docs:
        for pod in _pod_specs(doc):
            _rename_config_maps(pod, renamed)
            for image in spec.get("images", []):
                _set_image(pod, image, path)
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise RenderError(f"{path}: made twice: {twice}")
    return docs


def _generate(folder: Path, path: Path, generator: Doc) -> Doc:
    unknown = sorted(set(generator) - GENERATOR_FIELDS)
    if unknown:
        raise RenderError(f"{path}: configMapGenerator {generator.get('name')}: {', '.join(unknown)}: not rendered")
    data: Dict[str, str] = {}
    for entry in generator.get("files", []):
        key, _, file = entry.partition("=") if "=" in entry else (Path(entry).name, "", entry)
        data[key] = (folder / file).read_text()
    for literal in generator.get("literals", []):
        key, sep, value = literal.partition("=")
        if not sep:
            raise RenderError(f"{path}: literal {literal!r} has no =")
        data[key] = value
    name = generator["name"]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-{_hash(data)}"}, "data": data}


def _hash(data: Dict[str, str]) -> str:
    """kustomize's suffix: the SHA-256 of the ConfigMap's kind, name and data as Go's
    encoding/json writes them (keys sorted, HTML characters escaped), its first ten hex digits
    with 0, 1, 3, a and e spelled g, h, k, m and t (no suffix reads as a word or a number).
    kustomize 5 looks the name up by a path its lookup does not split, so it hashes an empty
    name: two generators of the same data make the same suffix."""
    text = json.dumps({"data": data, "kind": "ConfigMap", "name": ""}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    digits = hashlib.sha256(text.encode()).hexdigest()[:10]
    return digits.translate(str.maketrans("013ae", "ghkmt"))


def _pod_specs(doc: Doc) -> List[Doc]:
    if doc.get("kind") == "Pod":
        return [doc["spec"]]
    if doc.get("kind") in WORKLOADS:
        return [doc["spec"]["template"]["spec"]]
    if doc.get("kind") == "CronJob":
        return [doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    return []


def containers(pod: Doc) -> List[Doc]:
    return list(pod.get("initContainers", [])) + list(pod.get("containers", []))


def _rename_config_maps(pod: Doc, renamed: Dict[str, str]) -> None:
    def rename(ref: Doc) -> None:
        if ref.get("name") in renamed:
            ref["name"] = renamed[ref["name"]]

    for volume in pod.get("volumes", []):
        if "configMap" in volume:
            rename(volume["configMap"])
    for container in containers(pod):
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                rename(source["configMapRef"])
        for var in container.get("env", []):
            if "configMapKeyRef" in var.get("valueFrom", {}):
                rename(var["valueFrom"]["configMapKeyRef"])


def _set_image(pod: Doc, image: Doc, path: Path) -> None:
    unknown = sorted(set(image) - IMAGE_FIELDS)
    if unknown:
        raise RenderError(f"{path}: images {image.get('name')}: {', '.join(unknown)}: not rendered")
    for container in containers(pod):
        name, _, tag = container["image"].partition(":")
        if name == image["name"]:
            tag = image.get("newTag", tag)
            container["image"] = image.get("newName", name) + (f":{tag}" if tag else "")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} KUSTOMIZATION_FOLDER")
    yaml.safe_dump_all(render(Path(sys.argv[1])), sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
