"""Sends in steps: the machinery every send block shares (Send to ControlNet, Send to Regional Prompter).

A send delivers N (target, image) pairs. An image lands only where the page shows its target, and the target's own
listeners need it settled before its settings change, so a send runs in steps:

1. ``start`` (the block's own): the full-resolution images, kept in the session until the last step (or until
   they expire: an interrupted send does not keep them), and a plan for the page script.
2. For each pair, in order: the page script shows the target (``daz_depthmap_send.js``: tabs, accordions, the
   unit, img2img's "Upload independent control image") and Python delivers the image; then the script waits until
   the target shows that image, settled, ticks its Enable, and Python sets its settings.
3. After the last pair: ``finish`` (the block's own: the generation size, the prompt) and one status line saying
   what went where.

A block knows targets only through :class:`~daz_depthmap.webui.targets.Target`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np

from ...session.store import Session
from ...tab import compat
from ...tab.contract import TabHandles
from ..targets import Target, Updates

log = logging.getLogger(__name__)

#: A send's images are dropped this long after it started, finished or not.
PENDING_SECONDS = 120.0


@dataclass(frozen=True)
class Pair:
    """One delivery: which image of the send goes to which target, and the target's settings."""

    target: Target
    image: str  # a key of PendingSend.images: "depth", "mask", "regions"
    settings: Any = None


@dataclass
class PendingSend:
    """A send between its steps, kept in the session (and counted in its memory) until its last step."""

    send_id: str
    name: str
    width: int
    height: int
    bits: int
    tab: str
    pairs: list[Pair]
    images: dict[str, np.ndarray]
    done: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # what the block's finish needs (a prompt skeleton)

    @property
    def nbytes(self) -> int:
        return sum(int(image.nbytes) for image in self.images.values())


def new_send_id() -> str:
    return secrets.token_hex(8)


def markdown_plain(text: str) -> str:
    """``text`` shown as it is in a Markdown status line (markup characters escaped)."""
    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", text)


def _page_step(name: str, **indexes: int) -> str:
    """The client function of a step: the page script's, or the inputs unchanged when the script is missing."""
    call = f"window.dazDepthmap.send.{name}(args, {json.dumps(indexes)})"
    return f"(...args) => (window.dazDepthmap && window.dazDepthmap.send ? {call} : args)"


def _for_slot(handler: Callable[..., Updates], slot: int) -> Callable[..., Updates]:
    """``handler`` with its first argument, the pair's slot, bound (a plain function: gradio reads its signature)."""

    def step(*args: Any) -> Updates:
        return handler(slot, *args)

    step.__name__ = f"{handler.__name__}_{slot}"
    return step


def report_problem(report: str) -> str | None:
    """What went wrong on the page, from the script's report; ``None`` when its step went well."""
    if not report:
        return (
            "the page script that shows the target did not run (javascript/daz_depthmap_send.js). "
            "Reload the page and send again"
        )
    try:
        parsed = json.loads(report)
    except ValueError:
        return f"the page script sent an unreadable report ({report[:80]!r})"
    if isinstance(parsed, dict) and parsed.get("ok") is True:
        return None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return str(error or "the page could not show the target")


def bits_and_size(
    pending: PendingSend, generation: Any, size_controls: Sequence[Any], follow_size: bool, sizes: Sequence[float]
) -> Updates:
    """The notes every image send shares (a 16-bit map goes as 8-bit) and, with ``follow_size``, the generation's
    width/height fitted to the map (``generation``: the WebUI's controls, ``sizes`` the values of ``size_controls``)."""
    if pending.bits == 16:
        pending.notes.append("the 16-bit map went as 8-bit (ControlNet takes 8-bit images)")
    if not follow_size:
        return {}
    values = dict(zip(size_controls, sizes, strict=True))
    fitted, note = generation.fit(pending.tab, pending.width, pending.height, values)
    if note:
        pending.notes.append(note)
    return dict(fitted)


class StepSend(ABC):
    """A send block built inside the tab's Blocks: an accordion with the block's controls, a send button, a status
    line, and the step chain for up to ``max_pairs`` pairs (each pair is two steps, built once)."""

    #: the accordion's title
    title: str = "Send"

    def __init__(self, handles: TabHandles, elem_id: str, max_pairs: int, open_: bool = True) -> None:
        self.handles = handles
        self.max_pairs = max_pairs
        self.elem_id = elem_id
        self.send: Any = None
        with gr.Accordion(self.title, open=open_, elem_id=elem_id):
            if self.notice():
                gr.Markdown(self.notice(), elem_id=f"{elem_id}_found")
            problem = self.problem()
            if problem:
                self.message = gr.Markdown(problem, elem_id=f"{elem_id}_missing")
                return
            self.build_controls(elem_id)
            # The page script's part: the plan it follows and its report (hidden).
            self.plan = gr.Textbox("", visible=False, elem_id=f"{elem_id}_plan")
            self.report = gr.Textbox("", visible=False, elem_id=f"{elem_id}_report")
            for control in (self.plan, self.report, *self.remembered()):
                control.do_not_save_to_config = True  # the page and the settings give their starting values
            self._wire()

    # ----------------------------------------------------------------------------------------------------------
    # What a block says

    @abstractmethod
    def problem(self) -> str | None:
        """Why this block cannot send (the extension missing, an unknown version); ``None`` when it can."""

    @abstractmethod
    def build_controls(self, p: str) -> None:
        """The block's controls, ``self.send`` (the button) and ``self.status`` (a Markdown line)."""

    def notice(self) -> str:
        """A line shown first in the block, whether it can send or not (which WebUI and ControlNet were found)."""
        return ""

    def remembered(self) -> list[Any]:
        """The block's controls (none is saved to the WebUI's ui-config.json)."""
        return []

    @abstractmethod
    def all_targets(self) -> list[Target]:
        """Every target a send of this block may deliver to (their components are wired as outputs)."""

    @abstractmethod
    def start_inputs(self) -> list[Any]:
        """The components :meth:`start` reads after the session token."""

    @abstractmethod
    def start(self, session: Session, *values: Any) -> PendingSend | str:
        """Step 1: the send's images and pairs, or a message saying why nothing is sent."""

    def finish_inputs(self) -> list[Any]:
        """The components :meth:`configure_pair` and :meth:`finish` read (after the plan and report)."""
        return []

    def finish_outputs(self) -> list[Any]:
        """Components :meth:`finish` may update besides the targets'."""
        return []

    def pair_settings(self, pair: Pair, *values: Any) -> Any:
        """The settings :meth:`Target.configure` gets for ``pair`` (the block's controls may change them)."""
        return pair.settings

    @abstractmethod
    def finish(self, pending: PendingSend, *values: Any) -> tuple[Updates, str]:
        """After the last pair: further updates and the status line."""

    # ----------------------------------------------------------------------------------------------------------
    # The chain

    def _wire(self) -> None:
        session = self.handles.session
        outputs = list(dict.fromkeys(c for t in self.all_targets() for c in t.outputs()))
        steps = [session, self.plan, self.report, self.status]
        chain = self.send.click(self._guarded(self.prepare), inputs=[session, *self.start_inputs()], outputs=steps)
        extra = list(dict.fromkeys(self.finish_outputs()))
        for slot in range(self.max_pairs):
            chain = chain.then(
                self._guarded(_for_slot(self.deliver, slot)),
                inputs=[session, self.plan, self.report],
                outputs=[*outputs, *steps],
                **compat.js_passing(_page_step("reveal", plan=1, report=2, slot=slot), states=[0]),
            ).then(
                self._guarded(_for_slot(self.configure, slot)),
                inputs=[session, self.plan, self.report, *self.finish_inputs()],
                outputs=[*outputs, *extra, *steps],
                **compat.js_passing(_page_step("settle", plan=1, report=2, slot=slot), states=[0]),
            )

    def _guarded(self, handler: Callable[..., Updates]) -> Callable[..., Updates]:
        """``handler``, with any failure ending the send with a message instead of gradio's error."""

        @functools.wraps(handler)
        def run(*args: Any) -> Updates:
            try:
                return handler(*args)
            except Exception as exc:
                log.exception("daz_depthmap: a send failed")
                problem = markdown_plain(f"{type(exc).__name__}: {exc}")
                return {self.plan: "", self.status: f"Nothing sent: unexpected error ({problem})."}

        return run

    def _session(self, token: Any) -> Session:
        return self.handles.sessions.open(token).session

    def prepare(self, token: Any, *values: Any) -> Updates:
        """Step 1: the block's :meth:`start`, kept in the session, and the plan the page script follows."""
        session = self._session(token)
        cleared = {self.handles.session: session.token, self.plan: "", self.report: ""}
        started = self.start(session, *values)
        if isinstance(started, str):
            return {**cleared, self.status: started}
        pending = started
        with session.lock:
            session.pending = pending
            session.pending_until = self.handles.sessions.clock() + PENDING_SECONDS
        steps = []
        for pair in pending.pairs:
            image = pending.images[pair.image]
            steps.append({**pair.target.reveal().as_json(), "size": [int(image.shape[1]), int(image.shape[0])]})
        plan = {"id": pending.send_id, "steps": steps}
        first = pending.pairs[-1].target.where
        return {**cleared, self.plan: json.dumps(plan), self.status: f"Sending `{pending.name}` to {first}…"}

    def _pending(self, session: Session, plan: str) -> PendingSend | None:
        try:
            send_id = json.loads(plan).get("id") if plan else None
        except ValueError:
            return None
        pending = session.pending
        return pending if isinstance(pending, PendingSend) and pending.send_id == send_id else None

    def _stop(self, session: Session, message: str) -> Updates:
        with session.lock:
            session.pending = None
        return {self.handles.session: session.token, self.plan: "", self.status: message}

    def deliver(self, slot: int, token: Any, plan: str, report: str) -> Updates:
        """Step 2a of pair ``slot`` (after the page showed its target): the image."""
        session = self._session(token)
        pending = self._pending(session, plan)
        if pending is None or slot >= len(pending.pairs):
            return {self.status: compat.update()}  # nothing (more) to send; an earlier step said why
        failure = report_problem(report)
        if failure:
            return self._stop(session, f"Nothing more sent: {markdown_plain(failure)}.")
        pair = pending.pairs[slot]
        updates = pair.target.deliver(pending.images[pair.image])
        return {**updates, self.status: f"Sending `{pending.name}` to {pair.target.where}…"}

    def configure(self, slot: int, token: Any, plan: str, report: str, *values: Any) -> Updates:
        """Step 2b of pair ``slot`` (after its image settled): the target's settings; after the last pair, the
        block's :meth:`finish` and the status line."""
        session = self._session(token)
        pending = self._pending(session, plan)
        if pending is None or slot >= len(pending.pairs):
            return {self.status: compat.update()}
        pair = pending.pairs[slot]
        failure = report_problem(report)
        if failure:
            return self._stop(
                session,
                f"Sent `{pending.name}` to {pair.target.where}, but {markdown_plain(failure)}: its settings were not "
                "set. Check the target before generating, or send again.",
            )
        configured = pair.target.configure(self.pair_settings(pair, *values))
        updates = dict(configured.updates)
        self.configured(pending, pair, configured.done, configured.notes)
        if slot < len(pending.pairs) - 1:
            return {**updates, self.status: compat.update()}
        more, message = self.finish(pending, *values)
        return {**updates, **more, **self._stop(session, message)}

    def configured(self, pending: PendingSend, pair: Pair, done: list[str], notes: list[str]) -> None:
        """Keep what configuring ``pair`` did, for the status line."""
        pending.done.extend(done)
        pending.notes.extend(notes)
