"""End to end: tau onboard --non-interactive (good and bad inputs, nothing written on any
error), --api-key-stdin, profiles, tau auth status and tau doctor against the loopback
scripted provider."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tau_engine.paths import user_config_dir
from tests.cli.tau_process import run_tau, tau_env
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedResponse, ScriptedServer

KEY = "sk-proj-piped-into-onboard-0123456789wXyZ"
ENV_KEY = "sk-proj-users-environment-key-abcdABCD"
BASE = ["onboard", "--non-interactive"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _written(workspace: Path) -> list[str]:
    config = user_config_dir()
    return sorted(
        [
            *(str(p) for p in config.rglob("*")),
            *(str(p) for p in (workspace / ".tau").rglob("*")),
            *([str(workspace / ".tau")] if (workspace / ".tau").exists() else []),
        ]
    )


def _models(*ids: str) -> ScriptedResponse:
    answer = ScriptedResponse.json(
        200, {"object": "list", "data": [{"id": i, "object": "model"} for i in ids]}
    )
    answer.path = "/v1/models"
    return answer


def test_non_interactive_writes_the_setup_and_the_next_run_uses_it(
    workspace: Path, scripted_server: ScriptedServer
) -> None:
    proc = run_tau(
        [
            *BASE,
            "--provider",
            "openai",
            "--model",
            "gpt-test",
            "--api-key-env",
            "OPENAI_API_KEY",
            "--safety",
            "strict",
            "--verifier",
            "auto",
        ],
        workspace,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"create   0644  {workspace}/.tau/SOUL.md" in out
    assert f"create   0644  {user_config_dir()}/profiles/default.toml" in out
    assert (
        "to repeat this setup: tau onboard --non-interactive --provider openai --model "
        f"gpt-test --api-key-env OPENAI_API_KEY --workspace {workspace} --safety strict "
        "--profile default" in out
    )
    assert "OPENAI_API_KEY is not set in this environment" in out
    assert "no verifier detected" in proc.stderr
    profile = (user_config_dir() / "profiles" / "default.toml").read_text()
    assert 'model = "openai/gpt-test"' in profile and 'safety = "strict"' in profile
    scripted_server.add(openai_answer("hello from the profile's model"))
    env = tau_env(OPENAI_API_KEY=ENV_KEY, OPENAI_BASE_URL=scripted_server.url + "/v1")
    ran = run_tau(["-p", "hi", "--no-color"], workspace, env=env)
    assert ran.returncode == 0, ran.stderr
    assert "hello from the profile's model" in ran.stdout
    request = scripted_server.requests[0]
    assert request.json["model"] == "gpt-test"
    assert request.headers["authorization"] == f"Bearer {ENV_KEY}"


def test_api_key_stdin_keeps_the_key_private_and_out_of_every_output(workspace: Path) -> None:
    proc = run_tau(
        [
            *BASE,
            "--provider",
            "openai",
            "--model",
            "openai/gpt-4.1-mini",
            "--api-key-stdin",
            "--profile",
            "ci",
        ],
        workspace,
        input=f"{KEY}\n",
    )
    assert proc.returncode == 0, proc.stderr
    credentials = user_config_dir() / "credentials.toml"
    assert _mode(credentials) == 0o600 and _mode(user_config_dir()) == 0o700
    assert KEY in credentials.read_text()
    assert KEY not in proc.stdout + proc.stderr
    assert "create   0600" in proc.stdout and "--api-key-stdin" in proc.stdout
    for path in (workspace / ".tau").rglob("*"):
        assert path.is_dir() or KEY not in path.read_text()
    status = run_tau(["auth", "status"], workspace)
    assert status.returncode == 0, status.stderr
    assert "…wXyZ" in status.stdout and KEY not in status.stdout
    assert "credentials file (credentials.toml) …wXyZ (used)" in status.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--model", "gpt-4.1-mini", "--api-key-env", "K"], None, "needs --provider"),
        (["--provider", "openai", "--api-key-env", "K"], None, "needs --model"),
        (["--provider", "nope", "--model", "m", "--api-key-env", "K"], None, "unknown provider"),
        (
            [
                "--provider",
                "openai",
                "--model",
                "anthropic/claude-sonnet-4-5",
                "--api-key-env",
                "K",
            ],
            None,
            "is a model of anthropic",
        ),
        (["--provider", "openai", "--model", "gpt-4.1"], None, "openai needs an API key"),
        (
            ["--provider", "openai", "--model", "gpt-4.1", "--api-key-env", "MY-KEY"],
            None,
            "invalid environment variable name",
        ),
        (["--provider", "openai", "--model", "gpt-4.1", "--api-key-stdin"], "", "key is empty"),
        (
            [
                "--provider",
                "openai",
                "--model",
                "gpt-4.1",
                "--api-key-env",
                "K",
                "--safety",
                "loose",
            ],
            None,
            "unknown safety profile 'loose'",
        ),
        (
            [
                "--provider",
                "openai",
                "--model",
                "gpt-4.1",
                "--api-key-env",
                "K",
                "--profile",
                "../x",
            ],
            None,
            "invalid profile name",
        ),
        (
            [
                "--provider",
                "openai",
                "--model",
                "gpt-4.1",
                "--api-key-env",
                "K",
                "--workspace",
                "/nonexistent/dir",
            ],
            None,
            "not a directory",
        ),
        (
            ["--provider", "openai", "--model", "gpt-4.1", "--api-key-env", "K", "--api-key-stdin"],
            None,
            "not allowed with argument",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    workspace: Path, args: list[str], stdin: str | None, message: str
) -> None:
    proc = run_tau([*BASE, *args], workspace, input=stdin)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert _written(workspace) == []


def test_a_key_on_the_command_line_is_refused_and_never_echoed(workspace: Path) -> None:
    proc = run_tau(
        [*BASE, "--provider", "openai", "--model", "gpt-4.1", f"--api-key={KEY}"], workspace
    )
    assert proc.returncode == 2
    assert "a key on the command line is refused" in proc.stderr and "shell history" in proc.stderr
    assert KEY not in proc.stderr + proc.stdout
    assert _written(workspace) == []


def test_the_wizard_needs_a_terminal(workspace: Path) -> None:
    proc = run_tau(["onboard"], workspace)
    assert proc.returncode == 2 and "--non-interactive" in proc.stderr
    assert _written(workspace) == []


def test_profiles_list_show_use(workspace: Path) -> None:
    for name, model in (("home", "gpt-4.1-mini"), ("work", "gpt-4.1")):
        proc = run_tau(
            [
                *BASE,
                "--provider",
                "openai",
                "--model",
                model,
                "--api-key-env",
                "OPENAI_API_KEY",
                "--profile",
                name,
            ],
            workspace,
        )
        assert proc.returncode == 0, proc.stderr
    listing = run_tau(["profile", "list"], workspace).stdout.splitlines()
    assert listing[0].startswith("  home ") and listing[1].startswith("* work ")
    rows = json.loads(run_tau(["profile", "list", "--json"], workspace).stdout)
    assert [(r["name"], r["active"]) for r in rows] == [("home", False), ("work", True)]
    used = run_tau(["profile", "use", "home"], workspace)
    assert used.returncode == 0 and "profile 'home' is now active" in used.stdout
    shown = run_tau(["profile", "show"], workspace)
    assert 'model = "openai/gpt-4.1-mini"' in shown.stdout
    missing = run_tau(["profile", "use", "nope"], workspace)
    assert missing.returncode == 2 and "no profile 'nope'" in missing.stderr
    # --profile chooses another one for one run.
    flagged = run_tau(
        ["-p", "hi", "--profile", "work", "--model", "offline/echo", "--output-format", "json"],
        workspace,
    )
    assert flagged.returncode == 0, flagged.stderr


def test_auth_status_shows_the_order_and_that_dotenv_never_wins(workspace: Path) -> None:
    (workspace / ".env").write_text("TAU_OPENAI_API_KEY=sk-proj-cloned-repo-key-9999\n")
    proc = run_tau(["auth", "status"], workspace, env=tau_env(OPENAI_API_KEY=ENV_KEY))
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("openai"))
    assert line.index("environment OPENAI_API_KEY …ABCD (used)") < line.index(
        ".env TAU_OPENAI_API_KEY …9999 (not used)"
    )
    assert "environment > credentials file > workspace .env" in proc.stdout
    data = json.loads(
        run_tau(["auth", "status", "--json"], workspace, env=tau_env(OPENAI_API_KEY=ENV_KEY)).stdout
    )
    openai = next(p for p in data["providers"] if p["provider"] == "openai")
    assert [(k["source"], k["used"]) for k in openai["keys"]] == [
        ("environment", True),
        (".env", False),
    ]


def test_auth_status_exits_1_when_nothing_is_usable(workspace: Path) -> None:
    proc = run_tau(["auth", "status"], workspace)
    assert proc.returncode == 1
    assert "no usable key" in proc.stderr and "tau onboard" in proc.stderr


def test_a_cloned_dotenv_key_does_not_run_the_users_conversation(
    workspace: Path, scripted_server: ScriptedServer
) -> None:
    (workspace / ".env").write_text("TAU_OPENAI_API_KEY=sk-proj-cloned-repo-key-9999\n")
    scripted_server.add(openai_answer("ok"))
    proc = run_tau(
        ["-p", "hi", "--model", "openai/gpt-test", "--base-url", scripted_server.url + "/v1"],
        workspace,
        env=tau_env(OPENAI_API_KEY=ENV_KEY),
    )
    assert proc.returncode == 0, proc.stderr
    assert scripted_server.requests[0].headers["authorization"] == f"Bearer {ENV_KEY}"


def _doctor_setup(workspace: Path, server: ScriptedServer) -> dict[str, str]:
    proc = run_tau(
        [
            *BASE,
            "--provider",
            "openai",
            "--model",
            "gpt-4.1-mini",
            "--api-key-env",
            "OPENAI_API_KEY",
        ],
        workspace,
    )
    assert proc.returncode == 0, proc.stderr
    return tau_env(OPENAI_API_KEY=ENV_KEY, OPENAI_BASE_URL=server.url + "/v1")


def test_doctor_passes_with_a_model_that_answers_the_tool_probe(
    workspace: Path, scripted_server: ScriptedServer
) -> None:
    env = _doctor_setup(workspace, scripted_server)
    scripted_server.add(
        _models("gpt-4.1-mini"),
        openai_answer("", [{"id": "c1", "name": "tau_probe", "arguments": {"word": "ok"}}]),
    )
    proc = run_tau(["doctor"], workspace, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = {line.split()[1]: line for line in proc.stdout.splitlines()}
    assert list(lines) == ["config", "credentials", "model", "sandbox", "git", "workspace", "store"]
    assert lines["model"].startswith("ok") and "called the probe tool" in lines["model"]
    assert lines["credentials"].startswith("ok") and "…ABCD" in lines["credentials"]
    assert ENV_KEY not in proc.stdout
    assert scripted_server.requests[0].headers["authorization"] == f"Bearer {ENV_KEY}"


def test_doctor_fails_with_a_model_that_does_not_call_tools(
    workspace: Path, scripted_server: ScriptedServer
) -> None:
    env = _doctor_setup(workspace, scripted_server)
    scripted_server.add(_models("gpt-4.1-mini"), openai_answer("I would rather chat."))
    proc = run_tau(["doctor", "--json"], workspace, env=env)
    assert proc.returncode == 1, proc.stdout
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["model"]["status"] == "fail"
    assert "answered without calling the tool" in checks["model"]["message"]
    assert "tau needs" in checks["model"]["remedy"]


def test_doctor_names_a_rejected_key(workspace: Path, scripted_server: ScriptedServer) -> None:
    env = _doctor_setup(workspace, scripted_server)
    scripted_server.add(
        ScriptedResponse.json(
            401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
        )
    )
    proc = run_tau(["doctor"], workspace, env=env)
    assert proc.returncode == 1
    model = next(x for x in proc.stdout.splitlines() if x.split()[1] == "model")
    assert model.startswith("fail") and "the key was rejected" in model
    assert "fix: check the key in OPENAI_API_KEY" in model


def test_probe_before_writing_writes_nothing_when_the_model_fails(
    workspace: Path, scripted_server: ScriptedServer
) -> None:
    scripted_server.add(_models("gpt-4o"))
    proc = run_tau(
        [
            *BASE,
            "--provider",
            "openai",
            "--model",
            "gpt-4.1-mini",
            "--api-key-env",
            "OPENAI_API_KEY",
            "--probe",
        ],
        workspace,
        env=tau_env(OPENAI_API_KEY=ENV_KEY, OPENAI_BASE_URL=scripted_server.url + "/v1"),
    )
    assert proc.returncode == 1
    assert "does not list gpt-4.1-mini" in proc.stderr and "nothing was written" in proc.stderr
    assert _written(workspace) == []


@pytest.mark.parametrize("args", [["--line"], []], ids=["line-repl", "piped"])
def test_runs_that_cannot_ask_exit_2_when_nothing_is_set_up(
    workspace: Path, args: list[str]
) -> None:
    proc = run_tau(args, workspace, input="hello\n")
    assert proc.returncode == 2, proc.stderr
    assert "nothing is set up here" in proc.stderr and "tau onboard" in proc.stderr
    assert "setup" not in proc.stdout  # no wizard drawn into a pipe
    assert _written(workspace) == []


def test_no_key_flag_uses_the_key_already_stored(workspace: Path) -> None:
    first = run_tau(
        [*BASE, "--provider", "openai", "--model", "gpt-4.1", "--api-key-stdin"],
        workspace,
        input=KEY,
    )
    assert first.returncode == 0, first.stderr
    again = run_tau(
        [*BASE, "--provider", "openai", "--model", "gpt-4.1-mini", "--profile", "mini"], workspace
    )
    assert again.returncode == 0, again.stderr
    profile = (user_config_dir() / "profiles" / "mini.toml").read_text()
    assert 'key_source = "credentials"' in profile
    assert "--api-key" not in again.stdout.split("to repeat this setup:")[1]
