"""RUN's argv and --mount options."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.api import Mount
from runtime.errors import InvalidArgument
from runtime.images.build.context import BuildContext
from runtime.images.build.parser import Instruction, parse
from runtime.images.build.runspec import run_command, run_mounts

SHELL = ("/bin/sh", "-c")


def _run(text: str) -> Instruction:
    return parse("FROM x\n" + text).instructions[1]


def test_forms() -> None:
    assert run_command(_run('RUN ["a", "b"]\n'), shell=SHELL, where="D:2").argv == ("a", "b")
    assert run_command(_run("RUN a && b\n"), shell=SHELL, where="D:2").argv == (
        "/bin/sh", "-c", "a && b")
    assert run_command(_run("RUN <<EOF\necho 1\nEOF\n"), shell=SHELL, where="D:2").argv == (
        "/bin/sh", "-c", "echo 1\n")
    piped = run_command(_run("RUN cat <<A > /f\nx\nA\n"), shell=SHELL, where="D:2")
    assert piped.argv == ("/bin/sh", "-c", "cat <<A > /f\nx\nA\n")
    shebang = run_command(_run("RUN <<PY\n#!/usr/bin/python3\nprint(1)\nPY\n"), shell=SHELL,
                          where="D:2")
    assert shebang.argv == ("/dev/pipes/PY",)
    assert shebang.scripts == (("/dev/pipes/PY", "#!/usr/bin/python3\nprint(1)\n"),)
    with pytest.raises(InvalidArgument, match="D:2: RUN needs a command"):
        run_command(_run("RUN []\n"), shell=SHELL, where="D:2")


def test_mounts(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    context = BuildContext(tmp_path)
    instruction = _run("RUN --mount=type=cache,target=.cache,id=x --mount=type=tmpfs,dst=/t "
                       "--mount=type=bind,source=src,target=/s true\n")
    mounts, keys = run_mounts(instruction, workdir="/w", context=context,
                              cache_root=tmp_path / "cm", where="D:2")
    assert [m.target for m in mounts] == ["/w/.cache", "/t", "/s"]
    assert mounts[0].type == "bind" and Path(mounts[0].source).is_dir()
    assert mounts[1] == Mount(type="tmpfs", target="/t")
    assert mounts[2].read_only and mounts[2].source == str(tmp_path / "src")
    assert len(keys) == 4
    with pytest.raises(InvalidArgument, match='--mount type "secret" is not supported'):
        run_mounts(_run("RUN --mount=type=secret,target=/x true\n"), workdir="/",
                   context=context, cache_root=tmp_path, where="D:2")


def test_bind_from_uses_the_tree_resolver(tmp_path: Path) -> None:
    calls: list[tuple[str, str]] = []

    def tree(ref: str, source: str) -> tuple[Path, str]:
        calls.append((ref, source))
        return tmp_path, "stage k"

    mounts, keys = run_mounts(_run("RUN --mount=from=build,source=/out,target=/in true\n"),
                              workdir="/", context=BuildContext(tmp_path),
                              cache_root=tmp_path, where="D:2", tree=tree)
    assert calls == [("build", "/out")]
    assert mounts == [Mount(type="bind", source=str(tmp_path), target="/in", read_only=True,
                            create_host_path=False)]
    assert keys[-1] == "bind from stage k"
