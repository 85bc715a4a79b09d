"""What a build will upload, decided before it runs: the photo stage and the video stage ask this module, and
so does ``api.plan_upload`` (the web page shows it before Build), so the page and the package cannot disagree.

Only what the inputs decide is known ahead: a chosen photo that then fails to fit under the limit is replaced
by the next spare at build time (the plan lists the spares in that order).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import InputError
from ..media.photos import PhotoAnalysis, Selection, analyse_photo, select_photos
from ..model.case import Case

# Why a photo is not in a slot of its own (``PlannedPhoto.why``); the words are the page's and the manifest's.
UPLOAD, GRID, DUPLICATE, RANKED_LOWER, SKIPPED, UNREADABLE = (
    "upload", "grid", "duplicate", "ranked_lower", "skipped", "unreadable")
SLOTS_FULL = "slots_full"  # a chat screenshot the form's photo slots have no room for (the summary PDF shows it)


@dataclass(frozen=True)
class PlannedPhoto:
    path: Path
    status: str  # UPLOAD, GRID (inside the grid image), or why it is left out
    slot: int | None = None  # the form's photo slot, from 1 (the grid's members share its slot)
    twin: Path | None = None  # DUPLICATE: the photo it repeats
    message: str = ""  # UNREADABLE: the reader's words


@dataclass
class PhotoPlan:
    photos: list[PlannedPhoto] = field(default_factory=list)  # upload order, then the grid, then the rest
    selection: Selection | None = None
    unreadable: list[tuple[Path, InputError]] = field(default_factory=list)
    slots: int = 0  # slots for single photos
    use_grid: bool = False

    @property
    def spares(self) -> list[PhotoAnalysis]:
        """Candidates beyond the chosen ones, best first: they stand in if a chosen photo fails to encode."""
        if self.selection is None:
            return []
        return [a for a, _ in self.selection.left_out if a.path not in self.selection.duplicates_of]


Analyse = Callable[[Path], PhotoAnalysis]


def plan_photos(case: Case, *, grid: bool = True, analyse: Analyse = analyse_photo) -> PhotoPlan:
    """The photo stage's choice for ``case``: photos the buyer skipped are left out first, then the library's
    selection (``select_photos``) runs over the rest. ``analyse`` may be a cached ``analyse_photo``."""
    skipped = {h.file.resolve() for h in case.photo_hints if h.skip}
    plan = PhotoPlan()
    candidates = []
    for path in case.media.photos:
        if path.resolve() in skipped:
            continue
        try:
            candidates.append(analyse(path))
        except InputError as exc:
            plan.unreadable.append((path, exc))
    max_photos = case.profile.max_photos
    if candidates:
        ranks = {h.file: h.rank for h in case.photo_hints if h.rank is not None}
        distinct = len(candidates) - len(select_photos(candidates, len(candidates), ranks).duplicates_of)
        plan.use_grid = grid and distinct > max_photos
        plan.slots = max_photos - 1 if plan.use_grid else max_photos
        plan.selection = select_photos(candidates, plan.slots, ranks)
        chosen = plan.selection.chosen
        plan.photos += [PlannedPhoto(a.path, UPLOAD, i + 1) for i, a in enumerate(chosen)]
        spares = plan.spares
        if plan.use_grid:
            plan.photos += [PlannedPhoto(a.path, GRID, len(chosen) + 1) for a in spares]
        else:
            plan.photos += [PlannedPhoto(a.path, RANKED_LOWER) for a in spares]
        duplicates = plan.selection.duplicates_of
        plan.photos += [PlannedPhoto(a.path, DUPLICATE, twin=duplicates[a.path]) for a, _ in
                        plan.selection.left_out if a.path in duplicates]
    plan.photos += [PlannedPhoto(p, UNREADABLE, message=e.message) for p, e in plan.unreadable]
    plan.photos += [PlannedPhoto(p, SKIPPED) for p in case.media.photos if p.resolve() in skipped]
    return plan


@dataclass(frozen=True)
class PlannedVideo:
    path: Path
    used: bool
    why: str = ""  # "chosen" (video.file), "first" (no choice made: the first by name), "skipped", "other"


def plan_video(case: Case) -> list[PlannedVideo]:
    """Every video of the case with whether the build uploads it (the form takes one)."""
    chosen = None if case.video.skip else case.video.file or (case.media.videos[0] if case.media.videos else None)
    videos = list(case.media.videos)
    if chosen is not None and all(v.resolve() != chosen.resolve() for v in videos):
        videos.insert(0, chosen)  # video.file may name a file outside the videos/ folder
    plans = []
    for path in videos:
        used = chosen is not None and path.resolve() == chosen.resolve()
        why = ("chosen" if case.video.file else "first") if used else ("skipped" if case.video.skip else "other")
        plans.append(PlannedVideo(path, used, why))
    return plans


def chosen_video(case: Case) -> Path | None:
    """The video the build uploads, or None."""
    return next((v.path for v in plan_video(case) if v.used), None)


def plan_chat(case: Case, photos: PhotoPlan, *, look_up_tracking: bool = False) -> list[PlannedPhoto]:
    """The chat screenshots the chat stage uploads, with their slots: the free photo slots after the item
    photos, the video's stills and the first part of each tracking capture, as the stages take them in that
    order (stages/chat.py, stages/tracking.py; a tall page's later parts take slots after the chat's)."""
    from ..media.tracking import TRACKERS_FILE, case_targets, load_trackers
    from .chat import wanted_screenshots

    screenshots = wanted_screenshots(case)
    if not screenshots:
        return []
    used = max((p.slot for p in photos.photos if p.slot), default=0)
    if chosen_video(case) is not None:
        used += len(case.video.stills)
    try:
        config = load_trackers(case.root / TRACKERS_FILE, case.root / "tracking" / TRACKERS_FILE)
        used += len(case_targets(case, config, look_up_numbers=look_up_tracking)[0])
    except (InputError, OSError):
        pass  # the build reports a trackers.toml it cannot use, and captures nothing then
    free = max(0, case.profile.max_photos - used)
    return [PlannedPhoto(path, UPLOAD, used + i + 1) if i < free else PlannedPhoto(path, SLOTS_FULL)
            for i, path in enumerate(screenshots)]
