"""The player's main window: viewport, timeline, quality, RD and bitrate plots, status line.

Thin over plain-Python state: `PlaybackClock` decides the frame, `PlaybackEngine` delivers decoded
grids without blocking, `OperatingPointModel` / `AutoQuality` pick the point. This module only
wires widgets to them and runs a UI timer.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from codec.errors import FieldCastError

from .clip import FrameSource
from .engine import PlaybackEngine
from .plots import BitratePlot, RDPlot
from .quality import QualityPanel
from .state import AutoQuality, CostModel, OperatingPointModel, PlaybackClock
from .timeline import Timeline
from .viewport import Viewport
from .warmup import GofWarmer

MAX_RECENT = 8
Opener = Callable[[Path], FrameSource]


def _prepare_for_gl(grids):
    """The renderer's CPU-side frame preparation, run on the decode thread (no GL involved)."""
    from app.gl.resources import prepare_frame

    return prepare_frame(grids)


def default_opener(path: Path) -> FrameSource:
    from .fcv_source import open_fcv

    return open_fcv(path)


class PlayerWindow(QMainWindow):
    def __init__(
        self,
        opener: Opener = default_opener,
        *,
        tick_ms: int = 4,
        settings_file: str | Path | None = None,
    ) -> None:
        """``settings_file``: an INI file for recent files and layout (tests use a temporary
        one); by default the platform's place for FieldCast/player."""
        super().__init__()
        self.settings_file = settings_file
        self.setWindowTitle("FieldCast player")
        self.setAcceptDrops(True)
        self.opener = opener
        self.source: FrameSource | None = None
        self.engine: PlaybackEngine | None = None
        self.warmer: GofWarmer | None = None
        self.model: OperatingPointModel | None = None
        self.clock: PlaybackClock | None = None
        self.costs = CostModel()
        self.auto = AutoQuality()
        self.clip_serial = 0
        self.last_error: str | None = None
        self.last_warning: str | None = None
        self.error_box: QMessageBox | None = None
        self._presented: collections.deque[float] = collections.deque(maxlen=240)
        self._last_frame = -1

        self.viewport = Viewport(self)
        self.timeline = Timeline(self)
        central = QWidget(self)
        col = QVBoxLayout(central)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        col.addWidget(self.viewport, 1)
        col.addWidget(self.timeline)
        self.setCentralWidget(central)

        self.quality = QualityPanel(self)
        self.rd_plot = RDPlot(self)
        self.bitrate_plot = BitratePlot(self)
        self.docks = {
            "quality": self._dock("Quality", self.quality, Qt.DockWidgetArea.RightDockWidgetArea),
            "rd": self._dock("Rate–distortion", self.rd_plot, Qt.DockWidgetArea.RightDockWidgetArea),
            "bitrate": self._dock(
                "Bitrate per frame", self.bitrate_plot, Qt.DockWidgetArea.BottomDockWidgetArea
            ),
        }
        # The quality panel is a slider and two lines of text: never let it take the plot's room.
        self.docks["quality"].setMaximumHeight(self.quality.sizeHint().height() + 40)
        self.status_label = QLabel("no clip")
        self.statusBar().addPermanentWidget(self.status_label, 1)

        self._build_actions()
        self._connect()
        self.timer = QTimer(self)
        self.timer.setInterval(tick_ms)
        self.timer.timeout.connect(self.tick)
        self.status_timer = QTimer(self)
        self.status_timer.setInterval(250)
        self.status_timer.timeout.connect(self.update_status)
        self.restore_layout()

    # ------------------------------------------------------------------ construction
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot, shortcut: str | QKeySequence | None = None, menu=None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.triggered.connect(slot)
        self.addAction(act)
        if menu is not None:
            menu.addAction(act)
        return act

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action("&Open…", self.open_dialog, QKeySequence.StandardKey.Open, file_menu)
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addSeparator()
        self._action("&Export turntable…", self.export_dialog, "Ctrl+E", file_menu)
        self._action("Save &screenshot…", self.screenshot_dialog, "Ctrl+Shift+S", file_menu)
        file_menu.addSeparator()
        self._action("&Quit", self.close, QKeySequence.StandardKey.Quit, file_menu)

        play_menu = bar.addMenu("&Playback")
        self.act_play = self._action("Play / pause", self.toggle_play, "Space", play_menu)
        self._action("Step back", lambda: self.step(-1), "Left", play_menu)
        self._action("Step forward", lambda: self.step(1), "Right", play_menu)
        self._action("First frame", lambda: self.seek(0), "Home", play_menu)
        self._action("Last frame", self.seek_end, "End", play_menu)
        play_menu.addSeparator()
        self._action("Quality down", lambda: self.step_quality(-1), "[", play_menu)
        self._action("Quality up", lambda: self.step_quality(1), "]", play_menu)
        self.act_auto = self._action("Auto quality", self.quality.auto_box.toggle, None, play_menu)

        view_menu = bar.addMenu("&View")
        self._action("&Reset view", self.viewport.reset_view, "R", view_menu)
        self.snap_menu = view_menu.addMenu("&Snap to capture camera")
        scale_menu = view_menu.addMenu("Render &resolution")
        scale_group = QActionGroup(self)
        for text, mode in (("Adaptive (keep the fps)", "adaptive"), ("Full", 1.0), ("1/2", 0.5), ("1/4", 0.25)):
            act = scale_menu.addAction(text)
            act.setCheckable(True)
            act.setChecked(mode == self.viewport.scale_mode)
            act.triggered.connect(lambda _=False, m=mode: self.viewport.set_scale_mode(m))
            scale_group.addAction(act)
        self.act_fullscreen = self._action("&Fullscreen", self.toggle_fullscreen, "F", view_menu)
        view_menu.addSeparator()
        for dock in self.docks.values():
            view_menu.addAction(dock.toggleViewAction())
        self._rebuild_recent()

    def _connect(self) -> None:
        t = self.timeline
        t.playToggled.connect(self.toggle_play)
        t.stepRequested.connect(self.step)
        t.seekRequested.connect(self.seek)
        t.homeEndRequested.connect(lambda end: self.seek_end() if end else self.seek(0))
        t.loopChanged.connect(self._set_loop)
        t.fpsChanged.connect(self._set_fps)
        self.quality.pointSelected.connect(self._manual_select)
        self.quality.autoToggled.connect(self._set_auto)
        self.rd_plot.pointClicked.connect(self._manual_select)
        self.bitrate_plot.frameClicked.connect(self.seek)
        self.viewport.rendered.connect(self._on_rendered)
        self.viewport.glFailed.connect(lambda msg: self.show_error("OpenGL problem", msg))

    # ------------------------------------------------------------------ clips
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open clip", str(self._last_dir()), "FieldCast clips (*.fcv);;All files (*)"
        )
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path) -> bool:
        """Open ``path``; on failure show why and keep playing the current clip."""
        path = Path(path)
        try:
            if not path.is_file():
                raise FieldCastError(f"no such file: {path}")
            source = self.opener(path)
        except (FieldCastError, OSError, ValueError) as exc:
            self.show_error("Cannot open clip", f"{path.name}: {exc}")
            return False
        except Exception as exc:  # noqa: BLE001 - an unexpected reader bug must not kill the player
            self.show_error("Cannot open clip", f"{path.name}: {type(exc).__name__}: {exc}")
            return False
        self.load_source(source)
        self._remember_recent(path)
        return True

    def load_source(self, source: FrameSource, *, play: bool = True) -> None:
        self.close_clip()
        info = source.info
        self.source = source
        self.clip_serial += 1
        self.model = OperatingPointModel(info.points)
        self.clock = PlaybackClock(info.frames, info.fps, loop=self.timeline.loop_box.isChecked())
        self.auto.target_fps = info.fps
        self.viewport.target_ms = 1000.0 / max(info.fps, 1.0) * 0.8
        self.costs = CostModel()
        self.engine = PlaybackEngine(source, self.model.current, prepare=_prepare_for_gl)
        # Only a renderer that bakes each GoF's MLP into a program has something to warm; wait
        # for the first picture so the helper's start does not delay it.
        self.warmer = GofWarmer(
            len(info.gof_starts()),
            getattr(source, "gof_mlp", None),
            enabled=lambda: (
                self.viewport.painted > 0
                and self.viewport.renderer is not None
                and self.viewport.renderer.baked_weights
            ),
        )
        self.setWindowTitle(f"FieldCast player — {info.name}")
        self.timeline.set_clip(info.frames, info.fps, info.gof_starts())
        self.quality.set_model(self.model)
        self.rd_plot.set_model(self.model)
        self._show_bitrate()
        self.viewport.set_scene(info.aabb, info.background)
        self.viewport.clear_content()
        self._rebuild_snap_menu()
        self._presented.clear()
        self._last_frame = -1
        self.last_warning = None
        self.timer.start()
        self.status_timer.start()
        if play:
            self.play()

    def close_clip(self) -> None:
        if self.warmer is not None:
            self.warmer.close()
        if self.engine is not None:
            self.engine.close()
        self.warmer = None
        self.engine = self.source = self.model = self.clock = None

    # ------------------------------------------------------------------ playback
    def play(self) -> None:
        if self.clock and self.engine:
            self.clock.play()
            self.engine.set_playing(True, self.clock.fps)
            self.timeline.set_playing(True)

    def pause(self) -> None:
        if self.clock and self.engine:
            self.clock.pause()
            self.engine.set_playing(False)
            self.timeline.set_playing(False)

    def toggle_play(self) -> None:
        if self.clock is not None:
            self.pause() if self.clock.playing else self.play()

    def step(self, delta: int) -> None:
        if self.clock and self.engine:
            frame = self.clock.step(delta)
            self.engine.set_playing(False)
            self.engine.seek(frame)
            self.timeline.set_playing(False)
            self.tick()

    def seek(self, frame: int) -> None:
        if self.clock and self.engine:
            frame = self.clock.seek(frame)
            self.engine.seek(frame)
            self.tick()

    def seek_end(self) -> None:
        if self.clock is not None:
            self.seek(self.clock.frame_count - 1)

    def _set_loop(self, loop: bool) -> None:
        if self.clock is not None:
            self.clock.loop = loop

    def _set_fps(self, fps: float) -> None:
        if self.clock is not None and self.engine is not None:
            self.clock.fps = fps
            self.engine.set_playing(self.clock.playing, fps)
        self.auto.target_fps = fps
        self.viewport.target_ms = 1000.0 / max(fps, 1.0) * 0.8

    # ------------------------------------------------------------------ quality
    def select_point(self, index: int) -> None:
        if self.model is None or self.engine is None:
            return
        self.model.select(index)
        self.engine.set_target(self.model.current)
        self.quality.show_point(self.model)
        self.rd_plot.show_current()
        self._show_bitrate()
        self.tick()

    def _manual_select(self, index: int) -> None:
        self.quality.auto_box.setChecked(False)  # a manual choice ends auto mode
        self.select_point(index)

    def step_quality(self, delta: int) -> None:
        if self.model is not None:
            self._manual_select(self.model.index + delta)

    def _set_auto(self, enabled: bool) -> None:
        self.auto.enabled = enabled
        self.act_auto.setText("Auto quality ✓" if enabled else "Auto quality")

    def _apply_auto(self) -> None:
        if not (self.auto.enabled and self.model and self.engine):
            return
        index = self.auto.choose(self.model, self.costs)
        if index != self.model.index:
            self.model.select(index)
            self.engine.set_target(self.model.current)
            self.quality.show_point(self.model)
            self.rd_plot.show_current()
            self._show_bitrate()

    def _show_bitrate(self) -> None:
        if self.source is None or self.model is None:
            return
        info = self.source.info
        self.bitrate_plot.set_bytes(
            info.frame_bytes.get(self.model.current.key), info.frames, info.gof_starts()
        )

    # ------------------------------------------------------------------ the UI tick
    def tick(self) -> None:
        """Show the clock's frame if it is decoded; never waits for the decoder."""
        if self.clock is None or self.engine is None:
            return
        frame = self.clock.frame()
        if frame != self._last_frame:
            self.timeline.set_frame(frame)
            self.bitrate_plot.set_playhead(frame)
            self._last_frame = frame
            if not self.clock.playing:
                self.timeline.set_playing(False)
                self.engine.set_playing(False)
        if self.warmer is not None and self.source is not None:
            self.warmer.enter(self.source.info.gof_of(frame))
        shown = self.engine.frame_for(frame)
        if shown is not None:
            key = (self.clip_serial, shown.frame, shown.point.track, shown.level)
            if key != self.viewport.shown_key and shown.grids is not None:
                self.viewport.show_grids(shown.payload, key)
                self.clock.mark_shown(frame)
                self._presented.append(time.perf_counter())
        self._drain_events()

    def _drain_events(self) -> None:
        assert self.engine is not None
        while not self.engine.events.empty():
            ev = self.engine.events.get()
            if ev.kind == "decoded" and ev.point is not None:
                self.costs.add_decode(ev.point, ev.ms)
            elif ev.kind == "switched":
                self.statusBar().showMessage(
                    f"now playing {ev.point.label()} (caught up in {ev.catchup_s * 1000:.0f} ms)", 4000
                )
            elif ev.kind in ("warning", "error"):
                self.last_warning = ev.message
                self.statusBar().showMessage(f"warning: {ev.message}", 15000)

    def _on_rendered(self, ms: float) -> None:
        if self.engine is not None:
            key = self.viewport.shown_key
            if isinstance(key, tuple):
                self.costs.add_render(key[3], ms)

    def playback_fps(self) -> float:
        now = time.perf_counter()
        recent = [t for t in self._presented if now - t <= 2.0]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    def status_text(self) -> str:
        if self.engine is None or self.model is None:
            return "no clip"
        shown = self.engine.displayed
        parts = [
            f"{self.playback_fps():5.1f} fps",
            f"decode {self.engine.decode_ms:5.1f} ms",
            f"render {self.viewport.render_ms:5.1f} ms"
            + (f" @{self.viewport.render_scale():.2f}" if self.viewport.render_scale() < 1 else ""),
            f"{shown.kb_per_frame:.1f} KB/frame",
            f"track {shown.track} level {shown.level}",
        ]
        if self.clock is not None and self.clock.dropped:
            parts.append(f"dropped {self.clock.dropped}")
        if self.engine.last_catchup_s is not None:
            parts.append(f"catch-up {self.engine.last_catchup_s * 1000:.0f} ms")
        return " · ".join(parts)

    def update_status(self) -> None:
        self._apply_auto()
        self.status_label.setText(self.status_text())
        if self.engine is not None and self.engine.switching:
            t = self.engine.target
            self.quality.show_pending(f"catching up to track {t.track} level {t.level}…")
        else:
            self.quality.show_pending("")

    # ------------------------------------------------------------------ views, dialogs
    def toggle_fullscreen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def _rebuild_snap_menu(self) -> None:
        self.snap_menu.clear()
        cams = self.source.info.cameras if self.source else []
        group = QActionGroup(self)
        for i, cam in enumerate(cams):
            name = getattr(cam, "name", "") or f"camera {i}"
            act = self.snap_menu.addAction(f"{i}: {name}")
            act.triggered.connect(lambda _=False, c=cam: self.viewport.snap_to(c))
            group.addAction(act)
        self.snap_menu.setEnabled(bool(cams))

    def screenshot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "fieldcast.png", "PNG (*.png)")
        if path:
            self.save_screenshot(Path(path))

    def save_screenshot(self, path: Path) -> bool:
        """Write the viewport's framebuffer (what the renderer drew, no widgets) to ``path``."""
        if not self.viewport.screenshot().save(str(path)):
            self.show_error("Cannot save screenshot", f"could not write {path}")
            return False
        self.statusBar().showMessage(f"saved {path}", 4000)
        return True

    def export_dialog(self) -> None:
        if self.source is None or self.source.info.path is None:
            self.show_error("Nothing to export", "open a clip first")
            return
        from .export_dialog import ExportDialog

        dlg = ExportDialog(self.source.info, self.model, self)
        dlg.finished_export.connect(
            lambda ok, msg: self.statusBar().showMessage(
                f"exported {msg}" if ok else f"export: {msg}", 8000
            )
        )
        self.export_dlg = dlg
        dlg.open()

    def show_error(self, title: str, message: str) -> QMessageBox:
        """A non-blocking error dialog: playback continues behind it."""
        self.last_error = message
        box = QMessageBox(QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.NonModal)
        self.error_box = box
        box.show()
        return box

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()
            self.open_path(Path(urls[0].toLocalFile()))

    # ------------------------------------------------------------------ settings
    def settings(self) -> QSettings:
        if self.settings_file is not None:
            return QSettings(str(self.settings_file), QSettings.Format.IniFormat)
        return QSettings("FieldCast", "player")

    def recent_files(self) -> list[str]:
        value = self.settings().value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember_recent(self, path: Path) -> None:
        path_s = str(path.resolve())
        recent = [p for p in self.recent_files() if p != path_s]
        recent.insert(0, path_s)
        s = self.settings()
        s.setValue("recent", recent[:MAX_RECENT])
        s.setValue("last_dir", str(path.resolve().parent))
        s.sync()
        self._rebuild_recent()

    def _last_dir(self) -> Path:
        return Path(str(self.settings().value("last_dir", str(Path.cwd()))))

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        for p in recent:
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _=False, path=p: self.open_path(Path(path)))
        self.recent_menu.setEnabled(bool(recent))

    def save_layout(self) -> None:
        s = self.settings()
        s.setValue("geometry", self.saveGeometry())
        s.setValue("state", self.saveState())
        s.sync()

    def restore_layout(self) -> bool:
        s = self.settings()
        geometry, state = s.value("geometry"), s.value("state")
        if geometry is None:
            self.resize(1200, 800)
            # Most of the window for the picture; the quality panel only as tall as it needs.
            self.resizeDocks(
                [self.docks["quality"], self.docks["rd"]], [110, 400], Qt.Orientation.Vertical
            )
            self.resizeDocks([self.docks["rd"]], [360], Qt.Orientation.Horizontal)
            self.resizeDocks([self.docks["bitrate"]], [150], Qt.Orientation.Vertical)
            return False
        self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        return True

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.save_layout()
        self.timer.stop()
        self.status_timer.stop()
        self.close_clip()
        self.viewport.release_gl()
        super().closeEvent(event)
