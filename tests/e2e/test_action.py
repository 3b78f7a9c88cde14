"""The GitHub Actions composite action, offline: its shape and the example workflow's use of
it checked, both linted by actionlint (scripts/install_actionlint.sh), and its shell steps run
here, in order, as the runner would run them, on a short profile: a fresh environment installs
this checkout, the run passes, report.md lands in the job summary, the exit code fails the job."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import RUN_TIMEOUT

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
WORKFLOW = ROOT / "examples" / "github-workflow.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return data


def evaluate(text: str, context: dict[str, str]) -> str:
    """The expressions the action uses: ``a.b.c``, and ``x || y`` (the first non-empty)."""

    def value(match: re.Match[str]) -> str:
        for name in match.group(1).split("||"):
            found = context.get(name.strip(), "")
            if found:
                return found
        return ""

    return EXPRESSION.sub(value, text)


def test_the_action_is_a_composite_whose_shell_steps_take_inputs_only_through_env() -> None:
    spec = action()
    assert spec["runs"]["using"] == "composite"
    inputs = set(spec["inputs"])
    for step in spec["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
            assert "${{" not in step["run"], f"{step['name']}: an expression in a script"
        for text in [*(step.get("env") or {}).values(), *(step.get("with") or {}).values()]:
            for expr in EXPRESSION.findall(str(text)):
                for name in expr.split("||"):
                    name = name.strip()
                    if name.startswith("inputs."):
                        assert name.removeprefix("inputs.") in inputs, name
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (uses,) = [
        s for s in workflow["jobs"]["load-chaos"]["steps"] if "mcp-scale" in s.get("uses", "")
    ]
    required = {name for name, spec in spec["inputs"].items() if spec.get("required")}
    assert required <= set(uses["with"]) <= inputs
    assert (ROOT / uses["with"]["profile"]).is_file()


def actionlint() -> str:
    """The venv's actionlint (scripts/install_actionlint.sh), else one on PATH; skips without."""
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.is_file() else shutil.which("actionlint")
    if found is None:
        pytest.skip("actionlint is not installed: run scripts/install_actionlint.sh")
    return found


def steps_as_workflow(spec: dict[str, Any]) -> dict[str, Any]:
    """The composite action's steps as a reusable workflow's job, its inputs as the workflow's:
    actionlint checks a composite action's metadata only where a workflow uses it, not the
    expressions, actions and scripts of its steps; in a job it checks all of those."""
    inputs = {name: {"type": "string", "required": False} for name in spec["inputs"]}
    return {
        "name": "action steps",
        "on": {"workflow_call": {"inputs": inputs}},
        "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": spec["runs"]["steps"]}},
    }


def lint(project: Path, workflows: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """actionlint over workflows in a project holding this action.yml at its root, where
    ``uses: ./`` finds it (its inputs are then checked against each use)."""
    (project / ".git").mkdir(parents=True)  # how actionlint finds the project's root
    shutil.copy(ACTION, project / "action.yml")
    folder = project / ".github" / "workflows"
    folder.mkdir(parents=True)
    for name, text in workflows.items():
        (folder / name).write_text(text)
    return subprocess.run(
        [actionlint(), "-oneline", *sorted(str(folder / name) for name in workflows)],
        capture_output=True,
        text=True,
        cwd=project,
        timeout=60,
    )


def test_the_example_workflow_and_the_action_pass_actionlint(tmp_path: Path) -> None:
    example = WORKFLOW.read_text()
    local = re.sub(r"uses: \S*mcp-scale@\S+", "uses: ./", example)
    assert local != example, "the example workflow uses the action"
    result = lint(
        tmp_path,
        {
            "example.yml": example,
            "example-local.yml": local,
            "action-steps.yml": yaml.safe_dump(steps_as_workflow(action()), sort_keys=False),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_fails_a_broken_workflow(tmp_path: Path) -> None:
    """The lint can fail: a workflow with an input the action does not have, a required input
    missing, an undefined context and an action whose runtime is retired."""
    broken = """name: broken
on: push
jobs:
  load:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v3
      - uses: ./
        with:
          profiel: examples/ci-profile.yaml
      - run: echo "${{ secrets.TOKEN }} ${{ nosuch.value }}"
"""
    result = lint(tmp_path, {"broken.yml": broken})
    assert result.returncode == 1, result.stdout + result.stderr
    for message in (
        'input "profiel" is not defined in action "mcp-scale"',
        'missing input "profile"',
        'undefined variable "nosuch"',
        '"actions/checkout@v3"',
    ):
        assert message in result.stdout, f"{message!r} not in:\n{result.stdout}"


def fresh_python(folder: Path) -> Path:
    """A new environment that sees the test's packages (mcp-scale's dependencies) behind
    its own site-packages, where the action's install step puts this checkout."""
    venv.create(folder, with_pip=False)
    (site,) = folder.glob("lib/python*/site-packages")
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return folder / "bin"


def run_step(step: dict[str, Any], context: dict[str, str], env: dict[str, str]) -> int:
    step_env = {k: evaluate(str(v), context) for k, v in (step.get("env") or {}).items()}
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],  # as the runner
        env={**env, **step_env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    print(step["name"], result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    return result.returncode


@pytest.mark.timeout(RUN_TIMEOUT + 120)
def test_the_action_steps_install_run_summarize_and_pass_on_a_short_profile(
    tmp_path: Path,
) -> None:
    bin_dir = fresh_python(tmp_path / "env")
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    out = tmp_path / "run"
    context = {
        "inputs.profile": "examples/ci-profile.yaml",
        "inputs.args": "--users 8",
        "inputs.out": str(out),
        "github.action_path": str(ROOT),
    }
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "MCP_SCALE_STATE_DIR": str(tmp_path / "state"),
        # This checkout only (pip fetches its build backend); its dependencies are there.
        "PIP_NO_DEPS": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    for step in action()["runs"]["steps"]:
        if "uses" in step:
            continue  # setup-python and upload-artifact run on GitHub's runners only
        if step["name"] == "Install mcp-scale":
            # pip itself is the test's (the fresh environment has none), installing into it.
            pip = f"{sys.executable} -m pip --python {bin_dir / 'python'}"
            step = {**step, "run": step["run"].replace("python -m pip", pip)}
        code = run_step(step, context, env)
        assert code == 0, step["name"]
        if step.get("id") == "run":
            (line,) = output.read_text().splitlines()
            context["steps.run.outputs.exit-code"] = line.split("=", 1)[1]
    assert context["steps.run.outputs.exit-code"] == "0"
    installed = subprocess.run(
        [str(bin_dir / "python"), "-c", "import harness; print(harness.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert installed.stdout.startswith(str(bin_dir.parent)), "installed in the fresh environment"
    assert (bin_dir / "mcp-scale").read_text().startswith(f"#!{bin_dir / 'python'}")
    assert "verdict" in summary.read_text().lower()
    assert (out / "summary.json").is_file()


def test_the_last_step_fails_the_job_with_the_run_exit_code() -> None:
    (step,) = [s for s in action()["runs"]["steps"] if s["name"] == "Fail on the run's exit code"]
    for code in ("0", "1", "3"):
        context = {"steps.run.outputs.exit-code": code}
        env = {**os.environ}
        assert str(run_step(step, context, env)) == code


def test_a_failing_run_still_records_its_exit_code(tmp_path: Path) -> None:
    """The runner's bash stops at the first failing command: the run step must not."""
    (step,) = [s for s in action()["runs"]["steps"] if s.get("id") == "run"]
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mcp-scale").write_text("#!/bin/sh\nexit 1\n")
    (fake / "mcp-scale").chmod(0o755)
    output = tmp_path / "output"
    context = {"inputs.profile": "p.yaml", "inputs.args": "", "inputs.out": str(tmp_path)}
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "GITHUB_OUTPUT": str(output)}
    assert run_step(step, context, env) == 0
    assert output.read_text().splitlines() == ["exit-code=1"]
