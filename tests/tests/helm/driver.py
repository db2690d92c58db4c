"""Renders and lints the scopegate chart offline for the Rust tests in this directory.

Helm itself runs in-process through helm-python-sdk (Helm's Go SDK behind a C ABI, no helm
binary): `Chart.render` is `helm template` (it validates the values against
values.schema.json first) and `lint` is `helm lint`.

Reads one JSON request on stdin:

    {"chart": DIR, "release": NAME, "namespace": NS, "kube_version": "v1.25.0",
     "crd_schemas": {"monitoring.coreos.com/v1/ServiceMonitor": FILE},
     "cases": [{"name": ..., "values_file": FILE or null, "set": {...} or null, "lint": bool}]}

and writes one JSON answer on stdout:

    {"helm_sdk": ..., "cases": [{"name", "error": str or null, "manifests": {template: text},
      "objects": [{"template", "object"}], "notes": str, "lint": report or null,
      "crd_errors": [str]}]}

A case whose values are refused (schema or a template's `fail`) has `error` set and nothing else.
Values files are read with Helm's own YAML reader (`values_from_yaml`); manifests with PyYAML, as
kubernetes-validate reads them. Rust then only needs JSON.
Objects of a kind listed in `crd_schemas` are checked against that JSON schema (draft 7), since
kubernetes-validate ships schemas for built-in kinds only.
"""

import json
import sys

import helm_python as helm
import jsonschema
import yaml


def merge(base, overlay):
    """`overlay` over `base`, maps merged key by key (as Helm merges values files)."""
    if not isinstance(base, dict) or not isinstance(overlay, dict):
        return overlay
    out = dict(base)
    for key, value in overlay.items():
        out[key] = merge(base.get(key), value)
    return out


def documents(text):
    """The objects of one rendered manifest (several when it holds `---` separators)."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def run_case(chart, request, case, crd_schemas):
    values = {}
    if case.get("values_file"):
        with open(case["values_file"], encoding="utf-8") as f:
            values = helm.values_from_yaml(f.read())
    if case.get("set"):
        values = merge(values, case["set"])
    result = {"name": case["name"], "error": None}
    try:
        rendered = chart.render(
            values,
            name=request["release"],
            namespace=request["namespace"],
            is_install=True,
        )
    except helm.HelmError as exc:
        result["error"] = str(exc)
        return result

    manifests, objects, crd_errors, notes = {}, [], [], ""
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            notes = text
            continue
        if not text.strip():
            continue
        manifests[template] = text
        for obj in documents(text):
            objects.append({"template": template, "object": obj})
            kind = "%s/%s" % (obj.get("apiVersion"), obj.get("kind"))
            if kind in crd_schemas:
                validator = jsonschema.Draft7Validator(crd_schemas[kind])
                for error in validator.iter_errors(obj):
                    where = ".".join(str(p) for p in error.absolute_path)
                    crd_errors.append("%s %s: %s" % (kind, where, error.message))
    result.update(manifests=manifests, objects=objects, notes=notes, crd_errors=crd_errors)
    result["lint"] = (
        helm.lint(
            request["chart"],
            values,
            strict=True,
            namespace=request["namespace"],
            kube_version=request["kube_version"],
        )
        if case.get("lint")
        else None
    )
    return result


def main():
    request = json.load(sys.stdin)
    crd_schemas = {}
    for kind, path in request.get("crd_schemas", {}).items():
        with open(path, encoding="utf-8") as f:
            crd_schemas[kind] = json.load(f)
    with helm.Chart.load(request["chart"]) as chart:
        cases = [run_case(chart, request, case, crd_schemas) for case in request["cases"]]
    json.dump({"helm_sdk": helm.helm_sdk_version(), "cases": cases}, sys.stdout)


if __name__ == "__main__":
    main()
