"""Config-only instructions applied to a stage's state."""

from __future__ import annotations

import pytest

from runtime.errors import InvalidArgument
from runtime.images.build.parser import parse
from runtime.images.build.state import StageState, apply_metadata, parse_duration


def _apply(state: StageState, text: str) -> list[str]:
    return [apply_metadata(i, state, escape="\\", where=f"Dockerfile:{i.line}")
            for i in parse("FROM x\n" + text).instructions[1:]]


def test_env_label_user_and_substitution() -> None:
    state = StageState(key="k", args={"V": "1.2"}, config={"Env": ["PATH=/bin"]})
    texts = _apply(state, 'ENV A=$V B="x y"\nENV A=${A}-rc\nLABEL v=$A\nUSER app:$V\n')
    assert state.config["Env"] == ["PATH=/bin", "A=1.2-rc", "B=x y"]
    assert state.config["Labels"] == {"v": "1.2-rc"}
    assert state.config["User"] == "app:1.2"
    assert texts[0] == 'ENV A=1.2 B="x y"'


def test_env_overrides_arg_in_substitution() -> None:
    state = StageState(key="k", args={"X": "arg"})
    _apply(state, "ENV X=env\nLABEL x=$X\n")
    assert state.config["Labels"] == {"x": "env"}


def test_cmd_entrypoint_shell_forms() -> None:
    state = StageState(key="k", config={"Cmd": ["sh"]})
    _apply(state, 'SHELL ["/bin/bash", "-c"]\nENTRYPOINT run me\n')
    assert state.config["Entrypoint"] == ["/bin/bash", "-c", "run me"]
    assert state.config["Cmd"] is None  # ENTRYPOINT resets an inherited CMD
    _apply(state, 'CMD ["a"]\nENTRYPOINT ["b"]\n')
    assert state.config["Cmd"] == ["a"] and state.config["Entrypoint"] == ["b"]


def test_expose_volume_stopsignal_onbuild_maintainer() -> None:
    state = StageState(key="k", args={"P": "80"})
    _apply(state, "EXPOSE $P 53/UDP 8000-8002\nVOLUME /a /b\nVOLUME [\"/c\"]\n"
                  "STOPSIGNAL SIGINT\nONBUILD RUN make\nMAINTAINER me\n")
    assert state.config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}, "8000-8002/tcp": {}}
    assert state.config["Volumes"] == {"/a": {}, "/b": {}, "/c": {}}
    assert state.config["StopSignal"] == "SIGINT"
    assert state.config["OnBuild"] == ["RUN make"]
    assert state.author == "me"


def test_healthcheck() -> None:
    state = StageState(key="k")
    _apply(state, "HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=2s --retries=5 "
                  "CMD curl -f http://localhost/\n")
    assert state.config["Healthcheck"] == {
        "Test": ["CMD-SHELL", "curl -f http://localhost/"], "Interval": 90_000_000_000,
        "Timeout": 500_000_000, "StartPeriod": 2_000_000_000, "Retries": 5}
    _apply(state, "HEALTHCHECK NONE\n")
    assert state.config["Healthcheck"] == {"Test": ["NONE"]}
    with pytest.raises(InvalidArgument, match="Dockerfile:2: --interval: invalid duration"):
        _apply(state, "HEALTHCHECK --interval=soon CMD true\n")


def test_expose_rejects_bad_protocol() -> None:
    with pytest.raises(InvalidArgument, match='EXPOSE "80/icmp"'):
        _apply(StageState(key="k"), "EXPOSE 80/icmp\n")


def test_parse_duration() -> None:
    assert parse_duration("1h2m3s", what="x") == 3723.0
    assert parse_duration("0", what="x") == 0.0
