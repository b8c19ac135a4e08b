"""Development sessions for the datasette-internal monorepo. `nox -s tests` is the test command."""

import os
import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "tests"]

ROOT = Path(__file__).parent
CORE = "core"
PLUGINS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "plugins").glob("*/pyproject.toml"))
PLUGINS = [str(Path(p).parent) for p in PLUGINS]
# The example plugin authors copy (docs/cookbook/start-a-plugin.md): tested and built like a plugin.
EXAMPLES = ["examples/hello"]
PACKAGES = [CORE, *PLUGINS, *EXAMPLES]
LOWEST_DATASETTE = "datasette==1.0a41"


def install(session, *packages, extra_requirements=()):
    session.install(*(f"-e{p}[test]" for p in packages), *extra_requirements)


def run_pytest(session, *paths):
    session.run("pytest", "-q", "-p", "no:cacheprovider", *paths, *session.posargs)


@nox.session
def lint(session):
    """ruff check and ruff format --check over the whole repo."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


FIND_CHROMIUM = (
    "from datasette_internal_db.testing import find_chromium; print(find_chromium() or '')"
)


def ensure_chromium(session):
    """Find a Chromium for the browser tests, install Debian's when root, else stop with the fix."""
    found = session.run("python", "-c", FIND_CHROMIUM, silent=True).strip()
    if found:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        session.log("No Chromium found for the browser tests: installing Debian's package")
        apt_env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", "-qq", external=True, env=apt_env)
        session.run("apt-get", "install", "-y", "-qq", "chromium", external=True, env=apt_env)
        return
    session.error(
        "The browser tests need Chromium and none was found. Install it once with "
        "`sudo apt-get install chromium` (Debian/Ubuntu), or point CHROMIUM_PATH at a Chromium "
        "or Chrome binary, then run `nox -s tests` again."
    )


@nox.session
@nox.parametrize("package", [*PACKAGES, "all"])
def tests(session, package):
    """Each package alone (only core and that package installed), then all packages together."""
    if package == "all":
        requirements = ["-rreliability/requirements.txt", "-rbench/requirements.txt"]
        install(session, *PACKAGES, extra_requirements=requirements)
        ensure_chromium(session)
        # One pytest run per folder: each package's tests import their own conftest by name.
        for tests_folder in [*(f"{p}/tests" for p in PACKAGES), "reliability", "docs", "bench"]:
            run_pytest(session, tests_folder)
    else:
        install(session, *dict.fromkeys([CORE, package]))
        ensure_chromium(session)
        run_pytest(session, f"{package}/tests")


@nox.session
def minimums(session):
    """Every package's tests against the lowest supported Datasette."""
    install(session, *PACKAGES, extra_requirements=[LOWEST_DATASETTE])
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


@nox.session
def demo(session):
    """Install everything, build sample.db, serve it with every plugin on demo/internal.db."""
    install(session, *PACKAGES)
    demo_dir = ROOT / "demo"
    demo_dir.mkdir(exist_ok=True)
    session.run("python", "scripts/make_sample_db.py", str(demo_dir / "sample.db"))
    port = os.environ.get("DEMO_PORT", "8001")
    session.log(f"Open http://127.0.0.1:{port}/ (use the root link printed below to sign in)")
    session.log("Data lives in demo/internal.db and survives a restart of this session.")
    session.run(
        "datasette",
        "serve",
        str(demo_dir / "sample.db"),
        "--internal",
        str(demo_dir / "internal.db"),
        "--root",
        "-p",
        port,
        "-c",
        "scripts/demo.yaml",
        env={"DATASETTE_SECRET": os.environ.get("DATASETTE_SECRET", "demo-secret-change-me")},
    )


@nox.session(python=False)
def build(session):
    """Wheels and sdists of every package; one plugin's wheel alone in a fresh venv must start."""
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for package in PACKAGES:
        session.run("uv", "build", "-q", "--out-dir", str(dist), package)
    check = Path(session.create_tmp())
    session.run("uv", "venv", "-q", "--clear", str(check / "venv"))
    python = str(check / "venv" / "bin" / "python")
    wheels = {w.name.split("-")[0]: str(w) for w in dist.glob("*.whl")}
    plugin = wheels["datasette_internal_comments"]
    session.run(
        "uv", "pip", "install", "-q", "--python", python, wheels["datasette_internal_db"], plugin
    )
    session.run(python, "-m", "datasette", "serve", "--memory", "--get", "/-/plugins.json")


@nox.session
def bench(session):
    """Every benchmark; writes docs/benchmarks.md and docs/benchmarks.json."""
    install(session, *PACKAGES, extra_requirements=["-rbench/requirements.txt"])
    session.run("python", "bench/run.py", *session.posargs)
