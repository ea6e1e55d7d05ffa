"""Execute a build: plan -> steps (cached or run) -> one OCI image in the store.

Each step has a cache key (``cache.step_key``) from its parent's key and its
inputs; a hit reuses the recorded layer (or, for config-only steps, just the
recorded time), so an unchanged rebuild runs nothing, writes no layer and
makes the same image id. A miss runs the step: RUN in a container through the
container part (``run.StepRunner``), COPY/ADD/WORKDIR by writing a layer tar
directly. Layers go to the blob store with ``compress.store_layer``; the
image is recorded only at the end with ``ImageService.store_image``, so a
failed build leaves no image behind (its finished steps stay in the cache).
"""

from __future__ import annotations

import json
import logging
import posixpath
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.api import BuildProgress, BuildProgressFn, ImageInfo, Mount
from runtime.errors import EngineError, Failed, InvalidArgument, NotFound
from runtime.images.build import plan as planning
from runtime.images.build.cache import BuildCache, CachedLayer, CacheEntry, step_key
from runtime.images.build.context import BuildContext
from runtime.images.build.copy import (
    CopySpec,
    Owner,
    parse_chmod,
    resolve_owner,
    resolve_user,
    write_copy,
)
from runtime.images.build.layer import LayerWriter
from runtime.images.build.parser import Dockerfile, Instruction, key_values, parse
from runtime.images.build.rootview import RootView, materialize
from runtime.images.build.run import RunStep, StepRunner
from runtime.images.build.runspec import run_command, run_mounts
from runtime.images.build.state import StageState, apply_metadata, base_config
from runtime.images.build.words import expand, expand_heredoc, expand_words
from runtime.images.compress import store_layer
from runtime.images.imageconfig import chain_ids, format_time, parse_time
from runtime.images.manifest import (
    OCI_CONFIG,
    OCI_MANIFEST,
    Descriptor,
    build_manifest,
    host_platform,
)
from runtime.images.reference import parse_reference

if TYPE_CHECKING:
    from runtime.images.service import ImageService

log = logging.getLogger(__name__)

HISTORY_COMMENT = "stack.dockerfile.v0"
OUTPUT_TAIL = 10  # lines of a failing RUN's output quoted in the error
NETWORKS = ("host", "none", "bridge")


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildRequest:
    context: Path
    dockerfile: Path | None = None  # default: <context>/Dockerfile
    dockerfile_text: str | None = None  # inline Dockerfile (wins over ``dockerfile``)
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    no_cache: bool = False
    pull: bool = False
    network: str = "host"
    platform: str = ""  # default: the host's


def _read_dockerfile(request: BuildRequest) -> tuple[str, str, Path | None]:
    """(text, name for messages, path or None)."""
    if request.dockerfile_text is not None:
        return request.dockerfile_text, "Dockerfile", None
    path = request.dockerfile or Path("Dockerfile")
    if not path.is_absolute():
        path = request.context / path
    try:
        return path.read_text(encoding="utf-8"), path.name, path
    except FileNotFoundError as exc:
        raise NotFound(f'Dockerfile "{path}" not found') from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f'Dockerfile "{path}": cannot read it: {exc}') from exc


def build(request: BuildRequest, *, images: ImageService, cache: BuildCache,
          runner: StepRunner, progress: BuildProgressFn | None = None) -> ImageInfo:
    """Build ``request``; returns the stored (and tagged) image."""
    if request.network in ("", "default"):  # compose's `network: default`: ours is host
        request = replace(request, network="host")
    if request.network not in NETWORKS:
        raise InvalidArgument(f'build network "{request.network}" is not supported: use one of '
                              f'{", ".join(NETWORKS)}')
    tags = tuple(parse_reference(t).tagged() for t in request.tags)
    text, name, path = _read_dockerfile(request)
    dockerfile = parse(text, name=name)
    context = BuildContext(request.context, dockerfile=path)
    host = host_platform()
    build_plan = planning.make_plan(
        dockerfile, build_args=request.build_args, target=request.target,
        platform=request.platform or str(host), build_platform=str(host))
    tmp = images.config.images_dir / "build" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=tmp))
    try:
        return _Build(request=request, images=images, cache=cache, runner=runner,
                      progress=progress, plan=build_plan, context=context, tags=tags,
                      work=work).run()
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Build:
    def __init__(self, *, request: BuildRequest, images: ImageService, cache: BuildCache,
                 runner: StepRunner, progress: BuildProgressFn | None,
                 plan: planning.BuildPlan, context: BuildContext, tags: tuple[str, ...],
                 work: Path) -> None:
        self.request = request
        self.images = images
        self.cache = cache
        self.runner = runner
        self.report = progress or (lambda _: None)
        self.plan = plan
        self.dockerfile: Dockerfile = plan.dockerfile
        self.escape = plan.dockerfile.escape
        self.context = context
        self.tags = tags
        self.work = work
        self.built: dict[int, StageState] = {}
        self.total = sum(1 + len(plan.stages[i].instructions) for i in plan.order)
        self.step_no = 0
        self.used_args: set[str] = set()

    # --- driver ------------------------------------------------------------------

    def run(self) -> ImageInfo:
        for index in self.plan.order:
            stage = self.plan.stages[index]
            state = self._from(stage)
            for position, instruction in enumerate(stage.instructions, start=2):
                label = f"[{_prefix(stage)}{position}/{len(stage.instructions) + 1}]"
                self._step(stage, state, instruction, label)
            self.built[index] = state
        unused = sorted(set(self.request.build_args) - self.used_args - planning.PROXY_ARGS
                        - set(self.plan.global_declared))
        if unused:
            self.report(BuildProgress(step=0, total=self.total, status="info",
                                      text="build args not consumed by any ARG: "
                                      + ", ".join(unused)))
        return self._commit(self.built[self.plan.target])

    def _step(self, stage: planning.Stage, state: StageState, instruction: Instruction,
              label: str, *, trigger: bool = False) -> None:
        self.step_no += 0 if trigger else 1
        where = self.dockerfile.where(instruction)
        started = time.monotonic()
        try:
            self._dispatch(stage, state, instruction, label, where)
        except (EngineError, OSError) as exc:
            error = exc if isinstance(exc, EngineError) else Failed(str(exc))
            message = (error.message if error.message.startswith(where)
                       else f"{where}: {error.message}")
            self.report(BuildProgress(step=self.step_no, total=self.total, status="error",
                                      text=message, stage=stage.label, location=where,
                                      duration=time.monotonic() - started))
            raise type(error)(message) from exc

    def _announce(self, text: str, where: str, stage: planning.Stage, *, cached: bool) -> None:
        self.report(BuildProgress(step=self.step_no, total=self.total,
                                  status="cached" if cached else "start", text=text,
                                  stage=stage.label, location=where))

    def _done(self, stage: planning.Stage, where: str, started: float) -> None:
        self.report(BuildProgress(step=self.step_no, total=self.total, status="done", text="",
                                  stage=stage.label, location=where,
                                  duration=time.monotonic() - started))

    def _lookup(self, key: str) -> CacheEntry | None:
        if self.request.no_cache:
            return None
        entry = self.cache.get(key)
        if entry is None:
            return None
        if entry.layer is not None and not self.images.blobs.has(entry.layer.digest):
            return None  # its layer was garbage-collected since
        return entry

    # --- FROM ----------------------------------------------------------------------

    def _from(self, stage: planning.Stage) -> StageState:
        self.step_no += 1
        instruction = stage.from_instruction
        where = self.dockerfile.where(instruction)
        text = f"[{_prefix(stage)}1/{len(stage.instructions) + 1}] FROM {stage.base}"
        try:
            state = self._base(stage, where)
        except EngineError as exc:
            message = exc.message if exc.message.startswith(where) else f"{where}: {exc.message}"
            self.report(BuildProgress(step=self.step_no, total=self.total, status="error",
                                      text=message, stage=stage.label, location=where))
            raise type(exc)(message) from exc
        self.report(BuildProgress(step=self.step_no, total=self.total, status="done", text=text,
                                  stage=stage.label, location=where))
        for raw in list(state.config.get("OnBuild") or ()):
            trigger = parse(f"{raw}\n", name=self.dockerfile.name).instructions[0]
            trigger = _at(trigger, instruction)
            self._step(stage, state, trigger, f"[{_prefix(stage)}ONBUILD]", trigger=True)
        state.config.pop("OnBuild", None)
        return state

    def _base(self, stage: planning.Stage, where: str) -> StageState:
        if stage.base_stage is not None:
            return self.built[stage.base_stage].fork()
        platform = stage.platform or self.request.platform or str(host_platform())
        os_name, _, rest = platform.partition("/")
        arch, _, variant = rest.partition("/")
        if stage.base.lower() == "scratch":
            return StageState(key=step_key("", "FROM scratch", [platform]), architecture=arch,
                              os=os_name, variant=variant)
        image = self._image(stage.base, pull=self.request.pull)
        record = self.images.records.find(image.id)
        if record is None:
            raise NotFound(f'image "{stage.base}" vanished from the store during the build')
        doc = json.loads(record.config_json)
        layers = [CachedLayer(digest=x.digest, diff_id=x.diff_id, size=x.size,
                              media_type=x.media_type) for x in record.layers]
        return StageState(key=step_key("", f"FROM {image.id}"), layers=layers,
                          config=base_config(doc), history=list(doc.get("history") or []),
                          architecture=str(doc.get("architecture") or arch),
                          os=str(doc.get("os") or os_name), variant=str(doc.get("variant") or ""),
                          author=str(doc.get("author") or ""),
                          created=parse_time(doc.get("created")))

    def _image(self, ref: str, *, pull: bool) -> ImageInfo:
        if not pull:
            try:
                return self.images.get(ref)
            except NotFound:
                pass
        self.report(BuildProgress(step=self.step_no, total=self.total, status="output",
                                  text=f"pulling {ref}"))
        return self.images.pull(ref)

    # --- steps ---------------------------------------------------------------------

    def _dispatch(self, stage: planning.Stage, state: StageState, instruction: Instruction,
                  label: str, where: str) -> None:
        command = instruction.command
        started = time.monotonic()
        if command == "FROM":
            raise InvalidArgument(f"{where}: FROM cannot be an ONBUILD trigger")
        if command == "ARG":
            self._arg(state, instruction)
            self.report(BuildProgress(step=self.step_no, total=self.total, status="done",
                                      text=f"{label} {instruction.original}", stage=stage.label,
                                      location=where))
            return
        if command in ("RUN", "COPY", "ADD", "WORKDIR"):
            handler = {"RUN": self._run, "COPY": self._copy, "ADD": self._copy,
                       "WORKDIR": self._workdir}[command]
            handler(stage, state, instruction, label, where)
            self._done(stage, where, started)
            return
        text = apply_metadata(instruction, state, escape=self.escape, where=where)
        key = step_key(state.key, text)
        entry = self._lookup(key)
        self._announce(f"{label} {text}", where, stage, cached=entry is not None)
        if entry is None:
            entry = CacheEntry(key=key, created=time.time())
            self.cache.put(entry)
        self._advance(state, entry, text)

    def _advance(self, state: StageState, entry: CacheEntry, created_by: str) -> None:
        state.key = entry.key
        state.created = max(state.created, entry.created)
        item: dict[str, Any] = {"created": format_time(entry.created), "created_by": created_by,
                                "comment": HISTORY_COMMENT}
        if entry.layer is None:
            item["empty_layer"] = True
        else:
            state.layers.append(entry.layer)
        state.history.append(item)

    def _arg(self, state: StageState, instruction: Instruction) -> None:
        """Declare ARGs. Not part of the chain key: a value only matters where it is used
        (a RUN's environment, a substituted instruction), as in Docker's cache."""
        automatic = planning.platform_args(
            target=self.request.platform or str(host_platform()), build=str(host_platform()))
        for key, raw in key_values(instruction, escape=self.escape, name=self.dockerfile.name):
            self.used_args.add(key)
            value: str | None
            if key in self.request.build_args:
                value = self.request.build_args[key]
            elif raw is not None:
                value = expand(raw, state.scope(), escape=self.escape)
            elif key in self.plan.global_args:
                value = self.plan.global_args[key]
            else:
                value = automatic.get(key)
            state.args[key] = value

    def _layer_dirs(self, layers: Iterable[CachedLayer]) -> list[Path]:
        """Unpacked dirs of a layer stack (lowest first), unpacking what is missing."""
        stack = list(layers)
        out = []
        for layer, chain in zip(stack, chain_ids([x.diff_id for x in stack]), strict=True):
            store = self.images.layers
            if not store.has(chain):
                with self.images.blobs.open(layer.digest) as blob:
                    store.unpack(chain, blob, diff_id=layer.diff_id, what=f"layer {layer.digest}")
            out.append(store.path(chain))
        return out

    def _store(self, write: Any, *, where: str) -> CachedLayer:
        """Run ``write(fileobj)`` into a temp tar, store it as a gzip blob; the temp goes."""
        with tempfile.TemporaryFile(dir=self.work) as f:
            write(f)
            f.seek(0)
            stored = store_layer(self.images.blobs, f, what=f"the layer of {where}")
        return CachedLayer(digest=stored.digest, diff_id=stored.diff_id, size=stored.size,
                           media_type=stored.media_type)

    def _workdir(self, stage: planning.Stage, state: StageState, instruction: Instruction,
                 label: str, where: str) -> None:
        path = expand(instruction.rest, state.scope(), escape=self.escape)
        if not path:
            raise InvalidArgument(f"{where}: WORKDIR needs a path")
        path = posixpath.normpath(posixpath.join(state.workdir, path))
        text = f"WORKDIR {path}"
        key = step_key(state.key, text)
        entry = self._lookup(key)
        self._announce(f"{label} {text}", where, stage, cached=entry is not None)
        if entry is None:
            view = RootView(self._layer_dirs(state.layers))
            layer = None
            if path != "/" and not view.exists(view.resolve(path)):
                target = view.resolve(path).strip("/")
                # Made as the current USER, as BuildKit does (USER app; WORKDIR /app; RUN ...).
                user = str(state.config.get("User") or "")
                owner = resolve_user(user, view) if user else Owner(uid=0, gid=0)

                def write(f: Any) -> None:
                    writer = LayerWriter(f)
                    parts = target.split("/")
                    for i in range(len(parts)):
                        sub = "/".join(parts[: i + 1])
                        if not view.exists("/" + sub):
                            writer.directory(sub, mode=0o755, uid=owner.uid, gid=owner.gid,
                                             mtime=time.time())
                    writer.close()

                layer = self._store(write, where=where)
            entry = CacheEntry(key=key, created=time.time(), layer=layer)
            self.cache.put(entry)
        state.config["WorkingDir"] = path
        self._advance(state, entry, text)

    def _source_layers(self, ref: str, stage: planning.Stage) -> tuple[list[CachedLayer], str]:
        """The layers of a ``--from`` stage (by name or index) or image, and its cache input."""
        ref = expand(ref, self.plan.global_args, escape=self.escape)
        dep = planning.stage_reference(ref, self.plan.stages, before=stage.index)
        if dep is not None:
            built = self.built[dep]
            return list(built.layers), f"stage {built.key}"
        image = self._image(ref, pull=False)
        record = self.images.records.find(image.id)
        if record is None:
            raise NotFound(f'image "{ref}" vanished from the store during the build')
        return [CachedLayer(digest=x.digest, diff_id=x.diff_id, size=x.size,
                            media_type=x.media_type) for x in record.layers], f"image {image.id}"

    def _tree(self, ref: str, source: str, stage: planning.Stage) -> tuple[Path, str]:
        """A host copy of ``source`` in stage/image ``ref`` (for RUN --mount=from=)."""
        layers, key = self._source_layers(ref, stage)
        dest = self.work / f"mount-{len(list(self.work.iterdir()))}"
        materialize(RootView(self._layer_dirs(layers)), source, dest)
        return dest, f"{key} {source}"

    def _copy(self, stage: planning.Stage, state: StageState, instruction: Instruction,
              label: str, where: str) -> None:
        scope = state.scope()
        unsupported = [k for k, _ in instruction.flags
                       if k in ("parents", "exclude", "checksum", "keep-git-dir")]
        if unsupported:
            raise InvalidArgument(f"{where}: {instruction.command} --{unsupported[0]} is not "
                                  "supported")
        words = ([expand(a, scope, escape=self.escape) for a in instruction.args]
                 if instruction.json_form else
                 expand_words(instruction.rest, scope, escape=self.escape))
        if len(words) < 2:
            raise InvalidArgument(f"{where}: {instruction.command} needs at least one source "
                                  "and a destination")
        shown_sources = tuple(words[:-1])
        # "<<EOF" / "<<-EOF" name a heredoc of this instruction.
        sources = tuple(w.lstrip("0123456789").removeprefix("<<").removeprefix("-")
                        if w.lstrip("0123456789").startswith("<<") else w for w in words[:-1])
        dest = words[-1]
        as_dir = dest.endswith(("/", "/.")) or dest == "."
        dest = posixpath.normpath(posixpath.join(state.workdir, dest))
        if as_dir and dest != "/":
            dest += "/"
        heredocs = tuple(
            (h.name, (expand_heredoc(h.content, scope, escape=self.escape) if h.expand
                      else h.content).encode())
            for h in instruction.heredocs)
        from_ref = instruction.flag("from")
        source_view: RootView | None = None
        inputs: list[str] = []
        if from_ref:
            from_ref = expand(from_ref, {**self.plan.global_args, **scope}, escape=self.escape)
            source_layers, source_key = self._source_layers(from_ref, stage)
            inputs.append(source_key)
        else:
            heredoc_names = {h[0] for h in heredocs}
            for source in sources:
                if source in heredoc_names:
                    continue
                if instruction.command == "ADD" and source.startswith(("http://", "https://",
                                                                       "git@", "git://")):
                    raise InvalidArgument(f'{where}: ADD from a URL ("{source}") is not '
                                          "supported: download it in a RUN step, or into the "
                                          "build context")
                matched = self.context.match(source)
                inputs.append(f"{source} {self.context.digest(matched)}")
            inputs += [f"heredoc {n} {c.hex()}" for n, c in heredocs]
        chown, chmod = instruction.flag("chown"), instruction.flag("chmod")
        chown = expand(chown, scope, escape=self.escape) if chown else ""
        flag_text = "".join(f"--{k}={v} " for k, v in (("from", from_ref), ("chown", chown),
                                                       ("chmod", chmod)) if v)
        text = f"{instruction.command} {flag_text}{' '.join(shown_sources)} {dest}"
        key = step_key(state.key, text, inputs)
        entry = self._lookup(key)
        self._announce(f"{label} {text}", where, stage, cached=entry is not None)
        if entry is None:
            view = RootView(self._layer_dirs(state.layers))
            if from_ref:
                source_view = RootView(self._layer_dirs(source_layers))
            spec = CopySpec(sources=sources, dest=dest,
                            owner=resolve_owner(chown, view) if chown else None,
                            mode=parse_chmod(chmod) if chmod else None,
                            add=instruction.command == "ADD", heredocs=heredocs)

            def write(f: Any) -> None:
                writer = LayerWriter(f)
                try:
                    write_copy(spec, writer=writer, view=view,
                               context=None if from_ref else self.context,
                               source_view=source_view, where=where)
                finally:
                    writer.close()

            layer = self._store(write, where=where)
            entry = CacheEntry(key=key, created=time.time(), layer=layer)
            self.cache.put(entry)
        self._advance(state, entry, text)

    # --- RUN -------------------------------------------------------------------------

    def _run(self, stage: planning.Stage, state: StageState, instruction: Instruction,
             label: str, where: str) -> None:
        if (instruction.flag("security") or "sandbox") != "sandbox":
            raise InvalidArgument(f"{where}: RUN --security={instruction.flag('security')} is "
                                  "not supported (build steps always run sandboxed)")
        network = instruction.flag("network") or self.request.network
        if network == "default":
            network = self.request.network
        if network not in NETWORKS:
            raise InvalidArgument(f'{where}: RUN --network="{network}" is not supported: use '
                                  f'{", ".join(NETWORKS)}')
        command = run_command(instruction, shell=state.shell, where=where)
        argv = command.argv
        mounts, mount_keys = run_mounts(
            instruction, workdir=state.workdir, context=self.context,
            cache_root=self.images.config.images_dir / "build" / "cache-mounts", where=where,
            tree=lambda ref, source: self._tree(ref, source, stage))
        args = {k: v for k, v in state.args.items() if v is not None}
        arg_keys = [f"ARG {k}={v}" for k, v in sorted(args.items())
                    if k not in planning.PROXY_ARGS]
        shown = (json.dumps(list(argv)) if instruction.json_form
                 else " ".join([*state.shell, instruction.rest]))
        text = f"RUN {shown}"
        key = step_key(state.key, text, [*arg_keys, *mount_keys, json.dumps(argv),
                                         json.dumps(command.scripts)])
        entry = self._lookup(key)
        self._announce(f"{label} {text}", where, stage, cached=entry is not None)
        if entry is None:
            env = {**args, **state.env}
            for proxy in planning.PROXY_ARGS:
                if proxy in self.request.build_args and proxy not in env:
                    env[proxy] = self.request.build_args[proxy]
            for path, content in command.scripts:
                script = self.work / f"script-{len(mounts)}"
                script.write_text(content)
                script.chmod(0o755)
                mounts.append(Mount(type="bind", source=str(script), target=path,
                                    read_only=True, create_host_path=False))
            step = RunStep(name=f"build-{secrets.token_hex(8)}",
                           argv=argv, env=env, user=str(state.config.get("User") or ""),
                           workdir=state.workdir, layers=tuple(self._layer_dirs(state.layers)),
                           network=network, mounts=tuple(mounts))
            tail: list[str] = []

            def output(stream: str, line: str) -> None:
                tail.append(line)
                del tail[:-OUTPUT_TAIL]
                self.report(BuildProgress(step=self.step_no, total=self.total, status="output",
                                          text=line, stage=stage.label, location=where))

            code = -1

            def write(f: Any) -> None:
                nonlocal code
                code = self.runner.run(step, output=output, layer_out=f)

            with tempfile.TemporaryFile(dir=self.work) as f:
                write(f)
                if code != 0:
                    lines = "\n".join(f"  {x}" for x in tail)
                    raise Failed(f"{where}: RUN {instruction.rest or shown} failed with exit code "
                                 f"{code}" + (f"; last output:\n{lines}" if lines else ""))
                f.seek(0)
                stored = store_layer(self.images.blobs, f, what=f"the layer of {where}")
            layer = CachedLayer(digest=stored.digest, diff_id=stored.diff_id, size=stored.size,
                                media_type=stored.media_type)
            entry = CacheEntry(key=key, created=time.time(), layer=layer)
            self.cache.put(entry)
        created_by = text if not args else f"|{len(args)} " + " ".join(
            f"{k}={v}" for k, v in sorted(args.items())) + f" {text}"
        self._advance(state, entry, created_by)

    # --- the image ------------------------------------------------------------------

    def _commit(self, state: StageState) -> ImageInfo:
        config = dict(state.config)
        if self.request.labels:
            config["Labels"] = {**(config.get("Labels") or {}), **self.request.labels}
        config = {k: v for k, v in config.items() if v not in (None, [], {})}
        doc: dict[str, Any] = {
            "created": format_time(state.created or time.time()),
            "architecture": state.architecture,
            "os": state.os,
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [x.diff_id for x in state.layers]},
            "history": state.history,
        }
        if state.variant:
            doc["variant"] = state.variant
        if state.author:
            doc["author"] = state.author
        config_bytes = json.dumps(doc, separators=(",", ":")).encode()
        config_digest = self.images.blobs.put(config_bytes)
        manifest = build_manifest(
            config=Descriptor(media_type=OCI_CONFIG, digest=config_digest,
                              size=len(config_bytes)),
            layers=[Descriptor(media_type=x.media_type, digest=x.digest, size=x.size)
                    for x in state.layers])
        name = self.tags[0] if self.tags else config_digest
        info = self.images.store_image(manifest=manifest, media_type=OCI_MANIFEST,
                                       tags=self.tags, action="build", name=name)
        self.report(BuildProgress(step=0, total=self.total, status="info",
                                  text=f"writing image {info.id}"
                                  + (f" ({', '.join(self.tags)})" if self.tags else "")))
        return info


def _prefix(stage: planning.Stage) -> str:
    return f"{stage.name} " if stage.name else ""


def _at(trigger: Instruction, origin: Instruction) -> Instruction:
    """An ONBUILD trigger reported at the FROM line that set it off."""
    return replace(trigger, line=origin.line, end_line=origin.end_line)
