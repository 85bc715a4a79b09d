"""Chat stage: screenshots of the conversation with the seller (``chat/``) take the form's free photo slots when
the reason's checklist asks for them, after the buyer's photos of the item, the video's stills and the tracking
screenshots (RULES.md: "screenshots of all conversations with the seller"; for a parcel that has not come, the
chat asking the seller to extend protection is required)."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError, LimitError
from ..media.photos import fit_photo
from ..model.case import Case
from ..model.layout import PHOTO_SUFFIXES
from ..model.manifest import Hinted
from ..model.reasons import CHAT, REASON_RULES
from ..stage import StageContext

NAME = "chat"
NEEDS = ("jpegtran",)


def wanted_screenshots(case: Case) -> list[Path]:
    """The chat screenshots that go into free photo slots: all of them when the reason's checklist asks for the
    chat, none otherwise."""
    if not any(need.kind == CHAT for need in REASON_RULES[case.dispute.reason].needs):
        return []
    return [p for p in case.media.chat if p.suffix.lower() in PHOTO_SUFFIXES]


def run(ctx: StageContext) -> None:
    profile = ctx.case.profile
    screenshots = wanted_screenshots(ctx.case)
    if not (screenshots and ctx.slots.free > 0):
        return
    if missing := ctx.tools.problem(*NEEDS):
        ctx.error(f"chat screenshots not uploaded: {missing.message}", None, NAME, int(missing.exit_code))
        return
    for i, path in enumerate(screenshots):
        if ctx.slots.free <= 0:
            ctx.warn(Hinted(f"{len(screenshots) - i} chat screenshot(s) not uploaded: the form's {profile.max_photos} "
                            "photo slots are full (the summary PDF shows every one)",
                            kind="chat_slots_full", count=len(screenshots) - i, slots=profile.max_photos), stage=NAME)
            break
        ctx.report(NAME, i, len(screenshots), f"fitting {path.name}")
        destination = ctx.upload_dir / ctx.slots.next_name(f"chat-{path.stem}")
        try:
            result = fit_photo(path, destination, max_bytes=profile.max_photo_bytes,
                               keep_metadata=ctx.options.keep_metadata)
        except (InputError, LimitError) as exc:
            ctx.error(exc.message, ctx.relative_input(path), NAME, int(exc.exit_code))
            continue
        ctx.slots.take(f"chat-{path.stem}")
        ctx.add_output(destination, "photo", source=path, upload=True, transform=result.transform(), kind="chat")
    ctx.report(NAME, 1, 1)
