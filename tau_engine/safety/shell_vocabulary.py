"""What tau knows about shell commands by name, for ``shell_commands.analyze_shell``.

Which builtins run strings tau cannot see (``eval``, ``trap``…), which wrappers it
unwraps and which options of theirs take a value, which commands' operands are files they
write, which variables change what later commands run, and the few questions asked of a
single word (its command name, whether a ``trap`` installs code).
"""

from __future__ import annotations

import posixpath
import re

from tau_engine.safety.shell_parse import Word

OPAQUE_COMMANDS = {
    "eval": "eval runs a string built at run time",
    "source": "source runs a script file tau cannot see",
    ".": ". runs a script file tau cannot see",
    "trap": "trap runs a string later, on a signal",
    "alias": "alias changes what later command names mean",
    "coproc": "coproc starts a command tau cannot follow",
    "fc": "fc re-runs commands from history",
    "let": "let evaluates arithmetic whose array subscripts can run commands",
    "complete": "complete can register a command to run later",
    "bind": "bind can register a command to run later",
    "enable": "enable loads builtins from a shared library",
}
# Builtins whose arguments name variables: an array subscript in a name is arithmetic, and
# bash runs any $(…) inside it (read 'a[$(id)]').
SUBSCRIPT_EVALUATORS = frozenset(
    {
        "declare",
        "typeset",
        "local",
        "export",
        "readonly",
        "read",
        "printf",
        "unset",
        "test",
        "[",
        "mapfile",
        "readarray",
        "wait",
        "getopts",
    }
)
CALLBACK_OPTIONS = {"mapfile": "-C", "readarray": "-C"}
# Commands whose arguments are files they write (or delete): checked like redirections.
# "all": every operand; "last": the destination; "skip1": all but the first (a mode/owner).
# "second": uniq's output file. cp, mv, install and ln also write into ``-t DIR``.
WRITE_OPERANDS = {
    "tee": "all",
    "touch": "all",
    "mkdir": "all",
    "truncate": "all",
    "rm": "all",
    "rmdir": "all",
    "shred": "all",
    "unlink": "all",
    "mv": "all",
    "cp": "last",
    "install": "last",
    "ln": "last",
    "chmod": "skip1",
    "chown": "skip1",
    "chgrp": "skip1",
    "uniq": "second",
}
TARGET_DIRECTORY = frozenset({"cp", "mv", "install", "ln"})
# Programs that run another command in a way tau does not unwrap.
OPAQUE_WRAPPERS = frozenset(
    {
        "watch",
        "parallel",
        "flock",
        "su",
        "runuser",
        "chroot",
        "unshare",
        "nsenter",
        "script",
        "strace",
        "ltrace",
        "busybox",
        "firejail",
        "systemd-run",
        "fakeroot",
        "proot",
        "tmux",
        "screen",
        "gdb",
        "taskset",
        "chrt",
        "ionice",
        "numactl",
        "sg",
        "newgrp",
        "dbus-run-session",
        "xvfb-run",
        "catchsegv",
        "pkexec",
        "expect",
        "entr",
        "inotifywait",
        "at",
        "batch",
    }
)
SHELLS = frozenset(
    {"bash", "sh", "dash", "zsh", "ksh", "mksh", "ash", "yash", "fish", "rbash", "posh"}
)
# Variables whose value changes which program runs or what a program executes.
SENSITIVE_ENV = frozenset(
    {
        "PATH",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "LD_AUDIT",
        "BASH_ENV",
        "ENV",
        "IFS",
        "PROMPT_COMMAND",
        "PS4",
        "SHELLOPTS",
        "BASHOPTS",
        "CDPATH",
        "GLOBIGNORE",
        "PAGER",
        "MANPAGER",
        "EDITOR",
        "VISUAL",
        "BROWSER",
        "LESSOPEN",
        "LESSCLOSE",
        "PYTHONSTARTUP",
        "PYTHONPATH",
        "PYTHONHOME",
        "NODE_OPTIONS",
        "PERL5OPT",
        "PERL5LIB",
        "RUBYOPT",
        "RUBYLIB",
        "JAVA_TOOL_OPTIONS",
        "SSH_ASKPASS",
        "SUDO_ASKPASS",
        "TERMINFO",
        "HOME",
    }
)
SENSITIVE_ENV_PREFIXES = ("GIT_", "LD_", "DYLD_", "BASH_FUNC_", "NPM_CONFIG_")
CWD_COMMANDS = frozenset({"cd", "pushd"})
MAX_DEPTH = 3
MAX_WRAPPERS = 16

# Options that take a value, per wrapper (short and long); the rest are flags.
VALUE_OPTIONS: dict[str, frozenset[str]] = {
    "env": frozenset({"-u", "--unset", "-C", "--chdir"}),
    "timeout": frozenset({"-s", "--signal", "-k", "--kill-after"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "sudo": frozenset(
        {
            "-u",
            "--user",
            "-g",
            "--group",
            "-h",
            "--host",
            "-C",
            "--close-from",
            "-p",
            "--prompt",
            "-r",
            "--role",
            "-t",
            "--type",
            "-U",
            "--other-user",
            "-D",
            "--chdir",
            "-T",
            "--command-timeout",
            "-R",
            "--chroot",
        }
    ),
    "doas": frozenset({"-u", "-C"}),
    "exec": frozenset({"-a"}),
    "stdbuf": frozenset({"-i", "--input", "-o", "--output", "-e", "--error"}),
    "xargs": frozenset(
        {
            "-a",
            "--arg-file",
            "-d",
            "--delimiter",
            "-E",
            "-I",
            "-L",
            "--max-lines",
            "-n",
            "--max-args",
            "-P",
            "--max-procs",
            "-s",
            "--max-chars",
            "--process-slot-var",
        }
    ),
    "setsid": frozenset(),
    "nohup": frozenset(),
    "time": frozenset({"-f", "--format", "-o", "--output"}),
    "builtin": frozenset(),
    "command": frozenset(),
}
WRAPPERS = frozenset(VALUE_OPTIONS)
FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})


def command_name(word: Word) -> str | None:
    """The basename of a command word's value, or ``None`` if computed at run time."""
    if word.value is None or word.glob:
        return None
    return posixpath.basename(word.value) or word.value


def trap_runs_nothing(args: list[Word]) -> bool:
    """Whether a ``trap`` installs no code: it lists (``trap``, ``-l``, ``-p``), ignores
    (``trap '' TERM``) or resets (``trap - TERM``, ``trap TERM``) signals. Any other action is
    a string run later, which tau cannot judge; so is an argument known only at run time."""
    values = [word.value for word in args]
    if any(value is None for value in values):
        return False
    static = [value for value in values if value is not None]
    if static and static[0] == "--":
        static = static[1:]
    if not static or re.fullmatch(r"-[lpP]+", static[0]):
        return True
    if static[0] in ("", "-"):
        return True
    # A lone signal is reset: bash reads one argument as the action only if it is no signal.
    return (
        len(static) == 1 and re.fullmatch(r"(SIG)?[A-Z][A-Z0-9+-]*|[0-9]+", static[0]) is not None
    )


def is_sensitive_env(name: str) -> bool:
    """True if assigning ``name`` can change which program runs or what it executes."""
    return name in SENSITIVE_ENV or name.startswith(SENSITIVE_ENV_PREFIXES)


def skip_wrapper_options(words: list[Word], start: int, wrapper: str) -> int:
    """Index of the first word after ``wrapper``'s options (and its own operands)."""
    takes_value = VALUE_OPTIONS.get(wrapper, frozenset())
    i = start
    while i < len(words):
        value = words[i].value
        if value is None or not value.startswith("-") or value == "-":
            break
        if value == "--":
            return i + 1
        if wrapper == "nice" and value[1:].lstrip("-").isdigit():
            i += 1
            continue
        name = value.split("=", 1)[0]
        if name in takes_value and "=" not in value:
            i += 2
            continue
        if len(value) > 2 and not value.startswith("--") and value[:2] in takes_value:
            i += 1  # value attached: -n10, -uroot
            continue
        i += 1
    return i
