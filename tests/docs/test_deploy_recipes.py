"""The cluster recipes in deploy/ and their walkthrough (docs/scale-out.md, "Running on a real cluster").

Nothing here builds an image or talks to a cluster (no network): the files parse, the
`ray up` config passes Ray's own checks (the JSON schema shipped inside the ray package),
the KubeRay manifests have the structure the operator needs, every `photocull ...`
command line in them parses with the real CLI, and the versions agree across files.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML (installed with Ray) reads the deploy/ manifests")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOC = ROOT / "docs" / "scale-out.md"
SECTION = "## Running on a real cluster"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _yaml(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))


def _dockerfile_arg(name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S*)$", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"), re.M)
    assert match, f"deploy/Dockerfile has no default for ARG {name}"
    return match.group(1)


RAY_VERSION = _dockerfile_arg("RAY_VERSION")
PYTHON_TAG = _dockerfile_arg("PYTHON_TAG")


def _section() -> str:
    text = DOC.read_text(encoding="utf-8")
    assert SECTION in text, f"docs/scale-out.md lost its section {SECTION!r}"
    body = text.split(SECTION, 1)[1]
    return body.split("\n## ", 1)[0]  # up to the next top-level section


def _code_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```[^\n]*\n(.*?)^```", markdown, re.M | re.S)


# --- every file parses ---------------------------------------------------------------------

def test_every_yaml_in_deploy_parses() -> None:
    files = sorted(DEPLOY.rglob("*.yaml"))
    assert {f.relative_to(DEPLOY).as_posix() for f in files} >= {
        "kuberay/raycluster.yaml", "kuberay/rayjob.yaml", "kuberay/catalog-pvc.yaml", "ray-up/aws.yaml"}
    for path in files:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        assert documents and all(isinstance(d, dict) for d in documents), path


def test_photocull_toml_is_valid_photocull_settings() -> None:
    from photocull.config import load_settings

    settings = load_settings(DEPLOY / "photocull.toml")
    assert settings.scan.engine == "ray"
    assert settings.scan.ray_address == "auto"
    assert settings.scan.thumbnails is True  # made by the actors, saved by the driver beside the catalog


# --- ray up ----------------------------------------------------------------------------------

def test_ray_up_config_passes_rays_own_checks() -> None:
    pytest.importorskip("ray", reason="Ray is not installed: its cluster-config schema ships with it")
    pytest.importorskip("jsonschema", reason="jsonschema (a Ray dependency) validates the cluster config")
    import jsonschema
    import ray.autoscaler
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = _yaml("ray-up/aws.yaml")
    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(config, schema)  # the file as written, before Ray fills in its defaults
    prepared = prepare_config(copy.deepcopy(config))  # what `ray up` does before it launches anything
    validate_config(prepared)

    types = config["available_node_types"]
    assert types[config["head_node_type"]]["resources"] == {"CPU": 0}  # the head's CPUs are the driver's
    workers = {name: t for name, t in types.items() if name != config["head_node_type"]}
    gpu = [t for t in workers.values() if t.get("docker", {}).get("worker_image", "").endswith("-gpu")]
    assert len(gpu) == 1 and len(workers) == 2, "one CPU and one GPU worker node type"
    for node_type in workers.values():
        assert 0 <= node_type["min_workers"] <= node_type["max_workers"]
        assert "IamInstanceProfile" in node_type["node_config"], "workers read S3 with an instance profile"


def test_ray_up_installs_the_same_photocull_on_every_node() -> None:
    config = _yaml("ray-up/aws.yaml")
    lists = [config["setup_commands"]] + [
        t["worker_setup_commands"] for t in config["available_node_types"].values() if "worker_setup_commands" in t]
    wheel = f"photocull-{PROJECT['version']}-py3-none-any.whl[ray,s3]"
    for commands in lists:  # a node type's worker_setup_commands replace the global setup_commands
        installs = [c for c in commands if c.startswith("pip install") and "photocull-" in c]
        assert len(installs) == 1 and wheel in installs[0], commands
        assert f'"ray=={RAY_VERSION}"' in installs[0], "pip must not move the image's Ray"
        assert "photocull models fetch" in commands
    gpu_setup = next(t["worker_setup_commands"] for t in config["available_node_types"].values()
                     if "worker_setup_commands" in t)
    swap = next(c for c in gpu_setup if "pip uninstall -y onnxruntime" in c)
    spec = re.search(r'"onnxruntime-gpu\[[^"]+"', swap)
    assert spec and spec[0] in (DEPLOY / "Dockerfile").read_text(), "the same onnxruntime-gpu as the image"
    assert config["file_mounts"]["~/photocull-dist"] == "./dist"


# --- KubeRay ---------------------------------------------------------------------------------

def _containers(cluster: dict) -> list[tuple[str, dict]]:
    groups = [("head", cluster["spec"]["headGroupSpec"])] + [
        (g["groupName"], g) for g in cluster["spec"]["workerGroupSpecs"]]
    return [(name, c) for name, g in groups for c in g["template"]["spec"]["containers"]]


def test_raycluster_has_the_structure_kuberay_needs() -> None:
    cluster = _yaml("kuberay/raycluster.yaml")
    assert cluster["apiVersion"] == "ray.io/v1" and cluster["kind"] == "RayCluster"
    spec = cluster["spec"]
    head, groups = spec["headGroupSpec"], spec["workerGroupSpecs"]
    for group in [head, *groups]:  # KubeRay's CRD types rayStartParams as map[string]string
        assert all(isinstance(v, str) for v in group["rayStartParams"].values()), group["rayStartParams"]
        assert group["template"]["spec"]["containers"][0]["image"]
    assert head["rayStartParams"].get("num-cpus") == "0", "no actors on the head: its CPUs are the driver's"

    assert len({g["groupName"] for g in groups}) == len(groups) == 2
    gpu_groups = []
    for group in groups:
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"], group["groupName"]
        resources = group["template"]["spec"]["containers"][0]["resources"]
        gpus = resources["limits"].get("nvidia.com/gpu", 0)
        if gpus:
            gpu_groups.append(group)
            # Kubernetes requires an extended resource's request (if given) to equal its limit
            assert resources.get("requests", {}).get("nvidia.com/gpu", gpus) == gpus
            assert group["template"]["spec"]["containers"][0]["image"].endswith("-gpu")
        else:
            assert not group["template"]["spec"]["containers"][0]["image"].endswith("-gpu")
    assert len(gpu_groups) == 1 and gpu_groups[0]["template"]["spec"]["containers"][0][
        "resources"]["limits"]["nvidia.com/gpu"] == 1


def test_catalog_volume_is_on_the_head_only() -> None:
    cluster, pvc, job = _yaml("kuberay/raycluster.yaml"), _yaml("kuberay/catalog-pvc.yaml"), _yaml("kuberay/rayjob.yaml")
    assert pvc["kind"] == "PersistentVolumeClaim" and pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    head_pod = cluster["spec"]["headGroupSpec"]["template"]["spec"]
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"]
              for v in head_pod["volumes"] if "persistentVolumeClaim" in v}
    assert list(claims.values()) == [pvc["metadata"]["name"]]
    mounts = {m["name"]: m["mountPath"] for m in head_pod["containers"][0]["volumeMounts"]}
    catalog_dir = mounts[next(iter(claims))]
    argv = shlex.split(job["spec"]["entrypoint"])
    catalog = argv[argv.index("--catalog") + 1]
    assert Path(catalog).parent == Path(catalog_dir), "the job's --catalog must lie on the head's volume"
    for group in cluster["spec"]["workerGroupSpecs"]:  # one writer: no worker mounts the catalog
        assert not any("persistentVolumeClaim" in v for v in group["template"]["spec"].get("volumes", []))

    config_path = {e["name"]: e.get("value") for e in head_pod["containers"][0]["env"]}["PHOTOCULL_CONFIG"]
    config_volume = next(v for v in head_pod["volumes"] if "configMap" in v)
    assert Path(config_path) == Path(mounts[config_volume["name"]]) / "photocull.toml"


def test_every_pod_gets_the_object_storage_credentials_from_the_secret() -> None:
    cluster = _yaml("kuberay/raycluster.yaml")
    secrets = set()
    for name, container in _containers(cluster):
        env = {e["name"]: e for e in container.get("env", [])}
        for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
            assert variable in env, f"{name}: {variable} missing"
            ref = env[variable]["valueFrom"]["secretKeyRef"]
            assert ref["key"] == variable
            secrets.add(ref["name"])
        assert env["AWS_ENDPOINT_URL"]["valueFrom"]["secretKeyRef"].get("optional") is True  # AWS needs none
    assert len(secrets) == 1
    assert f"kubectl create secret generic {secrets.pop()}" in _section()


def test_rayjob_runs_on_that_cluster() -> None:
    cluster, job = _yaml("kuberay/raycluster.yaml"), _yaml("kuberay/rayjob.yaml")
    assert job["apiVersion"] == "ray.io/v1" and job["kind"] == "RayJob"
    assert job["spec"]["clusterSelector"] == {"ray.io/cluster": cluster["metadata"]["name"]}
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:3] == ["photocull", "scan", "s3://bucket/prefix"]
    assert argv[argv.index("--engine") + 1] == "ray" and argv[argv.index("--address") + 1] == "auto"


# --- versions agree ----------------------------------------------------------------------------

def _all_texts() -> dict[str, str]:
    texts = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
             for p in sorted(DEPLOY.rglob("*")) if p.is_file()}
    texts["docs/scale-out.md#running-on-a-real-cluster"] = _section()
    return texts


def test_ray_python_and_photocull_versions_agree() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", RAY_VERSION) and re.fullmatch(r"py3\d+", PYTHON_TAG)
    minimum = re.search(r">=\s*3\.(\d+)", PROJECT["requires-python"]).group(1)
    assert int(PYTHON_TAG[3:]) >= int(minimum), "the images' Python must be one photocull supports"
    assert "FROM rayproject/ray:${RAY_VERSION}-${PYTHON_TAG}${VARIANT}" in (DEPLOY / "Dockerfile").read_text()
    assert _yaml("kuberay/raycluster.yaml")["spec"]["rayVersion"] == RAY_VERSION

    own = re.compile(r"photocull:(?P<version>[^\s\"'-]+)-ray(?P<ray>[^\s\"'-]+)-(?P<py>py\d+)(?P<gpu>-gpu)?\b")
    upstream = re.compile(r"rayproject/ray:(?P<ray>[^\s\"'$-]+)-(?P<py>py\d+)(?P<gpu>-gpu)?\b")
    pins = re.compile(r"\bray==(?P<ray>[0-9][^\s\"']*)")  # not ray==${RAY_VERSION}
    seen = {"own": 0, "upstream": 0, "pins": 0}
    for name, text in _all_texts().items():
        for kind, pattern in (("own", own), ("upstream", upstream), ("pins", pins)):
            for match in pattern.finditer(text):
                seen[kind] += 1
                assert match["ray"] == RAY_VERSION, f"{name}: {match[0]} is not Ray {RAY_VERSION}"
                if "py" in pattern.groupindex:
                    assert match["py"] == PYTHON_TAG, f"{name}: {match[0]} is not {PYTHON_TAG}"
                if kind == "own":
                    assert match["version"] == PROJECT["version"], f"{name}: {match[0]} is not photocull {PROJECT['version']}"
    images = [c["image"] for _, c in _containers(_yaml("kuberay/raycluster.yaml"))]
    assert all(own.search(image) for image in images), images
    assert seen["own"] >= 5 and seen["upstream"] >= 2 and seen["pins"] >= 2, seen


def test_dockerfile_swaps_the_onnxruntime_that_pyproject_declares() -> None:
    declared = [d for d in PROJECT["dependencies"] if re.match(r"onnxruntime\b", d)]
    assert declared and declared[0].startswith("onnxruntime>="), "pyproject declares the CPU onnxruntime"
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r'"\$\{VARIANT\}" = "-gpu"', dockerfile)
    assert "pip uninstall -y onnxruntime" in dockerfile and '"onnxruntime-gpu[cuda,cudnn]' in dockerfile
    assert re.search(r"^ENV PHOTOCULL_MODELS_DIR=\S+", dockerfile, re.M), "a fixed model cache in the image"
    assert "PHOTOCULL_MODELS__AUTO_FETCH=false" in dockerfile
    assert '"/tmp/photocull-src[ray,s3]"' in dockerfile


# --- every photocull command line parses with the real CLI -------------------------------------

# "photocull" as a word: not part of a path, file name, image or package name.
_COMMAND = re.compile(r"(?<![\w./\[:~-])photocull (?=[a-z])([^\n]*)")
_END = re.compile(r"&&|\|\||[;|\"'`)]|\s#")


def _command_lines() -> list[tuple[str, str, str]]:
    """(where, the words after `photocull`, kind): kind "code" is a command line to parse whole,
    "named" a command named in inline code (`photocull scan`, often partial: its subcommand and
    options must exist), "comment" a mention in a comment (a command when it names one)."""
    found = []
    texts = {name: text for name, text in _all_texts().items() if not name.endswith(".md#running-on-a-real-cluster")}
    texts["docs/scale-out.md#running-on-a-real-cluster"] = "\n".join(_code_blocks(_section()))
    for name, text in texts.items():
        for line in text.replace("\\\n", " ").splitlines():
            comment = line.lstrip().startswith("#") and not name.startswith("docs/")
            for match in _COMMAND.finditer(line):
                named = match.start() > 0 and line[match.start() - 1] == "`"
                kind = "named" if named else "comment" if comment else "code"
                found.append((name, _END.split(match.group(1), maxsplit=1)[0].strip(), kind))
    return found


def _root_command():
    """The CLI as click sees it (Typer's own copy of click in recent Typer versions, so duck-typed)."""
    from typer.main import get_command

    from photocull.cli.app import app

    return get_command(app)


def _parse(words: list[str], whole: bool = True) -> None:
    """Resolve the subcommand and parse the arguments as `photocull` would, without running it
    (``whole=False``: only check that the subcommand and the options exist)."""
    command = _root_command()
    path = ["photocull"]
    args = list(words)
    while hasattr(command, "commands") and args and args[0] in command.commands:
        path.append(args[0])
        command = command.commands[args.pop(0)]
    assert not (hasattr(command, "commands") and args and not args[0].startswith("-")), \
        f"{' '.join(path)} has no subcommand {args[0]!r}"
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"--help"}
    unknown = [a.split("=", 1)[0] for a in args if a.startswith("-") and a.split("=", 1)[0] not in known]
    assert not unknown, f"{' '.join(path)} has no option {unknown}"
    if whole:
        command.make_context(" ".join(path), args)  # types, counts, required arguments: a UsageError


def _is_usage_error(exc: BaseException) -> bool:
    return hasattr(exc, "format_message") and type(exc).__name__.endswith(("UsageError", "BadParameter",
                                                                          "NoSuchOption", "BadOptionUsage"))


def test_command_lines_are_found() -> None:
    commands = {(name, words) for name, words, kind in _command_lines() if kind == "code"}
    scan = "scan s3://bucket/prefix --engine ray --address auto --catalog /data/catalog.db"
    assert ("deploy/kuberay/rayjob.yaml", scan) in commands
    assert any(name == "deploy/Dockerfile" and words == "models fetch" for name, words in commands)
    in_docs = {words.split()[0] for name, words in commands if name.startswith("docs/")}
    assert {"scan", "top", "cull", "serve"} <= in_docs


def _commands_to_check() -> list[tuple[str, str, str]]:
    """Every command line and named command; prose in comments ("photocull then runs ...") left out."""
    names = set(_root_command().commands)
    return [(where, words, kind) for where, words, kind in _command_lines()
            if kind != "comment" or words.split()[0] in names]


@pytest.mark.parametrize("where,words,kind", _commands_to_check())
def test_every_photocull_command_line_parses(where: str, words: str, kind: str) -> None:
    argv = shlex.split(words)
    subcommands = set(_root_command().commands)
    if argv[0] not in subcommands:
        # In a comment, "photocull" followed by prose ("photocull then runs ...") is no command;
        # in code it must be one.
        assert kind == "comment", f"{where}: `photocull {words}`: no such command (known: {sorted(subcommands)})"
        return
    try:
        _parse(argv, whole=kind != "named")
    except Exception as exc:
        if not _is_usage_error(exc):
            raise
        pytest.fail(f"{where}: `photocull {words}` does not parse: {exc.format_message()}")


def test_the_parser_check_can_fail() -> None:
    with pytest.raises(AssertionError, match="no option"):
        _parse(["scan", "s3://b/p", "--enigne", "ray"])
    with pytest.raises(AssertionError, match="no subcommand"):
        _parse(["models", "fecth"])
    with pytest.raises(Exception) as caught:
        _parse(["scan", "s3://b/p", "--workers", "zero"])
    assert _is_usage_error(caught.value), caught.value
